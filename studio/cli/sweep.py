"""``python -m studio sweep CONFIG --grid key=v1,v2 ... | --search key=low..high[:log] ...``: several runs of one
config with settings varied; Optuna picks the trials and prunes those falling behind, and the summary names the
best. Trials are runs under the config's output_dir (one at a time, through the run queue); the same command
again resumes a sweep that was stopped or cut off.
"""

from __future__ import annotations

import json
import os
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="try several settings of one config and name the best",
                              description="Run trials of CONFIG with settings varied; trials and the summary go to "
                                          "its output_dir. Run the same command again to resume.")
    p.add_argument("config", help="a config YAML file (see examples/)")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2", help="try each value (repeatable: every combination)")
    p.add_argument("--search", action="append", metavar="KEY=LOW..HIGH[:log]",
                   help="a range Optuna searches (repeatable); :log for a log scale, e.g. train.learning_rate=1e-5..1e-2:log")
    p.add_argument("--trials", type=int, help="how many trials (default: the whole grid, or 8 for a search)")
    p.add_argument("--minutes", type=float, help="time budget for this call; the sweep stops then and resumes next time")
    p.add_argument("--metric", default="eval_loss", help="the evaluation figure trials are judged by (default eval_loss)")
    p.add_argument("--no-prune", action="store_true", help="let every trial run to its end")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value for every trial")
    p.add_argument("--json", action="store_true", help="print the summary (best trial and its settings) as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from studio.core.config import StudioConfig
    from studio.core.errors import StudioError
    from studio.server.policy import Policy
    from studio.server.runs import RunStore
    from studio.server.sweep import Space, Sweep, check_space, parse_grid, parse_search

    if args.trials is not None and args.trials < 1:
        raise StudioError(f"--trials {args.trials}: give at least 1")
    base = StudioConfig.load(args.config)
    cfg = base.with_overrides(args.set or [])
    space = Space(grid=parse_grid(args.grid), search=parse_search(args.search))
    check_space(cfg, space)  # before anything is written
    folder = cfg.resolve_path(cfg.output_dir) if cfg.output_dir else ""
    if not folder:
        raise StudioError("output_dir is empty: the sweep's trials go there; set it in the config or with --set")
    store = RunStore(folder, policy=Policy.load(os.environ.get("STUDIO_POLICY")))
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else (lambda line: print(line, flush=True))
    try:
        sweep = Sweep(cfg, space, folder, store, trials=args.trials, minutes=args.minutes, metric=args.metric,
                      report=say, prune=not args.no_prune)
        summary = sweep.run()
    finally:
        store.close()
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    best = summary["best"]
    done = "done" if summary["complete"] else "not finished (run the same command again to resume)"
    print(f"sweep {done}: {len(summary['trials'])} of {summary['trials_planned']} trials in {summary['folder']}")
    if best:
        settings = ", ".join(f"{k}={v}" for k, v in best["settings"].items())
        print(f"best: trial {best['number']} ({best['run']}), {summary['metric']} {best['value']:.4g}, with {settings}")
    return 0
