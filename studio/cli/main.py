"""``python -m studio``: the studio without a browser.

    python -m studio train CONFIG.yaml [--set key=value ...] [--resume]
    python -m studio chat RUN_DIR --prompt TEXT [--base] [--image FILE]
    python -m studio check FILE [--eval FILE] [--max-length N] [--json]
    python -m studio bench [--quick] [--json]
    python -m studio prepare
    python -m studio ui [--port N]
    python -m studio users add|remove|list|codes
    python -m studio serve RUN [RUN ...] [--host H] [--port N] [--api-key-env NAME]
    python -m studio compare RUN RUN ... [--json]
    python -m studio sweep CONFIG --grid key=v1,v2 | --search key=low..high[:log] [--trials N] [--minutes M] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import sys

from studio.core.quiet import quiet
from studio.core.errors import StudioError

# Commands that live in their own modules: each has add_parser(subparsers) and run(args) -> int.
PLUGIN_COMMANDS = ("studio.cli.train", "studio.cli.check", "studio.cli.bench", "studio.cli.evaluate", "studio.cli.export",
                   "studio.cli.users", "studio.cli.serve", "studio.cli.compare", "studio.cli.sweep")


def cmd_chat(args) -> int:
    from studio import tasks
    from studio.core.config import StudioConfig
    from studio.core.generate import ChatModels, Sampling
    from studio.core.runfolder import RunFolder

    folder = RunFolder(args.run_dir)
    task = tasks.get(StudioConfig.load(folder.config_file).task) if folder.config_file.exists() else None
    if task is not None and not task.chats:
        raise StudioError(f"{args.run_dir} is a {task.name} run, which does not write replies; "
                          f"score it with: python -m studio eval {args.run_dir}")
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    if getattr(task, "takes_images", False):  # a model that sees images answers about them
        reply = task.chat(args.run_dir, args.prompt, args.image, args.system, tuned=not args.base, sampling=sampling)
        print(reply.strip().replace("\n", " "))
        return 0
    if args.image:
        raise StudioError(f"--image: {args.run_dir} is a model that reads text only; give images to a vision run")
    chat = ChatModels.for_run(args.run_dir)
    messages = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": args.prompt})
    reply = chat.reply(messages, tuned=not args.base, sampling=sampling)
    print(reply.strip().replace("\n", " "))
    return 0


def cmd_prepare(args) -> int:
    from studio.core import models

    for name in models.EMBEDDED:
        r = models.resolve(name)
        print(f"{name}: {r.title} ready at {r.path}")
    return 0


def cmd_ui(args) -> int:
    from studio.server import settings

    settings.apply_env(settings.resolve(args.host, args.port, args.runs_dir))  # before gradio reads HF_HOME
    from studio.ui.app import launch

    launch(host=args.host, port=args.port, runs_dir=args.runs_dir)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studio", description="Fine-tune open language models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("chat", help="ask a trained run (or its base model) one question",
                       description="Print the tuned model's reply to PROMPT as the last line of output.")
    p.add_argument("run_dir", help="a run folder (the output_dir of a training run)")
    p.add_argument("--prompt", required=True, help="the user message")
    p.add_argument("--system", default="", help="an optional system message")
    p.add_argument("--base", action="store_true", help="answer with the untouched base model instead")
    p.add_argument("--image", action="append", default=[], metavar="FILE",
                   help="an image the question is about (vision runs; repeat for several)")
    p.add_argument("--max-new-tokens", type=int, default=128, help="longest reply, in tokens (default 128)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 (default) answers greedily and repeatably")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("prepare", help="prepare the embedded models (done once by setup)")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("ui", help="start the web studio")
    p.add_argument("--host", help="address to bind (default: STUDIO_HOST, GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: STUDIO_PORT, GRADIO_SERVER_PORT, else 7860)")
    p.add_argument("--runs-dir", help="where runs are kept (default: STUDIO_RUNS, STUDIO_DATA/runs, else ./runs)")
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
    quiet()
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
