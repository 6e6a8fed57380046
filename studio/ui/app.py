"""The web studio: builds the Gradio app from one module per tab and launches it.

Tab contract (for every tab module, including evaluate_tab, export_tab and the tasks' try panels):

    # studio/ui/<name>_tab.py
    TITLE = "Evaluate"            # optional: the tab's title
    def build(ctx: StudioContext) -> dict | None:
        ...create components inside the tab that is already open, wire their events...

``build`` runs inside ``with gr.Tab(TITLE, id=<name>)`` and inside the app's ``gr.Blocks``. ``ctx`` carries:

- ``ctx.runs(request)``  the run store as the person asking sees it (``studio.server.user_runs.UserRuns``: list, info,
                         events, folder, submit, stop, resume, delete, data_dir, check_path, check_model). Every
                         handler that takes a run id, a file or a model goes through it (add ``request: gr.Request``
                         to the handler): another person's runs read as "no such run". Never use ``ctx.store``
                         in a tab; it is the app's one ``RunStore``, for app.py and the Admin tab only.
- ``ctx.files``          ``FileBook``: who each file in Gradio's cache belongs to; check a file path a client sent
                         with ``studio.ui.served.check_file(ctx, runs, path)``; hand out a run's files as links
                         (``served.links_html``), never as ``gr.File`` outputs (served per person, from the run folder)
- session state is bound to the person who opened the page (``studio.ui.sessions``): handlers need no check of
  their own for it
- ``ctx.access``         sign-in mode, ``identity(request)`` (account id, name, admin), the operator's ``policy``
- ``ctx.runs_dir``       the runs folder; ``ctx.cluster`` the operator's Ray cluster address ("" without one)
- ``ctx.chats``          ``ChatCache``: ``ctx.chats.get(runs, run_id=...)`` -> loaded ``ChatModels`` (kept per app)
- ``ctx.panel_cache(key, factory)``  a per-app object a try panel keeps (its loaded models), made once by ``factory()``
- ``ctx.infos``          ``ModelInfoCache``: ``.get(source)`` -> ``studio.core.models.describe`` dict, ``.tokenizer(source)``
- shared per-browser-session state (``gr.State``; use as inputs/outputs, or listen to ``.change``):
  ``ctx.model_source`` (str), ``ctx.model_info`` (describe dict), ``ctx.data`` (dict: path, name, format, columns,
  records, task, avg_tokens), ``ctx.run_id`` (str: the run followed by Train and picked by Chat), ``ctx.max_length`` (int: the Train tab's
  data.max_length)
- ``ctx.tabs`` the ``gr.Tabs`` (return ``gr.Tabs(selected="chat")`` to switch), ``ctx.tabs_by_id[id]`` each
  ``gr.Tab`` (for ``.select`` events: refresh a list when the tab is opened)
- ``ctx.on_load``        append ``(fn, inputs, outputs)`` to run when a page opens
- ``ctx.run_choices(panel=None, with_model=False, chats=False)`` -> ``[(label, run_id)]`` for dropdowns (``panel=__name__`` in a
  try panel: the runs whose task names that panel; ``chats``: runs whose task answers chat messages; tabs ask the
  task, ``studio.tasks.get(name)``, never test its name)

The tabs after Train are the try panels the installed tasks name (``Task.try_panel``, in registry order, each once:
Chat, then Classify; ``studio.ui.panels``), then Evaluate, Export and Runs.
- ``ctx.watch``          ``RunWatch``: a run's events read incrementally and its chart built once per new event,
                         shared by every page that watches it

Handlers must show errors as messages (``studio.ui.common.explain(err)``), never raise tracebacks, and
name their events with ``api_name=`` so tests can call them. No torch imports in studio/ui; no
module-level mutable state (everything per app lives on ``ctx``, per user in ``gr.State``).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from studio.server import settings
from studio.core.quiet import quiet
from studio.server.runs import RunStore
from studio.ui import admin_tab, data_tab, help as texts, model_tab, runs_tab, train_tab
from studio.ui.access import Access
from studio.ui import panels
from studio.ui.caches import ChatCache, ModelInfoCache, RunWatch
from studio.ui.common import error_md
from studio.ui.presets import DEFAULT_PRESET, preset_values
from studio.ui.served import FileBook
from studio.ui.sessions import StudioBlocks

log = logging.getLogger("studio.ui")

# Tabs written as their own modules; included when present. (module, default title, tab id)
OPTIONAL_TABS = (
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
    chats: ChatCache
    infos: ModelInfoCache
    access: Access = field(default_factory=Access)
    watch: RunWatch | None = None
    host: str = "127.0.0.1"
    cluster: str = ""  # the operator's Ray cluster address (STUDIO_RAY_ADDRESS); "": none
    model_source: gr.State | None = None
    model_info: gr.State | None = None
    data: gr.State | None = None
    run_id: gr.State | None = None
    max_length: gr.State | None = None
    tabs: gr.Tabs | None = None
    tabs_by_id: dict = field(default_factory=dict)
    files: FileBook = field(default_factory=FileBook)
    on_load: list = field(default_factory=list)
    sweeps: dict = field(default_factory=dict)  # owner -> the thread of their sweep started from the page
    parts: dict = field(default_factory=dict)  # what each tab's build returned, by tab id (tests look here)
    serving: object = None  # studio.ui.serving.Serving: the OpenAI-compatible API under /v1 (the Export tab's Serve)
    panel_caches: dict = field(default_factory=dict)  # what each try panel keeps per app (its loaded models), by key
    _panel_lock: threading.Lock = field(default_factory=threading.Lock)

    def panel_cache(self, key: str, factory):
        """The object a try panel keeps for this app under ``key`` (made once, by ``factory()``)."""
        with self._panel_lock:
            if key not in self.panel_caches:
                self.panel_caches[key] = factory()
            return self.panel_caches[key]

    def runs(self, request: gr.Request | None):
        """The run store as the person behind ``request`` sees it (raises StudioError when sign-in is missing)."""
        return self.access.runs(self.store, request)

    def run_choices(self, request: gr.Request | None, panel: str | None = None,
                    with_model: bool = False, chats: bool = False) -> list[tuple[str, str]]:
        """Runs for a dropdown, this person's only; none before sign-in."""
        try:
            runs = self.runs(request)
        except Exception:  # noqa: BLE001 - not signed in yet: nothing to pick
            return []
        return runs_tab.run_choices(runs, panel=panel, with_model=with_model, chats=chats)


def build_app(runs_dir: str | Path = "runs", access: Access | None = None, store: RunStore | None = None,
              host: str = "127.0.0.1", notice: str = "") -> gr.Blocks:
    """The whole studio as a ``gr.Blocks``; one RunStore for everything it shows. ``access``: sign-in and limits
    (default: from STUDIO_USERS, STUDIO_POLICY and a Space's settings). ``notice``: a line under the header
    (the hardware note on a Space)."""
    runs_dir = Path(runs_dir).resolve()
    access = access or Access.from_env()
    store = store or RunStore(runs_dir, policy=access.policy)
    ctx = StudioContext(store=store, runs_dir=runs_dir, chats=ChatCache(), infos=ModelInfoCache(), access=access,
                         watch=RunWatch(), host=host,
                         cluster=store.ray_address)
    from studio.ui.serving import Serving

    ctx.serving = Serving(access, runs_dir, host, store=store)
    # Shared servers: uploads in Gradio's cache are deleted after an hour (downloads come from the run folders).
    with StudioBlocks(title="Fine-tuning studio", delete_cache=(1800, 3600) if access.shared else None) as demo:
        gr.Markdown(texts.HEADER)
        if notice:
            gr.Markdown(notice, elem_id="studio-notice")
        admin_tab.banner(ctx)
        ctx.model_source = gr.State(str(access.policy.locked.get("model.source", "smollm2")))
        ctx.model_info = gr.State({})
        ctx.data = gr.State({})
        ctx.run_id = gr.State("")
        ctx.max_length = gr.State(preset_values(DEFAULT_PRESET)["data.max_length"])
        with gr.Tabs() as tabs:
            ctx.tabs = tabs
            core = [("Model", "model", model_tab), ("Data", "data", data_tab), ("Train", "train", train_tab)]
            for title, tab_id, module in core:
                with gr.Tab(title, id=tab_id) as tab:
                    ctx.tabs_by_id[tab_id] = tab
                    ctx.parts[tab_id] = module.build(ctx)
            _link_method(ctx)
            for name in panels.names():  # where runs are tried, as their tasks say (Chat, Classify, ...)
                _optional_tab(ctx, name, name.rsplit(".", 1)[-1], None)
            for module_name, title, tab_id in OPTIONAL_TABS:
                _optional_tab(ctx, module_name, title, tab_id)
            with gr.Tab("Runs", id="runs") as tab:
                ctx.tabs_by_id["runs"] = tab
                ctx.parts["runs"] = runs_tab.build(ctx)
            if access.shared:
                with gr.Tab("Admin", id="admin", visible=False) as tab:
                    ctx.tabs_by_id["admin"] = tab
                    ctx.parts["admin"] = admin_tab.build(ctx)
        for fn, inputs, outputs in ctx.on_load:
            demo.load(fn, inputs, outputs, api_visibility="private", show_progress="hidden")
    demo.studio = ctx  # for tests and embedding
    return demo


def _link_method(ctx: StudioContext) -> None:
    """The method chosen on the Model tab and on the Train tab is one choice (user edits only: no loops)."""
    a, b = ctx.parts["model"]["method"], ctx.parts["train"]["widgets"]["method"]
    a.input(lambda v: v, a, b, api_visibility="private", show_progress="hidden")
    b.input(lambda v: v, b, a, api_visibility="private", show_progress="hidden")


def _optional_tab(ctx: StudioContext, module_name: str, title: str, tab_id: str | None) -> None:
    """A tab from a module (``tab_id`` None: the module's ``TAB_ID``); a module that fails shows its error instead."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        if err.name == module_name:  # not written (yet): no tab
            return
        module, problem = None, err
    except Exception as err:  # noqa: BLE001 - one broken tab must not take the studio down
        module, problem = None, err
    tab_id = tab_id or getattr(module, "TAB_ID", None) or module_name.replace(".", "-")
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
    """Serve the studio (blocks until stopped). Address and folders from ``studio.server.settings`` (STUDIO_HOST or
    GRADIO_SERVER_NAME, STUDIO_PORT or GRADIO_SERVER_PORT, GRADIO_ROOT_PATH, STUDIO_DATA, STUDIO_RUNS); sign-in and
    limits from STUDIO_USERS, STUDIO_POLICY and a Space's settings (``studio.ui.access``)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cfg = settings.apply_env(settings.resolve(host, port, runs_dir))
    host, port, runs_dir = cfg.host, cfg.port, cfg.runs_dir
    quiet(log_warnings=True)
    access = Access.from_env()
    notice = settings.hardware_notice(cfg, _gpu_name()) if cfg.on_space else ""
    demo = build_app(runs_dir, access=access, host=host, notice=notice)
    try:  # load the engine's libraries once before serving, and have the default model's facts ready
        demo.studio.infos.get("smollm2")
        demo.studio.infos.tokenizer("smollm2")
    except Exception as err:  # noqa: BLE001 - the Model tab will show the problem
        log.warning("the embedded model is not ready: %s", err)
    demo.queue(default_concurrency_limit=4)
    print(f"studio: runs in {runs_dir}; open {cfg.url}", flush=True)
    if access.shared:
        print(f"studio: sign-in on ({'the users file ' + str(access.users.path) if access.users else 'Hugging Face'})"
              + (f"; limits from {access.policy.source}" if access.policy.source else ""), flush=True)
    elif host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(admin_tab.OPEN_WARNING)
    options = dict(server_name=host, server_port=port, css=CSS, theme=gr.themes.Soft(), footer_links=["api"],
                   show_error=False, root_path=cfg.root_path or None)
    options.update(access.launch_options(texts.SIGN_IN))  # sign-in from the users file, limited and checked per request
    options["max_file_size"] = access.policy.upload_bytes(access.shared)  # 100 MB by default on a shared studio
    options.update(kwargs)
    return demo.launch(**options)


def _gpu_name() -> str | None:
    from studio.core.estimate import detect_device

    device = detect_device()
    return device.name if device.kind == "cuda" else None
