"""``python -m studio train CONFIG``: train from a config file, with progress in the terminal.

The run trains in a process of its own (``launch.backend: local``, the default; torchrun with
``launch.processes`` above 1) or inside this one (``inline``); either way this command prints its events as
they arrive. Ctrl-C asks the run to stop after its current step and keep a checkpoint; a second Ctrl-C ends
its processes at once. Either way ``--resume`` continues it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a model from a config file",
                              description="Train as CONFIG.yaml says; results go to its output_dir.")
    p.add_argument("config", help="a config YAML file (see examples/)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value with a dotted key, e.g. --set train.max_steps=10 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in output_dir from its last checkpoint")
    p.set_defaults(func=run)


class Printer:
    """Events as lines in the terminal, each warning once, the overfitting warning as soon as it shows."""

    def __init__(self):
        self.train_points: list = []
        self.evals: list = []
        self.said: set = set()
        self.extra: list[str] = []  # the task's own logged numbers (the start event's chart_metrics)

    def __call__(self, ev: dict) -> None:
        from studio.engine.overfit import detect_overfitting

        t = ev["type"]
        if t == "start":
            self.extra = list(ev.get("chart_metrics") or [])
            world = f", {ev['world_size']} processes" if (ev.get("world_size") or 1) > 1 else ""
            print(f"training {ev['model']} ({ev['method']}, {ev['device']}, {ev['precision']}{world}): "
                  f"{ev['train_examples']} train / {ev['eval_examples']} eval examples, {ev['max_steps']} steps", flush=True)
        elif t == "log":
            self.train_points.append((ev["step"], ev["loss"]))
            print(f"step {ev['step']}/{ev['max_steps']}  loss {ev['loss']:.4f}  lr {ev['learning_rate']:.2e}  "
                  f"{ev['tokens_per_second']:.0f} tok/s{self._extra(ev, '')}", flush=True)
        elif t == "eval" and "eval_loss" in ev:
            extra = "".join(f"  {name} {ev[key]:.4f}" for key, name in (("eval_accuracy", "accuracy"), ("eval_macro_f1", "macro-F1"))
                            if ev.get(key) is not None)
            print(f"eval at step {ev['step']}: loss {ev['eval_loss']:.4f}{extra}{self._extra(ev, 'eval_')}", flush=True)
            self.evals.append((ev["step"], ev["eval_loss"]))
            turn = detect_overfitting(self.train_points, self.evals) if len(self.evals) >= 2 else None
            if turn is not None and turn.kind not in self.said:
                self.said.add(turn.kind)
                print(f"warning: {turn.message}; try: {'; '.join(turn.hints[:3])}", file=sys.stderr, flush=True)
        elif t == "trackers":
            for name, at in ev["trackers"].items():
                print(f"tracked in {name}: {at}", flush=True)
        elif t == "warning":
            print(f"warning: {ev['message']}", file=sys.stderr, flush=True)
        elif t == "end":
            print(f"{ev['state']} at step {ev['step']}; model saved in {ev['model_dir']}", flush=True)

    def _extra(self, ev: dict, prefix: str) -> str:
        return "".join(f"  {k.replace('_', ' ')} {ev[prefix + k]:.4f}" for k in self.extra
                       if isinstance(ev.get(prefix + k), (int, float)))


def run(args) -> int:
    from studio.core.config import StudioConfig

    cfg = StudioConfig.load(args.config).with_overrides(args.set or [])
    if args.resume:
        cfg.train.resume = True
    from studio import launchers

    if getattr(launchers.find(cfg.launch.backend), "in_process", False):  # inline: trains right here
        return _inline(cfg)
    return _launched(cfg)


def _inline(cfg) -> int:
    from studio.engine.train import run_training

    stop = threading.Event()

    def on_signal(signum, frame):  # first Ctrl-C: stop after this step, keep a checkpoint
        if stop.is_set():
            raise KeyboardInterrupt
        print("\nstopping after the current step (Ctrl-C again to abort)", file=sys.stderr)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    status = run_training(cfg, on_event=Printer(), stop=stop)
    return 0 if status.get("state") in ("finished", "stopped") else 1


def _launched(cfg) -> int:
    """Start the run through its launcher and print its events until its processes end."""
    from studio import launchers
    from studio.core.errors import StudioError
    from studio.launchers.local import node_commands
    from studio.server.scheduler import Devices
    from studio.engine.train import prepare_run

    devices = Devices.detect()
    launchers.check(cfg, len(devices.gpus), os.cpu_count() or 1)
    folder, _, resuming = prepare_run(cfg)  # the run itself says its warnings, as events
    for note in cfg.notes:  # but it reads the config as saved, with old keys already moved: say those here
        print(f"warning: {note}", file=sys.stderr, flush=True)
    launcher = launchers.make(cfg.launch.backend)
    if cfg.launch.nodes > 1:
        print("this command starts node 0; on each other node run its line below:", file=sys.stderr)
        for i, line in enumerate(node_commands(cfg, folder.path, resuming)[1:], 1):
            print(f"  node {i}: {line}", file=sys.stderr)
    try:
        handle = launcher.launch(folder.path, resume=resuming)
    except StudioError as err:
        folder.write_status(state="failed", message=str(err))
        raise
    folder.write_launch(handle)
    asked = threading.Event()

    def on_signal(signum, frame):
        if asked.is_set():
            print("\nending the training processes now", file=sys.stderr, flush=True)
            launcher.stop(handle, grace=5.0)
            return
        print("\nstopping after the current step (Ctrl-C again to end it now)", file=sys.stderr, flush=True)
        folder.request_stop()
        asked.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    show, offset = Printer(), 0
    while True:
        running = launcher.alive(handle)
        events, offset = folder.read_events_from(offset)  # only what is new
        for ev in events:
            if ev["type"] != "error":
                show(ev)
        if not running:
            break
        time.sleep(0.3)
    status = launchers.record_exit(folder, launcher.exit_code(handle))  # ended without a final word: say why
    if status.get("state") == "failed":
        hint = status.get("hint") or ""
        raise StudioError(status.get("message", "training failed") + (f"; {hint}" if hint else "")
                          + f" (the training process's output is in {folder.path / 'train.log'})")
    return 0
