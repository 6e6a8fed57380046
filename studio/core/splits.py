"""Which records train and which are held out: the seeded split, planned steps, held-out data for evaluation."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Callable

from studio.core.config import StudioConfig
from studio.core.errors import StudioError


def load_splits(config: StudioConfig, read: Callable | None = None) -> tuple[list, list, dict]:
    """Training and eval records, with a seeded split when no eval file is given. ``read(path, format=, columns=)``
    reads a file into a ``Dataset`` (default ``studio.data.load_dataset``; a task may read its own kind of data)."""
    from studio.data import load_dataset

    load_dataset = read or load_dataset
    fmt, cols = config.data.format, config.data.columns or None
    train = load_dataset(config.resolve_path(config.data.train), format=fmt, columns=cols)
    info = {"format": train.format, "malformed_rows": len(train.malformed)}
    records = with_system_prompt(list(train.records), config.data.system_prompt)
    if not records:
        raise StudioError(f"data.train: {config.data.train} has no usable records")
    if config.data.eval:
        ev = load_dataset(config.resolve_path(config.data.eval), format=fmt, columns=cols)
        return records, with_system_prompt(list(ev.records), config.data.system_prompt), info
    n_eval = int(round(len(records) * config.data.eval_fraction))
    if config.data.eval_fraction > 0 and len(records) >= 10:
        n_eval = max(1, n_eval)
    else:
        n_eval = 0
    rng = random.Random(config.train.seed)
    order = list(range(len(records)))
    rng.shuffle(order)
    eval_idx = set(order[:n_eval])
    return [r for i, r in enumerate(records) if i not in eval_idx], [records[i] for i in sorted(eval_idx)], info


def with_system_prompt(records: list[dict], system: str) -> list[dict]:
    """Records with conversation turns get ``system`` (``data.system_prompt``) as their first turn where they have
    no system turn of their own; others stay as they are."""
    if not system or not system.strip():
        return records
    out = []
    for r in records:
        msgs = r.get("messages")
        if isinstance(msgs, list) and not any(m.get("role") == "system" for m in msgs):
            r = {**r, "messages": [{"role": "system", "content": system}, *msgs]}
        out.append(r)
    return out


def auto_interval(total_steps: int, times: int) -> int:
    return max(1, math.ceil(total_steps / times))


def planned_steps(config: StudioConfig, n_train: int, world: int = 1) -> int:
    """Optimizer steps of a run; ``world`` processes each take a batch per step."""
    if config.train.max_steps > 0:
        return config.train.max_steps
    per_epoch = math.ceil(n_train / (config.train.batch_size * config.train.grad_accum * max(1, world)))
    return max(1, math.ceil(per_epoch * config.train.epochs))


def held_out_records(config: StudioConfig, data_path: str | None = None, limit: int | None = 20,
                     refuse: Callable[[str], str | None] | None = None) -> tuple[list[dict], str, int]:
    """The held-out records to evaluate on, a description of where they came from, and how many there were.

    Data: ``data_path``, else the run's eval file, else the split that training held out. A file laid out
    differently from the training data is read with its own columns. ``refuse(format)`` (the task's) returns
    a message for a data format the task cannot be evaluated on.
    """
    from studio.data import load_dataset

    if data_path:
        if not Path(data_path).expanduser().is_file():
            raise StudioError(f"--data: file not found: {data_path}")
        path = str(Path(data_path).expanduser())
        try:
            ds = load_dataset(path, format=config.data.format, columns=config.data.columns or None)
        except StudioError:
            if config.data.format == "auto" and not config.data.columns:
                raise
            ds = load_dataset(path)  # a file laid out differently from the training data
        problem = refuse(ds.format) if refuse else None
        if problem:
            raise StudioError(f"--data: {data_path} {problem}")
        records, source = with_system_prompt(list(ds.records), config.data.system_prompt), f"{data_path}"
    elif config.data.eval:
        path = config.resolve_path(config.data.eval)
        if not Path(path).is_file():
            raise StudioError(f"the run's eval file is gone: {config.data.eval}; give held-out data with --data FILE")
        ds = load_dataset(path, format=config.data.format, columns=config.data.columns or None)
        records = with_system_prompt(list(ds.records), config.data.system_prompt)
        source = f"{config.data.eval} (the run's eval file)"
    else:
        if not Path(config.resolve_path(config.data.train)).is_file():
            raise StudioError(f"the run's training file is gone: {config.data.train}; give held-out data with --data FILE")
        _, records, _ = load_splits(config)
        source = (f"{Path(config.data.train).name}: the {len(records)} examples held out from training "
                  f"(eval share {config.data.eval_fraction}, seed {config.train.seed})")
    total = len(records)
    if not records:
        raise StudioError("no held-out examples to evaluate on (the run used all its data for training); "
                          "give a file of held-out examples with --data FILE")
    if limit is not None and limit > 0:
        records = records[:limit]
    return records, source, total


def seen_in_training(config: StudioConfig, records: list[dict]) -> int | None:
    """How many of ``records`` are also in the run's training data (compared as the data health checks do:
    case, spaces and punctuation ignored); None when the training data can no longer be read."""
    from studio.data.health import norm_key

    try:
        train, _, _ = load_splits(config)
    except Exception:  # noqa: BLE001 - the file moved or changed: the count is a courtesy, not a requirement
        return None
    keys = {norm_key(r) for r in train}
    return sum(1 for r in records if norm_key(r) in keys)
