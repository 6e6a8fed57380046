"""``python -m studio``: the studio without a browser.

    python -m studio train CONFIG.yaml [--set key=value ...] [--resume]
    python -m studio chat RUN_DIR --prompt TEXT [--base]
    python -m studio check FILE [--eval FILE] [--max-length N] [--json]
    python -m studio bench [--quick] [--json]
    python -m studio prepare
    python -m studio ui [--port N]
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from studio.errors import StudioError

# Commands that live in their own modules: each has add_parser(subparsers) and run(args) -> int.
PLUGIN_COMMANDS = ("studio.data.cli", "studio.bench", "studio.evaluate_cli", "studio.export_cli")


def _quiet() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # optional CPU kernels it cannot fetch offline
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def cmd_train(args) -> int:
    from studio.config import StudioConfig
    from studio.train import run_training

    cfg = StudioConfig.load(args.config).with_overrides(args.set or [])
    if args.resume:
        cfg.train.resume = True
    stop = threading.Event()

    def on_signal(signum, frame):  # first Ctrl-C: stop after this step, keep a checkpoint
        if stop.is_set():
            raise KeyboardInterrupt
        print("\nstopping after the current step (Ctrl-C again to abort)", file=sys.stderr)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    from studio.overfit import detect_overfitting

    train_points: list = []
    evals: list = []
    said: set = set()

    def show(ev: dict) -> None:
        t = ev["type"]
        if t == "start":
            print(f"training {ev['model']} ({ev['method']}, {ev['device']}, {ev['precision']}): "
                  f"{ev['train_examples']} train / {ev['eval_examples']} eval examples, {ev['max_steps']} steps", flush=True)
        elif t == "log":
            train_points.append((ev["step"], ev["loss"]))
            print(f"step {ev['step']}/{ev['max_steps']}  loss {ev['loss']:.4f}  lr {ev['learning_rate']:.2e}  "
                  f"{ev['tokens_per_second']:.0f} tok/s", flush=True)
        elif t == "eval" and "eval_loss" in ev:
            extra = "".join(f"  {name} {ev[key]:.4f}" for key, name in (("eval_accuracy", "accuracy"), ("eval_macro_f1", "macro-F1"))
                            if ev.get(key) is not None)
            print(f"eval at step {ev['step']}: loss {ev['eval_loss']:.4f}{extra}", flush=True)
            evals.append((ev["step"], ev["eval_loss"]))
            turn = detect_overfitting(train_points, evals) if len(evals) >= 2 else None
            if turn is not None and turn.kind not in said:
                said.add(turn.kind)
                print(f"warning: {turn.message}; try: {'; '.join(turn.hints[:3])}", file=sys.stderr, flush=True)
        elif t == "warning":
            print(f"warning: {ev['message']}", file=sys.stderr, flush=True)
        elif t == "end":
            print(f"{ev['state']} at step {ev['step']}; model saved in {ev['model_dir']}", flush=True)

    status = run_training(cfg, on_event=show, stop=stop)
    return 0 if status.get("state") in ("finished", "stopped") else 1


def cmd_chat(args) -> int:
    from studio import tasks
    from studio.config import StudioConfig
    from studio.core.generate import ChatModels, Sampling
    from studio.runfolder import RunFolder

    folder = RunFolder(args.run_dir)
    if folder.config_file.exists():
        task = tasks.get(StudioConfig.load(folder.config_file).task)
        if task.try_tab != "chat":
            raise StudioError(f"{args.run_dir} is a {task.name} run, which does not write replies; "
                              f"score it with: python -m studio eval {args.run_dir}")
    chat = ChatModels.for_run(args.run_dir)
    messages = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": args.prompt})
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    reply = chat.reply(messages, tuned=not args.base, sampling=sampling)
    print(reply.strip().replace("\n", " "))
    return 0


def cmd_prepare(args) -> int:
    from studio import models

    for name in models.EMBEDDED:
        r = models.resolve(name)
        print(f"{name}: {r.title} ready at {r.path}")
    return 0


def cmd_ui(args) -> int:
    from studio.ui.app import launch

    launch(host=args.host, port=args.port, runs_dir=args.runs_dir)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studio", description="Fine-tune open language models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model from a config file",
                       description="Train as CONFIG.yaml says; results go to its output_dir.")
    p.add_argument("config", help="a config YAML file (see examples/)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value with a dotted key, e.g. --set train.max_steps=10 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in output_dir from its last checkpoint")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("chat", help="ask a trained run (or its base model) one question",
                       description="Print the tuned model's reply to PROMPT as the last line of output.")
    p.add_argument("run_dir", help="a run folder (the output_dir of a training run)")
    p.add_argument("--prompt", required=True, help="the user message")
    p.add_argument("--system", default="", help="an optional system message")
    p.add_argument("--base", action="store_true", help="answer with the untouched base model instead")
    p.add_argument("--max-new-tokens", type=int, default=128, help="longest reply, in tokens (default 128)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 (default) answers greedily and repeatably")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("prepare", help="prepare the embedded models (done once by setup)")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("ui", help="start the web studio")
    p.add_argument("--host", default=os.environ.get("STUDIO_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("STUDIO_PORT", "7860")))
    p.add_argument("--runs-dir", default=os.environ.get("STUDIO_RUNS", "runs"), help="where runs are kept")
    p.set_defaults(func=cmd_ui)

    for name in PLUGIN_COMMANDS:
        try:
            mod = importlib.import_module(name)
        except ImportError as err:
            if err.name != name:
                raise
            continue
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; the run can resume from its last checkpoint with --resume", file=sys.stderr)
        return 130
