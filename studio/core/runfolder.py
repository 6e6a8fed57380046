"""The run folder: the one contract between training and everything that watches it.

    output_dir/
      config.yaml     resolved config, replayable with ``python -m studio train output_dir/config.yaml``
      events.jsonl    append-only, one JSON object per line: start, log, eval, checkpoint, end, error
      status.json     the latest state: state, step, max_steps, pid, host, owner, message, updated
      launch.json     how the run was started (the launcher's handle: kind, pid or job id, host); readers see it
                      as ``status["launch"]``
      train.log       the training process's own output (a process per run)
      checkpoints/    Trainer checkpoints (resume from the last one)
      model/          the final adapter (PEFT format) or full model, with its tokenizer
      STOP            present when someone asked the run to stop

``state`` is one of: running, finished, stopped, failed; a reader shows ``interrupted`` for a run whose
status says running but whose process is gone (see ``studio.server.runs``).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

ACTIVE_STATES = ("running",)
FINAL_STATES = ("finished", "stopped", "failed")


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    # ---- locations ---------------------------------------------------------------------------
    @property
    def events_file(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def launch_file(self) -> Path:
        return self.path / "launch.json"

    @property
    def stop_file(self) -> Path:
        return self.path / "STOP"

    # ---- writing -----------------------------------------------------------------------------
    def emit(self, event: dict) -> dict:
        """Append one event (a ``type`` key plus fields); adds the time."""
        event = {"type": event["type"], "time": round(time.time(), 3), **{k: v for k, v in event.items() if k != "type"}}
        line = json.dumps(event, ensure_ascii=False, default=str)
        with self._lock:
            self.path.mkdir(parents=True, exist_ok=True)
            with open(self.events_file, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
        return event

    def write_status(self, **fields) -> dict:
        """Replace status.json atomically, keeping fields not given."""
        with self._lock:
            status = self.read_status()
            status.pop("launch", None)  # launch.json is its own file, written only by the launcher
            status.update(fields)
            status.update({"updated": round(time.time(), 3), "pid": os.getpid(), "host": socket.gethostname()})
            tmp = self.status_file.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps(status, indent=1, default=str), encoding="utf-8")
            os.replace(tmp, self.status_file)
        return status

    def write_launch(self, handle: dict | None) -> None:
        """Record (or, with None, forget) how the run was started; written only by whoever launched it."""
        if handle is None:
            self.launch_file.unlink(missing_ok=True)
            return
        tmp = self.launch_file.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(handle, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, self.launch_file)

    def request_stop(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.stop_file.write_text(str(time.time()), encoding="utf-8")

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    def clear_stop(self) -> None:
        self.stop_file.unlink(missing_ok=True)

    # ---- reading -----------------------------------------------------------------------------
    def cut_off(self, status: dict | None = None) -> bool:
        """True when the status says running or queued but the process that wrote it, on this machine, is gone."""
        from studio.core.procs import status_alive

        status = self.read_status() if status is None else status
        if status.get("state") not in ("running", "queued") or not status.get("pid"):
            return False
        if status.get("host") != socket.gethostname() or int(status["pid"]) == os.getpid():
            return False
        return not status_alive(status)

    def read_status(self) -> dict:
        try:
            status = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            status = {}
        try:
            status["launch"] = json.loads(self.launch_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            status.pop("launch", None)
        return status

    def read_events(self, types: tuple[str, ...] | None = None) -> list[dict]:
        """All events so far; a half-written last line (a run being written) is skipped."""
        events, _ = self.read_events_from(0)
        return events if types is None else [ev for ev in events if ev.get("type") in types]

    def read_events_from(self, offset: int = 0) -> tuple[list[dict], int]:
        """The events written after byte ``offset``, and the offset to read from next time (a follower reads only
        what is new). A half-written last line is left for the next read."""
        out = []
        try:
            with open(self.events_file, "rb") as fh:
                fh.seek(offset)
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break
                    offset += len(raw)
                    try:
                        out.append(json.loads(raw))
                    except json.JSONDecodeError:
                        continue
        except FileNotFoundError:
            pass
        return out, offset

    def last_checkpoint(self) -> Path | None:
        if not self.checkpoints_dir.is_dir():
            return None
        ckpts = [p for p in self.checkpoints_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
        ckpts = [p for p in ckpts if (p / "trainer_state.json").exists()]
        return max(ckpts, key=lambda p: int(p.name.split("-")[-1]), default=None)

    def has_model(self) -> bool:
        d = self.model_dir
        return (d / "adapter_config.json").exists() or (d / "config.json").exists()
