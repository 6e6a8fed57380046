"""Per-app caches (made in ``build_app``, never at module level): loaded chat models, model facts and the chart
data of watched runs (a try panel keeps its own on the context: ``ctx.panel_cache``). Every cache is bounded: its
keys come from what users type or pick."""

from __future__ import annotations

import threading
from collections import OrderedDict


class ChatCache:
    """Loaded ``ChatModels`` per run (or per base model), the most recent few kept, so switching back is fast."""

    def __init__(self, size: int = 2):
        self.size = size
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, runs, run_id: str | None = None, base_source: str | None = None):
        """ChatModels for a run (base and tuned), or for a base model alone when no run is given. ``runs``: the
        store as the person asking sees it (``ctx.runs(request)``), so nobody loads another person's run."""
        from studio.core.generate import ChatModels

        if run_id:  # a resumed run saves a new model: its folder's time is part of the key
            run_dir = runs.folder(run_id).path
            model_dir = runs.folder(run_id).model_dir
            stamp = model_dir.stat().st_mtime_ns if model_dir.exists() else 0
            key = f"run:{run_id}:{stamp}"
        else:
            key = f"base:{base_source}"
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            load_lock = self._loading.setdefault(key, threading.Lock())
        with load_lock:  # two tabs asking for the same run load it once
            with self._lock:
                if key in self._items:
                    return self._items[key]
            if run_id:
                chat = _for_run(run_dir, ChatModels)
            else:
                chat = _for_base(runs.check_model(base_source), ChatModels)
            with self._lock:
                self._items[key] = chat
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._loading.pop(key, None)
            return chat

    def drop(self, run_id: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k.startswith(f"run:{run_id}:")]:
                del self._items[key]

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)


def _for_run(run_dir, default):
    """A run's chat models: its task's own (a vision run answers about images), else ``default.for_run``."""
    from studio import tasks
    from studio.core.config import StudioConfig
    from studio.core.runfolder import RunFolder

    folder = RunFolder(run_dir)
    task = tasks.find(StudioConfig.load(folder.config_file).task) if folder.config_file.exists() else None
    maker = getattr(task, "chat_models", None)
    return maker(run_dir) if maker is not None else default.for_run(run_dir)


def _for_base(source: str, default):
    """A base model's chat models: those of the task the model is meant for (a vision model answers about images),
    else ``default(source)``."""
    from studio import tasks
    from studio.core import models
    from studio.core.errors import StudioError

    try:
        info = models.describe(source)
    except (StudioError, OSError, ValueError):
        info = None  # loading it as a text model says what is wrong
    maker = getattr(tasks.for_model(info), "base_chat_models", None) if info else None
    return maker(source) if maker is not None else default(source)


class ModelInfoCache:
    """``studio.core.models.describe`` results and tokenizers per model source (config and tokenizer only, no weights),
    the most recently used ``size`` and ``tokenizers`` of each kept."""

    def __init__(self, size: int = 64, tokenizers: int = 8):
        self._items: OrderedDict[str, dict] = OrderedDict()
        self._tokenizers: OrderedDict[str, object] = OrderedDict()
        self._sizes = {id(self._items): size, id(self._tokenizers): tokenizers}
        self._lock = threading.Lock()
        self._load = threading.Lock()  # one load at a time: no duplicate work, no concurrent first imports

    def _cached(self, table: OrderedDict, source: str):
        with self._lock:
            if source in table:
                table.move_to_end(source)
                return table[source]
        return None

    def _keep(self, table: OrderedDict, source: str, value) -> None:
        with self._lock:
            table[source] = value
            table.move_to_end(source)
            while len(table) > self._sizes[id(table)]:
                table.popitem(last=False)

    def tokenizer(self, source: str):
        """The model's tokenizer (for data checks and the trained-token preview)."""
        from studio.core import models

        source = (source or "").strip()
        found = self._cached(self._tokenizers, source)
        if found is not None:
            return found
        with self._load:
            found = self._cached(self._tokenizers, source)
            if found is not None:
                return found
            tok = models.load_tokenizer(source)
            self._keep(self._tokenizers, source, tok)
        return tok

    def get(self, source: str) -> dict:
        from studio.core import models

        source = (source or "").strip()
        found = self._cached(self._items, source)
        if found is not None:
            return found
        with self._load:
            found = self._cached(self._items, source)
            if found is not None:
                return found
            info = models.describe(source)
            self._keep(self._items, source, info)
        return info


class RunWatch:
    """What every page watching a run needs, read once and shared: the run's events, read incrementally (only
    the bytes added since the last look), and its chart as Gradio plot data, built once per new event. Twenty
    pages polling one run cost one read of the new lines and one chart per step, not twenty."""

    def __init__(self, size: int = 32):
        self.size = size
        self._items: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, folder) -> dict:
        key = str(folder.path)
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                entry = {"offset": 0, "events": [], "figure": None, "figure_n": -1, "lock": threading.Lock()}
                self._items[key] = entry
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            self._items.move_to_end(key)
            return entry

    def events(self, folder) -> list[dict]:
        """All the run's events so far (a run that is resumed or restarted appends; a rewritten file is re-read)."""
        entry = self._entry(folder)
        with entry["lock"]:
            try:
                size = folder.events_file.stat().st_size
            except OSError:
                size = 0
            if size < entry["offset"]:  # the file was replaced: start again
                entry.update(offset=0, events=[], figure=None, figure_n=-1)
            if size > entry["offset"]:
                new, entry["offset"] = folder.read_events_from(entry["offset"])
                entry["events"] = entry["events"] + new
            return entry["events"]

    def figure(self, folder, events: list[dict]):
        """The training chart for these events as Gradio plot data, rebuilt only when there are new events."""
        from gradio.components.plot import PlotData

        from studio.ui.charts import training_figure

        entry = self._entry(folder)
        with entry["lock"]:
            if entry["figure_n"] != len(events) or entry["figure"] is None:
                entry["figure"] = PlotData(type="plotly", plot=training_figure(events).to_json())
                entry["figure_n"] = len(events)
            return entry["figure"]
