"""Facts about an export shared by its steps: what kind of model it is, the base's Hub id, the replay command,
and the Python that loads it (the task's)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from studio import tasks
from studio.core.config import StudioConfig
from studio.core.runfolder import RunFolder

HUB_IDS = {
    "smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
}


def model_kind(folder: RunFolder) -> str:
    return "adapter" if (folder.model_dir / "adapter_config.json").exists() else "full"


def base_hub_id(source: str) -> str | None:
    """The Hub id of a base model for the card's metadata, when it has one."""
    from studio.core.models import embedded_name

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



def load_snippet(kind: str, task: str, path: str = "DIR") -> str:
    """A few lines of Python that load the export with plain transformers / peft (the task's own)."""
    return tasks.get(task).load_snippet(kind, path)
