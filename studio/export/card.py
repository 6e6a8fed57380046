"""The model card (README.md) of an export: what the model is, how it was made, how well it does."""

from __future__ import annotations

from pathlib import Path

from studio import tasks
from studio.core.config import StudioConfig
from studio.export.facts import base_hub_id, load_snippet, model_kind, replay_command
from studio.core.runfolder import RunFolder


def model_card(folder: RunFolder | str | Path, config: StudioConfig | None = None, kind: str | None = None) -> str:
    """The README.md of an export: what the model is, how it was made, how well it does."""
    from studio.engine.evaluate import load_saved, metrics_table, training_summary
    from studio.engine.overfit import check_run

    folder = folder if isinstance(folder, RunFolder) else RunFolder(folder)
    config = config or StudioConfig.load(folder.config_file)
    kind = kind or model_kind(folder)
    task = tasks.get(config.task)
    hub_id = base_hub_id(config.model.source)
    name = folder.path.name
    training = training_summary(folder)
    lines = ["---"]
    if hub_id:
        lines.append(f"base_model: {hub_id}")
    lines.append(f"library_name: {'peft' if kind == 'adapter' else 'transformers'}")
    lines.append(f"pipeline_tag: {task.pipeline_tag}")
    tags = ["fine-tuned", config.method]
    lines.append("tags:\n" + "\n".join(f"- {t}" for t in tags))
    lines += ["---", "", f"# {name}", ""]
    base_desc = f"`{config.model.source}`" + (f" ([{hub_id}](https://huggingface.co/{hub_id}))" if hub_id else "")
    what = {"adapter": "a LoRA adapter for", "merged": "a LoRA fine-tune (merged into full weights) of",
            "full": "a fully fine-tuned version of"}[kind]
    if config.method == "qlora" and kind != "full":
        what = what.replace("LoRA", "QLoRA")
    lines += [f"This is {what} {base_desc}, trained for {task.purpose} with the fine-tuning studio.", ""]
    from studio.core.models import EMBEDDED, embedded_name

    if hub_id and embedded_name(config.model.source) and EMBEDDED[embedded_name(config.model.source)].get("gguf"):
        lines += [f"The studio trained on its embedded copy of this model (the {EMBEDDED[embedded_name(config.model.source)]['gguf']} "
                  "build, dequantized); " + ("the adapter points at the original Hub weights, which are very close to it."
                                             if kind == "adapter" else "the weights here include that base."), ""]
    if kind == "merged" and config.method == "qlora":
        lines += ["The adapter was trained on a 4-bit copy of the base and merged into its full-precision "
                  "weights; replies can differ slightly from the 4-bit model used in training.", ""]

    lines += ["## How to use", "", "```python", load_snippet(kind, task.name, "PATH_OR_REPO_ID"), "```", ""]

    lines += ["## Training data", ""]
    lines += [f"- Training file: `{Path(config.data.train).name}`" + (f" (format: {training['format']})" if training.get("format") else "")]
    if config.data.eval:
        lines.append(f"- Evaluation file: `{Path(config.data.eval).name}`")
    else:
        lines.append(f"- Evaluation: {config.data.eval_fraction:.0%} of the training file held out (seed {config.train.seed})")
    if training.get("train_examples") is not None:
        lines.append(f"- Examples: {training['train_examples']} for training, {training.get('eval_examples', 0)} for evaluation")
    lines += task.card_data_lines(config)
    lines += _health_lines(config, task)
    lines.append("")

    lines += ["## Training procedure", "", "| Setting | Value |", "|---|---|"]
    for key, value in _hyperparameters(config, training).items():
        lines.append(f"| {key} | {value} |")
    lines.append("")

    lines += ["## Results", ""]
    if training.get("train_loss") is not None or training.get("eval_loss") is not None:
        lines += ["| From training | Value |", "|---|---|"]
        for label, key in (("State", "state"), ("Steps", "step"), ("Final training loss (mean)", "train_loss"),
                           ("Last logged training loss", "last_train_loss"), ("Eval loss (last)", "eval_loss"),
                           ("Perplexity (last)", "perplexity"), ("Best eval loss", "best_eval_loss"),
                           ("Best eval step", "best_eval_step"), ("Runtime (s)", "runtime")):
            if key == "perplexity" and "perplexity" not in task.metrics:
                continue
            if training.get(key) is not None:
                lines.append(f"| {label} | {_fmt(training[key])} |")
        for key, value in training.items():
            if key.startswith("eval_") and key not in ("eval_loss", "eval_examples"):
                lines.append(f"| {key[5:].replace('_', ' ').capitalize()} (last eval) | {_fmt(value)} |")
        lines.append("")
    evaluation = load_saved(folder.path)
    if evaluation:
        lines += [f"Held-out evaluation on {evaluation.get('n_examples', '?')} examples "
                  f"({evaluation.get('data', 'held-out data')}), base model against this model:", ""]
        seen = evaluation.get("seen_in_training")
        if seen:
            lines += [f"**Note:** {seen} of these {evaluation.get('n_examples', '?')} examples are also in the training "
                      "data, so they are not truly held out and the tuned scores look better than the model is.", ""]
        evaluated_at = (evaluation.get("training") or {}).get("step")
        if evaluated_at is not None and training.get("step") is not None and evaluated_at != training["step"]:
            lines += [f"**Note:** this evaluation was made at step {evaluated_at}; the model here was trained to step "
                      f"{training['step']} (run `python -m studio eval RUN_DIR` again for current numbers).", ""]
        lines += ["| Metric | Base | Tuned | Change |", "|---|---|---|---|"]
        for metric, b, t, change, verdict in metrics_table(evaluation):
            lines.append(f"| {metric} | {_fmt(b)} | {_fmt(t)} | {_fmt(change, signed=True)} {verdict} |")
        lines.append("")
        lines += task.card_examples(evaluation)
    else:
        lines += ["No held-out evaluation was run before export (`python -m studio eval RUN_DIR` adds one).", ""]
    warning = check_run(folder.path)
    if warning:
        lines += [f"**Warning: {warning['kind']}.** {warning['message']}. Try: " + "; ".join(warning["hints"]) + ".", ""]

    lines += ["## Intended use and limitations", ""]
    lines.append(task.card_limitations())
    lines += ["", "## Reproduce", "",
              "`config.yaml` in this folder is the run's resolved configuration (data paths point at the machine "
              "it was trained on). Train the same run again with:", "",
              "```sh", replay_command(config, folder.path), "```", ""]
    return "\n".join(lines)


def _hyperparameters(config: StudioConfig, training: dict) -> dict:
    t, lo = config.train, config.lora
    hp = {"Method": config.method, "Task": config.task}
    if config.method in ("lora", "qlora"):
        hp.update({"LoRA rank / alpha / dropout": f"{lo.r} / {lo.alpha} / {lo.dropout}",
                   "LoRA target modules": ", ".join(lo.target_modules or ["all-linear"])})
    hp.update({
        "Learning rate": t.learning_rate,
        "Schedule / warmup share": f"{t.scheduler} / {t.warmup_ratio}",
        "Epochs / max steps": f"{t.epochs} / {t.max_steps}",
        "Batch size x gradient accumulation": f"{t.batch_size} x {t.grad_accum}",
        "Weight decay": t.weight_decay,
        "Gradient clipping": t.max_grad_norm,
        "Precision": training.get("precision") or t.precision,
        "Device": training.get("device", "?"),
        "Seed": t.seed,
    })
    if training.get("trainable_parameters") and training.get("parameters"):
        share = training["trainable_parameters"] / training["parameters"]
        hp["Trainable parameters"] = f"{training['trainable_parameters']:,} of {training['parameters']:,} ({share:.2%})"
    return hp


def _health_lines(config: StudioConfig, task) -> list[str]:
    """A few lines from the data health checks, when that module is available."""
    try:
        from studio.data import load_dataset
        from studio.data.health import check_dataset

        from studio.core import models
    except ImportError:
        return []
    try:
        fmt, cols = config.data.format, config.data.columns or None
        ds = load_dataset(config.resolve_path(config.data.train), format=fmt, columns=cols)
        ev = load_dataset(config.resolve_path(config.data.eval), format=fmt, columns=cols) if config.data.eval else None
        tok = models.load_tokenizer(config.model.source, config.model.trust_remote_code) if task.template_lengths else None
        report = check_dataset(ds, ev, tok, config.data.max_length)
        data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    except Exception:  # noqa: BLE001 - the card is still useful without the health section
        return []
    return ["", "Data health checks:", ""] + [f"- {line}" for line in _health_summary(data)]


def _health_summary(data: dict) -> list[str]:
    """Readable one-liners from a health report: its findings, or that there were none."""
    out = []
    if data.get("records") is not None:  # the same sum as the CLI and the Data tab: malformed + usable = records
        out.append(f"{data['records']} records in the file: {data.get('usable', data.get('rows'))} usable, "
                   f"{data.get('malformed') or 0} could not be read")
    items = data.get("findings")
    if items is None:
        items = data.get("checks") or data.get("issues") or []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            level = item.get("severity") or item.get("level") or ""
            text = item.get("message") or item.get("summary") or item.get("check") or ""
            if text:
                out.append(f"{level}: {text}" if level else str(text))
        elif item:
            out.append(str(item))
    if len(out) == (1 if data.get("records") is not None else 0):
        rows = f" in {data['rows']} records" if data.get("rows") is not None else ""
        out.append(f"no problems found{rows} (duplicates, leakage into the eval set, length, labels)")
    if isinstance(data.get("labels"), dict) and data["labels"]:
        out.append("labels: " + ", ".join(f"{k} ({v})" for k, v in data["labels"].items()))
    return out[:12]


def _fmt(value, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:+.4g}" if signed else f"{value:.4g}"
        return text
    if isinstance(value, int) and signed:
        return f"{value:+d}"
    return str(value)
