"""Writing the export folder: the adapter or the merged model, the run's config, replay.sh and the model card,
in one atomic step (a half-written export is never left behind)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from studio import tasks
from studio.core.config import StudioConfig
from studio.core.run import open_run
from studio.core.errors import StudioError
from studio.export.card import model_card
from studio.export.facts import HUB_IDS, load_snippet, model_kind, replay_command
from studio.core.runfolder import RunFolder

Progress = Callable[[float, str], None]
REPLAY_FILE = "replay.sh"
EXPORTABLE_STATES = ("finished", "stopped")


def check_exportable(run_dir: str | Path) -> tuple[RunFolder, StudioConfig]:
    """The run folder and config of a run that has a final model, or a StudioError saying why not."""
    folder, config = open_run(run_dir)
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


def check_out_dir(folder: RunFolder, out_dir: str | Path, overwrite: bool) -> Path:
    """The export folder as a path, or a StudioError when it is the run itself or holds files not to replace."""
    out = Path(out_dir).expanduser()
    ro, md = out.resolve(), folder.model_dir.resolve()
    if ro in (folder.path.resolve(), md) or md in ro.parents or ro in md.parents:
        raise StudioError(f"--out {out_dir}: choose a new folder, not the run folder or its model/ folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise StudioError(f"--out {out_dir} already exists and is not empty; choose a new folder or add --overwrite")
    return out


def export_run(run_dir: str | Path, out_dir: str | Path, merge: bool = False, make_zip: bool = False,
               overwrite: bool = False, progress: Progress | None = None) -> dict:
    """Write the export folder (see the module docstring); returns what was written where."""
    report = progress or (lambda fraction, message: None)
    folder, config = check_exportable(run_dir)
    out = check_out_dir(folder, out_dir, overwrite)
    kind = model_kind(folder)
    if kind == "adapter" and merge:
        kind = "merged"
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "merged":
            report(0.05, "loading the base model and merging the adapter")
            merge_into(folder, config, tmp)
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
        # the folder itself goes in: unzipped anywhere it is the folder the page's snippet loads (``export/``)
        zip_path = shutil.make_archive(str(out), "zip", root_dir=str(out.parent), base_dir=out.name)
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


def merge_into(folder: RunFolder, config: StudioConfig, target: Path) -> None:
    """Merge the run's LoRA adapter into a full-precision copy of its base (the task knows how) and save it."""
    import torch

    task = tasks.get(config.task)
    merged, tok, base_cfg = task.merged_model(folder, config)
    original_dtype = _config_dtype(base_cfg)
    if original_dtype in (torch.bfloat16, torch.float16):
        merged = merged.to(original_dtype)  # the same size on disk as the base model
    merged.save_pretrained(str(target))
    tok.save_pretrained(str(target))
    for name in task.model_files:  # what the task saved next to the model (e.g. the label order)
        if (folder.model_dir / name).exists():
            shutil.copy2(folder.model_dir / name, target / name)


def _portable_base(adapter_dir: Path, config: StudioConfig) -> None:
    """Point an embedded model's adapter at the base's Hub id instead of this machine's cache folder."""
    from studio.core.models import embedded_name

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


