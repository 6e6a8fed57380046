"""Prompts for a grpo run, with each example's other columns (a reference answer, ...) kept for the rewards.

The data is any chat-like file (a prompt column, a conversation, instruction/input, prompt/completion): the prompt is
the conversation up to its last user turn (a trailing answer is dropped: GRPO writes its own), with
``data.system_prompt`` first where it has no system turn. Every column of the row stays in ``columns`` (as text) so a
reward can compare against it (``column: answer``). The split into training and held-out prompts is the one
``studio.core.splits.load_splits`` makes (the same seed and share), so evaluation sees the prompts training did not.
"""

from __future__ import annotations

import random
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.splits import with_system_prompt


def _read(config, path: str) -> tuple[list[dict], str]:
    from studio.data import open_records

    stream = open_records(path, format=config.data.format, columns=config.data.columns or None).keep_columns()
    return [rec for _, rec in stream], stream.format


def example_of(record: dict) -> dict | None:
    """``{"prompt": [turns], "columns": {...}}``, or None when the record has no user turn."""
    msgs = [{"role": m["role"], "content": m.get("content") or ""} for m in record.get("messages") or []
            if m.get("role") in ("system", "user", "assistant")]
    while msgs and msgs[-1]["role"] == "assistant":
        msgs.pop()
    if not msgs or msgs[-1]["role"] != "user" or not msgs[-1]["content"].strip():
        return None
    return {"prompt": msgs, "columns": dict(record.get("columns") or {})}


def examples(config, path: str) -> tuple[list[dict], int, str]:
    records, fmt = _read(config, path)
    records = with_system_prompt(records, config.data.system_prompt)
    out = [e for e in map(example_of, records) if e is not None]
    return out, len(records) - len(out), fmt


def splits(config) -> tuple[list[dict], list[dict], dict]:
    """Training and held-out prompts, split as ``load_splits`` splits the records."""
    train, dropped, fmt = examples(config, config.resolve_path(config.data.train))
    if not train:
        raise StudioError(f"data.train: none of the records of {config.data.train} has a prompt (a user turn); "
                          "give a file with a prompt or question column, or conversations")
    info = {"format": fmt, "prompts_left_out": dropped}
    if config.data.eval:
        evals, _, _ = examples(config, config.resolve_path(config.data.eval))
        return train, evals, info
    n_eval = int(round(len(train) * config.data.eval_fraction))
    n_eval = max(1, n_eval) if config.data.eval_fraction > 0 and len(train) >= 10 else 0
    order = list(range(len(train)))
    random.Random(config.train.seed).shuffle(order)
    held = set(order[:n_eval])
    return [e for i, e in enumerate(train) if i not in held], [train[i] for i in sorted(held)], info


def held_out(config, data_path: str | None, limit: int | None) -> tuple[list[dict], str, int]:
    """Prompts to evaluate on: ``data_path``, else the run's eval file, else the split training held out."""
    if data_path:
        if not Path(data_path).expanduser().is_file():
            raise StudioError(f"--data: file not found: {data_path}")
        items, _, _ = examples(config, str(Path(data_path).expanduser()))
        source = data_path
    else:
        _, items, _ = splits(config)
        source = (config.data.eval if config.data.eval else
                  f"{Path(config.data.train).name}: the prompts held out from training (eval share "
                  f"{config.data.eval_fraction}, seed {config.train.seed})")
    if not items:
        raise StudioError("no held-out prompts to evaluate on (the run used all its data for training); give a file "
                          "of prompts with --data FILE")
    total = len(items)
    return (items[:limit] if limit else items), source, total


def columns_of(items: list[dict]) -> set[str]:
    return {k for e in items for k in e["columns"]}


def prompt_text(prompt: list[dict]) -> str:
    """The last user turn, for tables."""
    return next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
