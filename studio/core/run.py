"""Opening a finished or running run folder together with its saved config."""

from __future__ import annotations

from pathlib import Path

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder


def open_run(run_dir: str | Path) -> tuple[RunFolder, StudioConfig]:
    """The run folder and its saved config, or a StudioError that says what is missing."""
    folder = RunFolder(run_dir)
    if not folder.path.is_dir():
        raise StudioError(f"run folder not found: {run_dir}")
    if not folder.config_file.exists():
        raise StudioError(f"{run_dir} is not a run folder (no config.yaml); give the output_dir of a training run")
    return folder, StudioConfig.load(folder.config_file)
