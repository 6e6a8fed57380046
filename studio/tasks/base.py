"""The task contract: what a task is, and everything the studio asks of one.

A task is *what* a run teaches a model (chat, classification, ...). Each lives in its own package,
``studio/tasks/<name>/``, that exposes ``TASK``, an instance of a ``Task`` subclass; the registry
(``studio.tasks``) finds the packages, and the trainer, the CLI, evaluation, export and the UI tabs look
tasks up there by the name in a run's ``config.yaml`` (``task: chat``). Code outside ``studio/tasks/`` asks the
task for what it needs instead of testing its name. A task also says how the page shows it: the panel a finished
run is tried in, its headline figure, its extra chart panels and its own settings section; the tabs ask the
registry for those and never test a task's name or a tab's name.

    studio/tasks/<name>/
      __init__.py     TASK = MyTask()  (the class below, filled in; keep imports of torch inside functions)
      setup.py        data preparation and loss masks, the model (``studio.core.loading``), metrics
      evaluate.py     base vs tuned on held-out data
      export.py       merged model, loading snippet, model-card text
      views.py        what the Evaluate tab, the CLI and the card show of a result, and the Runs tab's section of a
                      run (plain data: no gradio)
      settings.py     the task's own config section (a dataclass of ``studio.core.config.knob`` fields), if any
      panel.py        the task's try panel, if it has one of its own (Gradio only; the one module of a task that
                      may import ``studio.ui``; loaded by the page alone, by the dotted name in ``try_panel``)

Attributes (class-level facts; all have defaults but ``name``)
    name              the config value (``task: name``); also the folder name
    title, help       shown in the Train tab's task choice and in ``--help``
    data_formats      formats from ``studio.data`` this task trains on (the Data tab picks the task from them)
    default_model     the embedded model the presets pick for this task ("": none fits; they keep the chosen model)
    try_panel         the module of the page's panel a finished run is tried in, by its dotted name (never imported
                      by the task): ``CHAT_PANEL`` (the Chat tab: base and tuned side by side), or a module of the
                      task's own such as "studio.tasks.classification.panel". The contract of a panel module is in
                      ``studio/ui/panels.py``; tasks naming the same panel share its tab.
    chats             True when the tuned model answers chat messages (the Chat tab, ``studio chat``, ``studio serve``)
    perplexity        True when the eval loss is a language model's cross-entropy, so its perplexity means something
                      (False for DPO and KTO, whose losses are not); the trainer adds it to eval events
    headline_metric   the figure the run view puts next to an evaluation's loss while training (an eval event's
                      key without its ``eval_`` prefix); ``headline_percent``: it is a share, shown in percent
    chart_panels      ``ChartPanel``s the live chart adds below the loss, one row each, from numbers the task logs
    settings          the task's own config section: a dataclass of ``knob`` fields (None: no settings); the page's
                      Train tab shows it when this task is chosen; ``settings_section`` names it in the config
                      (default: the task's name; tasks may share a section, as preference and feedback share
                      ``preference``). ``MOVED_FROM`` on the class names old keys that are still read.
    metrics           evaluation metric names in display order, each mapped to True when higher is better
    metric_labels     how the page and the CLI name this task's metrics (``metric_label`` adds the loss and
                      perplexity every task may report)
    pipeline_tag      the Hub pipeline tag on the model card
    purpose           "trained for <purpose>" on the model card
    vocab_logits      True when the model outputs a distribution over the vocabulary (memory estimate)
    model_files       files saved next to the model that an export carries along (e.g. "labels.json")
    preview_note      what the Data tab's preview says of a record when ``trained_pieces`` marks no tokens (the record's
                      text and label are shown under it)
    template_lengths  True when the data health report counts lengths in the model's tokens, as rendered
                      with its chat template (the truncation check); False counts the raw text
    gguf_ok           True when the tuned model generates text, so a GGUF export for llama.cpp, Ollama and
                      LM Studio makes sense (``studio.export.gguf``); False refuses it

Methods (``config`` is a ``StudioConfig``, ``hw`` a ``studio.core.hardware.Hardware``)
    check_config(config, cuda) -> None         raise StudioError for settings this task cannot train with
    load_splits(config) -> (train, eval, info) the run's training and held-out records (``studio.core.splits``);
                                               a task with data of its own kind (images) reads it here
    setup(config, hw, train, evals) -> TaskSetup   everything the trainer needs (``studio.core.setup``)
    evaluate(folder, config, data, limit, max_new_tokens, report, models) -> dict
                                               ``{"base": {...}, "tuned": {...}, "examples": [...], ...}``; the
                                               caller adds the change, the overfitting check and the summary
    merged_model(folder, config) -> (model, tokenizer, base_config)   the adapter merged into its base
    load_snippet(kind, path) -> str            Python that loads an export ("adapter" | "merged" | "full")
    check_prompts(config, limit) -> list[list[dict]]   held-out prompts (chat messages) that a GGUF export is
                                               checked with; [] when the run has none
    system_prompt(config) -> str | None        the system message the run's training data used, if one
    card_data_lines(config) -> list[str]       task lines in the card's "Training data" section
    card_limitations() -> str                  the card's "Intended use and limitations" text
    card_examples(result) -> list[str]         markdown lines of example predictions for the card
    check_options                              ``(flag, argparse keywords)`` pairs the task adds to ``studio check``
                                               (the vision task's ``--images``); its ``check_file`` reads them
    check_file(args, format_report) -> int | None   ``python -m studio check FILE``: a report of the task's own for a
                                               file of its data kind (conversations with images), printed, and the
                                               exit code; None leaves the file to the common report
    refuse_eval_format(fmt) -> str | None      why held-out data of format ``fmt`` cannot score this task
    trained_pieces(tokenizer, record, max_length, train_on_prompt) -> [(text, learned)] | None
                                               a record as training encodes it, marking what is learned from
                                               (the Data tab's preview); None when no text is generated
    data_reader(path, fmt, media) -> reader | None   a reader of its own for this file when the studio's intake
                                               cannot read it (data with images: a zip, records with media, or
                                               ``fmt`` the task's own format); the Data tab reads, checks and
                                               previews with it (``read``, ``check``, ``text``, ``thumbnails``,
                                               ``pieces``: see ``studio.tasks.vision.pagedata``)
    suits_model(info) -> bool                  a model described by ``studio.core.models.describe`` is meant for it
    model_advice(config, info) -> list[str]    settings that run but will disappoint with this model
    eval_headline(result) -> str | None        the one-line verdict the Evaluate tab leads with
    metric_label(name) -> str                  a metric's name for people
    progress_note(eval_event) -> str           what the run view adds to a logged evaluation's loss while training
    eval_notes(result) -> list[str]            caveats about an evaluation result (CLI and UI)
    example_table(result) -> (headers, rows)   the Evaluate tab's table of held-out examples
    example_lines(result) -> list[str]         the same for the terminal
    run_section(events) -> RunSection | None   a section of the task's own in the Runs tab's view of one of its runs,
                                               from the run's events (grpo: the latest sampled replies and their
                                               rewards); None: none. Plain text in a ``RunSection``: the page lays
                                               it out and escapes it, and redraws it as the run view refreshes
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.errors import StudioError

COMMON_METRIC_LABELS = {"eval_loss": "Eval loss", "perplexity": "Perplexity"}
CHAT_PANEL = "studio.ui.chat_tab"  # the page's Chat tab: the base and the tuned model side by side


@dataclass(frozen=True)
class ChartPanel:
    """A row of the live chart below the loss: ``metrics`` on the left axis and ``shares`` (0 to 1, drawn in
    percent) on the right, each a number the task logs (``TaskSetup.log_metrics`` event names); their ``eval_``
    versions are drawn dotted."""
    title: str
    metrics: tuple[str, ...] = ()
    shares: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSection:
    """What a task adds to the Runs tab's view of one of its runs (``Task.run_section``): a heading, a line under it
    and a table (``headers``, ``rows`` of plain values; no rows: the line alone). Plain text: the page escapes it."""
    title: str
    note: str = ""
    headers: tuple[str, ...] = ()
    rows: tuple = ()


class Task:
    name: str = ""
    title: str = ""
    help: str = ""
    data_formats: tuple[str, ...] = ()
    default_model: str = "smollm2"
    try_panel: str = CHAT_PANEL
    chats: bool = True
    perplexity: bool = True
    headline_metric: str = "perplexity"
    headline_percent: bool = False
    chart_panels: tuple[ChartPanel, ...] = ()
    check_options: tuple[tuple[str, dict], ...] = ()
    settings: type | None = None
    settings_section: str = ""
    metrics: dict[str, bool] = {}
    metric_labels: dict[str, str] = {}
    pipeline_tag: str = "text-generation"
    purpose: str = ""
    vocab_logits: bool = True
    model_files: tuple[str, ...] = ()
    template_lengths: bool = True
    preview_note: str = "This task marks no learned tokens in a preview; the record as it is read:"
    gguf_ok: bool = False

    # ---- training ---------------------------------------------------------------------------------
    def check_config(self, config, cuda: bool) -> None:
        """Raise StudioError for settings this task cannot train with (the generic checks ran already)."""

    def load_splits(self, config) -> tuple[list, list, dict]:
        from studio.core.splits import load_splits

        return load_splits(config)

    def setup(self, config, hw, train_records: list, eval_records: list):
        raise NotImplementedError

    # ---- evaluation -------------------------------------------------------------------------------
    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models=None) -> dict:
        raise StudioError(f"evaluating {self.name} runs is not available")

    def refuse_eval_format(self, fmt: str) -> str | None:
        return None

    def check_file(self, args, format_report) -> int | None:
        """``python -m studio check``: a report of this task's own for ``args.file`` (printed; the exit code), or
        None when the common data report reads it."""
        return None

    def trained_pieces(self, tokenizer, record: dict, max_length: int, train_on_prompt: bool = False):
        return None

    def data_reader(self, path: str, fmt: str = "auto", media: bool = False):
        return None

    # ---- export and model card --------------------------------------------------------------------
    def merged_model(self, folder, config):
        raise StudioError(f"merging is not available for {self.name} runs")

    def load_snippet(self, kind: str, path: str) -> str:
        return ""

    def check_prompts(self, config, limit: int) -> list[list[dict]]:
        return []

    def system_prompt(self, config) -> str | None:
        return None

    def card_data_lines(self, config) -> list[str]:
        return [f"- Max length: {config.data.max_length} tokens"]

    def card_limitations(self) -> str:
        return ("It keeps the base model's limitations and knows only what its training data showed; check it on "
                "your own held-out examples before relying on it.")

    def card_examples(self, result: dict) -> list[str]:
        return self._view("card_examples", result, [])

    # ---- models -----------------------------------------------------------------------------------
    def suits_model(self, info: dict) -> bool:
        return True

    def model_advice(self, config, info: dict) -> list[str]:
        return []

    # ---- what is shown of a result ----------------------------------------------------------------
    # A task with a ``views`` module (plain data, see above) gets these from it: define ``eval_headline``,
    # ``eval_notes``, ``example_table``, ``example_lines``, ``card_examples`` or ``run_section`` there; whatever it lacks
    # stays empty.
    views = None

    def metric_label(self, name: str) -> str:
        return self.metric_labels.get(name) or COMMON_METRIC_LABELS.get(name) or name

    def progress_note(self, eval_event: dict) -> str:
        """The figure the run view puts next to an evaluation's loss while training (``headline_metric``)."""
        key = self.headline_metric
        value = eval_event.get(f"eval_{key}", eval_event.get(key))
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return ""
        label = key.replace("_", " ")
        if self.headline_percent:
            return f"{label} {100 * value:.0f}%"
        return f"{label} {value:.1f}" if value else ""

    # ---- settings ---------------------------------------------------------------------------------
    @property
    def section(self) -> str:
        """The name of this task's config section ("" without settings)."""
        return (self.settings_section or self.name) if self.settings is not None else ""

    def _view(self, name: str, result: dict, empty):
        fn = getattr(self.views, name, None) if self.views is not None else None
        return fn(result) if fn is not None else empty

    def eval_headline(self, result: dict) -> str | None:
        return self._view("eval_headline", result, None)

    def eval_notes(self, result: dict) -> list[str]:
        return self._view("eval_notes", result, [])

    def example_table(self, result: dict) -> tuple[list[str], list[list]]:
        return self._view("example_table", result, ([], []))

    def example_lines(self, result: dict) -> list[str]:
        return self._view("example_lines", result, [])

    def run_section(self, events: list[dict]) -> RunSection | None:
        """A section of this task's own in the Runs tab's view of one of its runs (None: none)."""
        return self._view("run_section", events, None)

    def __repr__(self) -> str:
        return f"<task {self.name}>"
