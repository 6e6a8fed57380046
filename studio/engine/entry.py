"""``python -m studio.engine RUN_DIR [--resume]``: train the run in a prepared run folder, for any task.

This is what launchers start (a process per run, torchrun's processes, a Ray job): it reads the run folder's
``config.yaml``, trains with ``studio.engine.train.run_training`` and leaves everything in the folder. Under torchrun
every process runs it and only rank 0 writes the folder. SIGINT or SIGTERM: the first asks the run to stop after
its current step (a checkpoint and the model so far are kept); the second interrupts it at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.engine", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)

    from studio.core.quiet import quiet
    from studio.core.config import StudioConfig
    from studio.core.errors import StudioError
    from studio.core.runfolder import RunFolder
    from studio.engine.train import run_training

    quiet()
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    folder = RunFolder(args.run_dir)
    try:
        config = StudioConfig.load(folder.config_file)
        config.output_dir = str(folder.path)
        config.train.resume = args.resume
        status = run_training(config, stop=stop, keep_stop=True)
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        if int(os.environ.get("RANK", "0")) == 0 and folder.config_file.exists():  # say it where the app looks
            status = folder.read_status()
            if status.get("state") in ("queued", "running", None):
                hint = "fix it, then start the run again"
                folder.emit({"type": "error", "message": str(err), "hint": hint})
                folder.write_status(state="failed", message=str(err), hint=hint)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the run can resume from its last checkpoint", file=sys.stderr, flush=True)
        return 130
    rank = int(os.environ.get("RANK", "0"))
    return 0 if rank or status.get("state") in ("finished", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
