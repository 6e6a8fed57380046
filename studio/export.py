"""Export a trained run: the adapter, or a merged full model, with a model card and the replay recipe.

    export_run(run_dir, out_dir, merge=False, make_zip=False)

writes ``out_dir`` in Hugging Face layout:
- LoRA run, no merge: the adapter (PEFT format: ``adapter_config.json``, ``adapter_model.safetensors``)
  and the tokenizer; loads with ``peft.AutoPeftModelForCausalLM.from_pretrained(out_dir)``.
- LoRA run, ``merge=True``: the adapter merged into the base weights, saved as a full model
  (safetensors + tokenizer); loads with ``transformers.AutoModelForCausalLM.from_pretrained(out_dir)``.
- full fine-tune: the trained model, copied.
- classification runs the same way, as a sequence-classification model that
  ``pipeline("text-classification", model=out_dir)`` loads.
Every export also holds ``README.md`` (a model card: base model, data and its health checks, method,
hyperparameters, results, intended use), the run's resolved ``config.yaml`` and ``replay.sh`` with the
command that trains the same run again. ``make_zip`` also writes ``out_dir.zip``.

``push_to_hub`` uploads an export folder with a token that is passed in and never stored.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Callable

from studio.config import StudioConfig
from studio.errors import StudioError
from studio.runfolder import RunFolder

Progress = Callable[[float, str], None]

# Where the embedded models come from on the Hugging Face Hub (for the model card's metadata).
HUB_IDS = {
    "smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
}
REPLAY_FILE = "replay.sh"
EXPORTABLE_STATES = ("finished", "stopped")


# ---- checks -------------------------------------------------------------------------------------------
def check_exportable(run_dir: str | Path) -> tuple[RunFolder, StudioConfig]:
    """The run folder and config of a run that has a final model, or a StudioError saying why not."""
    folder = RunFolder(run_dir)
    if not folder.path.is_dir():
        raise StudioError(f"run folder not found: {run_dir}")
    if not folder.config_file.exists():
        raise StudioError(f"{run_dir} is not a run folder (no config.yaml); give the output_dir of a training run")
    config = StudioConfig.load(folder.config_file)
    status = folder.read_status()
    state = status.get("state", "unknown")
    if folder.cut_off(status):
        state = "interrupted"
    if state not in EXPORTABLE_STATES:
        what = {
            "running": "is still running; wait for it to finish, or stop it (the model so far is saved) and export then",
            "queued": "has not started yet; export it after it has trained",
            "failed": "failed, so it has no final model; fix the problem and resume or train it again",
            "interrupted": "was cut off before it finished (the app or process stopped); resume it, then export",
        }.get(state, f"has no finished model (state: {state}); train or resume it first")
        raise StudioError(f"run {folder.path.name} {what}")
    if not folder.has_model():
        raise StudioError(f"run {folder.path.name} is {state} but its model/ folder is missing; train it again")
    return folder, config


def model_kind(folder: RunFolder) -> str:
    return "adapter" if (folder.model_dir / "adapter_config.json").exists() else "full"


def base_hub_id(source: str) -> str | None:
    """The Hub id of a base model for the card's metadata, when it has one."""
    from studio.models import embedded_name

    name = embedded_name(source)
    if name:
        return HUB_IDS.get(name)
    s = source.strip()
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", s) and not Path(s).expanduser().exists():
        return s
    return None


def replay_command(config: StudioConfig, run_dir: str | Path, config_path: str = "config.yaml") -> str:
    """The command that trains this run again into a new folder."""
    out = config.output_dir.rstrip("/") or str(run_dir)
    return f"python -m studio train {shlex.quote(config_path)} --set output_dir={shlex.quote(out + '-replay')}"


# ---- export -------------------------------------------------------------------------------------------
def export_run(run_dir: str | Path, out_dir: str | Path, merge: bool = False, make_zip: bool = False,
               overwrite: bool = False, progress: Progress | None = None) -> dict:
    """Write the export folder (see the module docstring); returns what was written where."""
    report = progress or (lambda fraction, message: None)
    folder, config = check_exportable(run_dir)
    out = Path(out_dir).expanduser()
    ro, md = out.resolve(), folder.model_dir.resolve()
    if ro in (folder.path.resolve(), md) or md in ro.parents or ro in md.parents:
        raise StudioError(f"--out {out_dir}: choose a new folder, not the run folder or its model/ folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise StudioError(f"--out {out_dir} already exists and is not empty; choose a new folder or add --overwrite")
    kind = model_kind(folder)
    if kind == "adapter" and merge:
        kind = "merged"
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "merged":
            report(0.05, "loading the base model and merging the adapter")
            _merge(folder, config, tmp)
        else:
            report(0.1, "copying the " + ("adapter" if kind == "adapter" else "model"))
            shutil.copytree(folder.model_dir, tmp)
            if kind == "adapter":
                _portable_base(tmp, config)
        report(0.8, "writing the model card")
        shutil.copy2(folder.config_file, tmp / "config.yaml")
        command = replay_command(config, folder.path)
        (tmp / REPLAY_FILE).write_text(
            "#!/bin/sh\n# Train this run again with the same settings and data (paths in config.yaml).\n"
            'cd "$(dirname "$0")" || exit 1\n'
            f"{command}\n", encoding="utf-8")
        card = model_card(folder, config, kind)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    zip_path = None
    if make_zip:
        report(0.9, "zipping")
        zip_path = shutil.make_archive(str(out), "zip", root_dir=str(out))
    report(1.0, "done")
    return {
        "run_dir": str(folder.path),
        "out_dir": str(out),
        "kind": kind,
        "task": config.task,
        "zip": zip_path,
        "files": sorted(p.name for p in out.iterdir()),
        "command": command,
        "load_with": load_snippet(kind, config.task, str(out)),
    }


def _merge(folder: RunFolder, config: StudioConfig, target: Path) -> None:
    """Merge the run's LoRA adapter into a full-precision copy of its base and save the result."""
    import torch
    from peft import PeftModel

    from studio import models

    trc = config.model.trust_remote_code
    if config.task == "classification":
        from studio.classify import load_tuned  # the base with the run's label head, adapter merged

        merged, tok = load_tuned(folder.path)
        base_cfg = models.load_config(config.model.source, trc)
    else:
        base = models.load_causal_lm(config.model.source, trc, dtype=torch.float32)
        base_cfg = base.config
        merged = PeftModel.from_pretrained(base, str(folder.model_dir)).merge_and_unload()
        tok = models.load_tokenizer(str(folder.model_dir), trc)
    original_dtype = _config_dtype(base_cfg)
    if original_dtype in (torch.bfloat16, torch.float16):
        merged = merged.to(original_dtype)  # the same size on disk as the base model
    merged.save_pretrained(str(target))
    tok.save_pretrained(str(target))
    for name in ("labels.json",):  # what the studio saved next to the model (label order)
        if (folder.model_dir / name).exists():
            shutil.copy2(folder.model_dir / name, target / name)


def _portable_base(adapter_dir: Path, config: StudioConfig) -> None:
    """Point an embedded model's adapter at the base's Hub id instead of this machine's cache folder."""
    from studio.models import embedded_name

    hub_id = HUB_IDS.get(embedded_name(config.model.source) or "")
    path = adapter_dir / "adapter_config.json"
    if not hub_id or not path.exists():
        return
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    data["base_model_name_or_path"] = hub_id
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _config_dtype(cfg):
    import torch

    value = getattr(cfg, "dtype", None) or getattr(cfg, "torch_dtype", None)
    if isinstance(value, str):
        value = getattr(torch, value, None)
    return value


def load_snippet(kind: str, task: str, path: str = "DIR") -> str:
    """A few lines of Python that load the export with plain transformers / peft."""
    if task == "classification":
        if kind == "adapter":
            return ("import json\nfrom peft import AutoPeftModelForSequenceClassification\nfrom transformers import AutoTokenizer\n"
                    f"labels = json.load(open({path!r} + \"/labels.json\"))[\"labels\"]  # the head's size and names\n"
                    f"model = AutoPeftModelForSequenceClassification.from_pretrained({path!r}, num_labels=len(labels),\n"
                    "    id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)})\n"
                    f"tokenizer = AutoTokenizer.from_pretrained({path!r})")
        return ("from transformers import pipeline\n"
                f"classify = pipeline(\"text-classification\", model={path!r})\n"
                "print(classify(\"Some text to label\", truncation=True))  # truncation: long texts are cut, not refused")
    if kind == "adapter":
        return ("from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer\n"
                f"model = AutoPeftModelForCausalLM.from_pretrained({path!r})\n"
                f"tokenizer = AutoTokenizer.from_pretrained({path!r})")
    return ("from transformers import AutoModelForCausalLM, AutoTokenizer\n"
            f"model = AutoModelForCausalLM.from_pretrained({path!r})\n"
            f"tokenizer = AutoTokenizer.from_pretrained({path!r})\n"
            "messages = [{\"role\": \"user\", \"content\": \"Hello!\"}]\n"
            "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\", return_dict=True)\n"
            "out = model.generate(**inputs, max_new_tokens=64, do_sample=False)\n"
            "print(tokenizer.decode(out[0, inputs[\"input_ids\"].shape[1]:], skip_special_tokens=True))")


# ---- model card ---------------------------------------------------------------------------------------
def model_card(folder: RunFolder | str | Path, config: StudioConfig | None = None, kind: str | None = None) -> str:
    """The README.md of an export: what the model is, how it was made, how well it does."""
    from studio.evaluate import load_saved, metrics_table, training_summary
    from studio.overfit import check_run

    folder = folder if isinstance(folder, RunFolder) else RunFolder(folder)
    config = config or StudioConfig.load(folder.config_file)
    kind = kind or model_kind(folder)
    task = config.task
    hub_id = base_hub_id(config.model.source)
    name = folder.path.name
    training = training_summary(folder)
    lines = ["---"]
    if hub_id:
        lines.append(f"base_model: {hub_id}")
    lines.append(f"library_name: {'peft' if kind == 'adapter' else 'transformers'}")
    lines.append(f"pipeline_tag: {'text-classification' if task == 'classification' else 'text-generation'}")
    tags = ["fine-tuned", config.method]
    lines.append("tags:\n" + "\n".join(f"- {t}" for t in tags))
    lines += ["---", "", f"# {name}", ""]
    base_desc = f"`{config.model.source}`" + (f" ([{hub_id}](https://huggingface.co/{hub_id}))" if hub_id else "")
    what = {"adapter": "a LoRA adapter for", "merged": "a LoRA fine-tune (merged into full weights) of",
            "full": "a fully fine-tuned version of"}[kind]
    if config.method == "qlora" and kind != "full":
        what = what.replace("LoRA", "QLoRA")
    purpose = "text classification" if task == "classification" else "chat / instruction following"
    lines += [f"This is {what} {base_desc}, trained for {purpose} with the fine-tuning studio.", ""]
    from studio.models import EMBEDDED, embedded_name

    if hub_id and embedded_name(config.model.source) and EMBEDDED[embedded_name(config.model.source)].get("gguf"):
        lines += [f"The studio trained on its embedded copy of this model (the {EMBEDDED[embedded_name(config.model.source)]['gguf']} "
                  "build, dequantized); " + ("the adapter points at the original Hub weights, which are very close to it."
                                             if kind == "adapter" else "the weights here include that base."), ""]
    if kind == "merged" and config.method == "qlora":
        lines += ["The adapter was trained on a 4-bit copy of the base and merged into its full-precision "
                  "weights; replies can differ slightly from the 4-bit model used in training.", ""]

    lines += ["## How to use", "", "```python", load_snippet(kind, task, "PATH_OR_REPO_ID"), "```", ""]

    lines += ["## Training data", ""]
    lines += [f"- Training file: `{Path(config.data.train).name}`" + (f" (format: {training['format']})" if training.get("format") else "")]
    if config.data.eval:
        lines.append(f"- Evaluation file: `{Path(config.data.eval).name}`")
    else:
        lines.append(f"- Evaluation: {config.data.eval_fraction:.0%} of the training file held out (seed {config.train.seed})")
    if training.get("train_examples") is not None:
        lines.append(f"- Examples: {training['train_examples']} for training, {training.get('eval_examples', 0)} for evaluation")
    if task == "classification":
        lines.append(f"- Max length: {config.data.max_length} tokens")
    else:
        lines.append(f"- Max length: {config.data.max_length} tokens; "
                     + ("learned from prompts and answers" if config.data.train_on_prompt else "learned from the answers only"))
    lines += _health_lines(config)
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
            if key == "perplexity" and task == "classification":
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
        rows = evaluation.get("examples") or []
        if rows and task != "classification":
            lines += ["Examples (greedy decoding):", "", "| Prompt | Reference | Base | Tuned |", "|---|---|---|---|"]
            for row in rows[:5]:
                lines.append("| " + " | ".join(_cell(row.get(k, "")) for k in ("prompt", "reference", "base", "tuned")) + " |")
            lines.append("")
    else:
        lines += ["No held-out evaluation was run before export (`python -m studio eval RUN_DIR` adds one).", ""]
    warning = check_run(folder.path)
    if warning:
        lines += [f"**Warning: {warning['kind']}.** {warning['message']}. Try: " + "; ".join(warning["hints"]) + ".", ""]

    lines += ["## Intended use and limitations", ""]
    if task == "classification":
        lines.append("Labels text into the classes of its training data. It only knows those classes and the kind of "
                     "text it was trained on; check its accuracy on your own held-out examples before relying on it.")
    else:
        lines.append("Answers in the style and on the topics of its training data. It keeps the base model's "
                     "limitations: it can state wrong facts confidently and can reflect biases of its data. "
                     "Not for medical, legal, financial or other high-stakes advice without human review.")
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


def _health_lines(config: StudioConfig) -> list[str]:
    """A few lines from the data health checks, when that module is available."""
    try:
        from studio.data import load_dataset
        from studio.data.health import check_dataset

        from studio import models
    except ImportError:
        return []
    try:
        fmt, cols = config.data.format, config.data.columns or None
        ds = load_dataset(config.resolve_path(config.data.train), format=fmt, columns=cols)
        ev = load_dataset(config.resolve_path(config.data.eval), format=fmt, columns=cols) if config.data.eval else None
        tok = models.load_tokenizer(config.model.source, config.model.trust_remote_code) if config.task == "chat" else None
        report = check_dataset(ds, ev, tok, config.data.max_length)
        data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    except Exception:  # noqa: BLE001 - the card is still useful without the health section
        return []
    return ["", "Data health checks:", ""] + [f"- {line}" for line in _health_summary(data)]


def _health_summary(data: dict) -> list[str]:
    """Readable one-liners from a health report: its findings, or that there were none."""
    out = []
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
    if not out:
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


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- Hugging Face Hub ----------------------------------------------------------------------------------
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$|^[A-Za-z0-9][\w.-]{0,95}$")


def push_to_hub(export_dir: str | Path, repo_id: str, token: str, private: bool = True,
                progress: Progress | None = None) -> str:
    """Upload an export folder to a model repository on the Hub; returns its address.

    The token is used for this call only: it is not saved, logged or put into any message.
    """
    report = progress or (lambda fraction, message: None)
    export_dir = Path(export_dir)
    if not (export_dir / "README.md").exists():
        raise StudioError(f"{export_dir} is not an export folder; export the run first")
    repo_id = (repo_id or "").strip()
    if not REPO_ID.match(repo_id):
        raise StudioError(f"--push-to: '{repo_id}' is not a repository id; use your-name/model-name")
    if not token or not token.strip():
        raise StudioError("pushing to the Hugging Face Hub needs a token with write access "
                          "(huggingface.co/settings/tokens); give it in the token box or an environment variable")
    token = token.strip()
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise StudioError("cannot push to the Hugging Face Hub: offline mode is on (HF_HUB_OFFLINE=1); "
                          f"unset it on a machine with internet, or upload {export_dir} later")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        report(0.1, f"creating {repo_id}")
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        report(0.3, "uploading")
        api.upload_folder(repo_id=repo_id, folder_path=str(export_dir), repo_type="model",
                          commit_message="Upload fine-tuned model")
    except Exception as err:  # noqa: BLE001 - turned into a message without the token
        raise StudioError(_hub_message(err, repo_id, token)) from None
    report(1.0, "done")
    return str(getattr(url, "url", None) or url or f"https://huggingface.co/{repo_id}")


def _hub_message(err: Exception, repo_id: str, token: str) -> str:
    name = type(err).__name__
    text = str(err).replace(token, "***").splitlines()[0] if str(err) else name
    status = getattr(getattr(err, "response", None), "status_code", None)
    if name == "OfflineModeIsEnabled":
        return "cannot push to the Hugging Face Hub: offline mode is on (HF_HUB_OFFLINE=1); unset it on a machine with internet"
    if status == 401:
        return "the Hugging Face Hub rejected the token; create one with write access at huggingface.co/settings/tokens"
    if status == 403:
        return f"the token may not write to {repo_id}; use a token with write access to that user or organisation"
    if status is None and any(w in (name + text).lower() for w in ("connect", "timeout", "resolve", "network", "unreachable")):
        return f"could not reach the Hugging Face Hub ({name}); check the internet connection, then push again"
    return f"pushing to {repo_id} failed: {text}"
