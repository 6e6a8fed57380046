"""The fine-tuning studio in the browser: ``python app.py`` (also the Hugging Face Space entry point).

Environment (studio/server/settings.py): STUDIO_HOST or GRADIO_SERVER_NAME (default 127.0.0.1; 0.0.0.0 on a Space),
STUDIO_PORT or GRADIO_SERVER_PORT (default 7860), GRADIO_ROOT_PATH (behind a proxy), STUDIO_DATA (one folder
for runs, uploads and caches), STUDIO_RUNS (the runs folder, default ./runs). The same app: ``python -m studio ui``.

The app is built in ``studio/ui/app.py`` from one module per tab (studio/ui/*_tab.py). A tab module has
``build(ctx)`` (optionally ``TITLE``), called inside its ``gr.Tab``; ``ctx`` is a ``StudioContext`` with the
RunStore (``ctx.store``), per-app caches (``ctx.chats`` loaded chat models, ``ctx.infos`` model facts and
tokenizers), the shared per-session states ``ctx.model_source``, ``ctx.model_info``, ``ctx.data`` and
``ctx.run_id``, the tabs (``ctx.tabs``, ``ctx.tabs_by_id``), ``ctx.on_load`` and helpers. After Train come the
try panels the tasks name (Chat, Classify; studio/ui/panels.py), then Evaluate and Export (included when their
modules exist) and Runs. The full contract is at the top of studio/ui/app.py.
"""

import os
import sys

from studio.core.errors import StudioError

if __name__ == "__main__":
    from studio.server.settings import apply_env

    try:
        apply_env()  # STUDIO_DATA's caches and HF_HOME, before gradio and huggingface_hub read them
    except StudioError as err:
        sys.exit(f"error: {err}")

from studio.ui.app import build_app, launch  # noqa: E402,F401  (build_app: for embedding and tests)

if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    launch()
