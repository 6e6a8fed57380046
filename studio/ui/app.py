"""The web studio: builds the Gradio app from one module per tab and launches it.

Tab contract (for every tab module, including evaluate_tab, export_tab and classify_tab):

    # studio/ui/<name>_tab.py
    TITLE = "Evaluate"            # optional: the tab's title
    def build(ctx: StudioContext) -> dict | None:
        ...create components inside the tab that is already open, wire their events...

``build`` runs inside ``with gr.Tab(TITLE, id=<name>)`` and inside the app's ``gr.Blocks``. ``ctx`` carries:

- ``ctx.store``          the app's one ``RunStore`` (list, info, events, folder, submit, stop, resume)
- ``ctx.runs_dir``       its folder; ``ctx.data_dir`` a folder for uploaded and fixed data files
- ``ctx.chats``          ``ChatCache``: ``ctx.chats.get(run_id=...)`` -> loaded ``ChatModels`` (kept per app)
- ``ctx.classifiers``    ``ClassifierCache``: ``.get(run_dir)`` -> a classification run's loaded models (kept per app)
- ``ctx.infos``          ``ModelInfoCache``: ``.get(source)`` -> ``studio.models.describe`` dict, ``.tokenizer(source)``
- shared per-browser-session state (``gr.State``; use as inputs/outputs, or listen to ``.change``):
  ``ctx.model_source`` (str), ``ctx.model_info`` (describe dict), ``ctx.data`` (dict: path, name, format, columns,
  records, task, avg_tokens), ``ctx.run_id`` (str: the run followed by Train and picked by Chat), ``ctx.max_length`` (int: the Train tab's
  data.max_length)
- ``ctx.tabs`` the ``gr.Tabs`` (return ``gr.Tabs(selected="chat")`` to switch), ``ctx.tabs_by_id[id]`` each
  ``gr.Tab`` (for ``.select`` events: refresh a list when the tab is opened)
- ``ctx.on_load``        append ``(fn, inputs, outputs)`` to run when a page opens
- ``ctx.run_choices(try_tab=None, with_model=False)`` -> ``[(label, run_id)]`` for dropdowns (``try_tab="chat"``:
  runs whose task is tried in the Chat tab; tabs ask the task, ``studio.tasks.get(name)``, never test its name)
- ``ctx.owner(request)`` -> the logged-in user's name or ""

Handlers must show errors as messages (``studio.ui.common.explain(err)``), never raise tracebacks, and
name their events with ``api_name=`` so tests can call them. No torch imports in studio/ui; no
module-level mutable state (everything per app lives on ``ctx``, per user in ``gr.State``).
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from studio import settings
from studio.runs import RunStore
from studio.ui import chat_tab, data_tab, help as texts, model_tab, runs_tab, train_tab
from studio.ui.caches import ChatCache, ClassifierCache, ModelInfoCache
from studio.ui.common import error_md
from studio.ui.presets import DEFAULT_PRESET, preset_values

log = logging.getLogger("studio.ui")

# Tabs written as their own modules; included when present. (module, default title, tab id)
OPTIONAL_TABS = (
    ("studio.ui.classify_tab", "Classify", "classify"),
    ("studio.ui.evaluate_tab", "Evaluate", "evaluate"),
    ("studio.ui.export_tab", "Export", "export"),
)

CSS = """
.gradio-container { max-width: 1280px !important; }
#train-estimate, #model-estimate { font-size: 0.95em; }
.studio-tokens { font-family: ui-monospace, monospace; font-size: 0.9em; line-height: 1.7; white-space: pre-wrap; }
"""


@dataclass
class StudioContext:
    store: RunStore
    runs_dir: Path
    data_dir: Path
    chats: ChatCache
    infos: ModelInfoCache
    classifiers: ClassifierCache | None = None
    model_source: gr.State | None = None
    model_info: gr.State | None = None
    data: gr.State | None = None
    run_id: gr.State | None = None
    max_length: gr.State | None = None
    tabs: gr.Tabs | None = None
    tabs_by_id: dict = field(default_factory=dict)
    on_load: list = field(default_factory=list)
    parts: dict = field(default_factory=dict)  # what each tab's build returned, by tab id (tests look here)

    def run_choices(self, try_tab: str | None = None, with_model: bool = False) -> list[tuple[str, str]]:
        return runs_tab.run_choices(self.store, try_tab=try_tab, with_model=with_model)

    @staticmethod
    def owner(request: gr.Request | None) -> str:
        return (getattr(request, "username", None) or "") if request is not None else ""


def build_app(runs_dir: str | Path = "runs", uploads_dir: str | Path | None = None, notice: str = "") -> gr.Blocks:
    """The whole studio as a ``gr.Blocks``; one RunStore for everything it shows. ``notice``: a line under the
    header (e.g. the hardware note on a Space)."""
    runs_dir = Path(runs_dir).resolve()
    store = RunStore(runs_dir)
    data_dir = Path(uploads_dir).resolve() if uploads_dir else runs_dir / "_data"
    ctx = StudioContext(store=store, runs_dir=runs_dir, data_dir=data_dir, chats=ChatCache(store), infos=ModelInfoCache(),
                         classifiers=ClassifierCache())
    with gr.Blocks(title="Fine-tuning studio") as demo:
        gr.Markdown(texts.HEADER)
        if notice:
            gr.Markdown(notice, elem_id="studio-notice")
        ctx.model_source = gr.State("smollm2")
        ctx.model_info = gr.State({})
        ctx.data = gr.State({})
        ctx.run_id = gr.State("")
        ctx.max_length = gr.State(preset_values(DEFAULT_PRESET)["data.max_length"])
        with gr.Tabs() as tabs:
            ctx.tabs = tabs
            core = [("Model", "model", model_tab), ("Data", "data", data_tab), ("Train", "train", train_tab),
                    ("Chat", "chat", chat_tab)]
            for title, tab_id, module in core:
                with gr.Tab(title, id=tab_id) as tab:
                    ctx.tabs_by_id[tab_id] = tab
                    ctx.parts[tab_id] = module.build(ctx)
            _link_method(ctx)
            for module_name, title, tab_id in OPTIONAL_TABS:
                _optional_tab(ctx, module_name, title, tab_id)
            with gr.Tab("Runs", id="runs") as tab:
                ctx.tabs_by_id["runs"] = tab
                ctx.parts["runs"] = runs_tab.build(ctx)
        for fn, inputs, outputs in ctx.on_load:
            demo.load(fn, inputs, outputs, api_visibility="private", show_progress="hidden")
    demo.studio = ctx  # for tests and embedding
    return demo


def _link_method(ctx: StudioContext) -> None:
    """The method chosen on the Model tab and on the Train tab is one choice (user edits only: no loops)."""
    a, b = ctx.parts["model"]["method"], ctx.parts["train"]["widgets"]["method"]
    a.input(lambda v: v, a, b, api_visibility="private", show_progress="hidden")
    b.input(lambda v: v, b, a, api_visibility="private", show_progress="hidden")


def _optional_tab(ctx: StudioContext, module_name: str, title: str, tab_id: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        if err.name == module_name:  # not written (yet): no tab
            return
        module, problem = None, err
    except Exception as err:  # noqa: BLE001 - one broken tab must not take the studio down
        module, problem = None, err
    with gr.Tab(getattr(module, "TITLE", title), id=tab_id) as tab:
        ctx.tabs_by_id[tab_id] = tab
        if module is None:
            log.error("the %s tab could not be loaded: %s", title, problem)
            gr.Markdown(error_md(f"the {title} tab could not be loaded: {problem}", "see the server log"))
            return
        try:
            ctx.parts[tab_id] = module.build(ctx)
        except Exception as err:  # noqa: BLE001
            log.exception("the %s tab failed to build", title)
            gr.Markdown(error_md(f"the {title} tab failed to build: {err}", "see the server log"))


def launch(host: str | None = None, port: int | None = None, runs_dir: str | Path | None = None, **kwargs):
    """Serve the studio (blocks until stopped). Address and folders: ``studio.settings`` (STUDIO_HOST or
    GRADIO_SERVER_NAME, STUDIO_PORT or GRADIO_SERVER_PORT, GRADIO_ROOT_PATH, STUDIO_DATA, STUDIO_RUNS)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cfg = settings.apply_env(settings.resolve(host, port, runs_dir))
    _quiet()
    notice = settings.hardware_notice(cfg, _gpu_name()) if cfg.on_space else ""
    demo = build_app(cfg.runs_dir, uploads_dir=cfg.uploads_dir, notice=notice)
    try:  # load the engine's libraries once before serving, and have the default model's facts ready
        demo.studio.infos.get("smollm2")
        demo.studio.infos.tokenizer("smollm2")
    except Exception as err:  # noqa: BLE001 - the Model tab will show the problem
        log.warning("the embedded model is not ready: %s", err)
    demo.queue(default_concurrency_limit=4)
    print(f"studio: runs in {cfg.runs_dir}; open {cfg.url}", flush=True)
    kwargs.setdefault("root_path", cfg.root_path or None)
    return demo.launch(server_name=cfg.host, server_port=cfg.port, css=CSS, theme=gr.themes.Soft(), footer_links=["api"],
                       show_error=False, **kwargs)


def _gpu_name() -> str | None:
    from studio.estimate import detect_device

    device = detect_device()
    return device.name if device.kind == "cuda" else None


def _quiet() -> None:
    """Once, at start-up (never from a request): library warnings and progress output off."""
    import warnings

    warnings.filterwarnings("ignore")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
