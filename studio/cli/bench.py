"""``python -m studio bench [--quick] [--json]``: this machine's training speed against two baselines;
``--serve``: the OpenAI-compatible server's time to first token and tokens/s against a plain generate loop;
``--grpo``: GRPO's generation and training tokens/s against plain batched generation."""

from __future__ import annotations

import json
import sys

from studio.engine import bench


def add_parser(sub):
    p = sub.add_parser("bench", help="measure training speed against two baselines",
                       description=bench.__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer examples (finishes in a few minutes on a CPU)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--model", default="smollm2", help="model source (default: the embedded smollm2)")
    p.add_argument("--examples", type=int, default=0, help="number of examples (default 96, or 24 with --quick)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--serve", action="store_true",
                   help="instead: the OpenAI-compatible server (time to first token, tokens/s) for 1 and 8 clients "
                        "against a plain generate loop")
    p.add_argument("--run", default=None, metavar="RUN",
                   help="with --serve: serve this run (its tuned model) instead of --model")
    p.add_argument("--backend", default="transformers", choices=["transformers", "llamacpp", "vllm", "auto"],
                   help="with --serve --run: the serving backend, as in python -m studio serve (the baseline is the "
                        "run's model in transformers either way)")
    p.add_argument("--max-tokens", type=int, default=0,
                   help="with --serve: new tokens per reply (default 64); with --grpo: longest reply (default 32)")
    p.add_argument("--grpo", action="store_true",
                   help="instead: GRPO's generation and training tokens/s and time per step (LoRA, 2 prompts x 4 "
                        "replies per step) against plain batched model.generate")
    p.add_argument("--steps", type=int, default=3, help="with --grpo: GRPO steps (default 3)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    if args.serve:
        from studio.core.errors import StudioError
        from studio.serve import bench as serve_bench

        if args.backend != "transformers" and not args.run:
            raise StudioError(f"--backend {args.backend} serves a run: add --run RUN (a trained run folder)")

        res = serve_bench.run_bench(args.model, args.max_tokens or 64, run=args.run, backend=args.backend)
        print(json.dumps(res) if args.json else "\n".join(serve_bench.report(res)), flush=True)
        return 0
    if args.grpo:
        from studio.engine.train import run_training
        from studio.tasks.grpo import bench as grpo_bench

        res = grpo_bench.run_bench(args.model, run_training, steps=args.steps, max_new_tokens=args.max_tokens or 32)
        print(json.dumps(res) if args.json else "\n".join(grpo_bench.report(res)), flush=True)
        return 0
    n = args.examples or (24 if args.quick else 96)
    res = bench.run_bench(args.model, n, args.batch_size)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"model {res['model']}, {n} examples, batch {res['batch_size']}: non-pad tokens per second")
        for key in ("seed_style", "trainer", "studio"):
            print(f"  {key:<11} {res[key]:>9.1f}   MFU {100 * res['mfu'][key]:5.1f}%")
        print(f"  studio / seed_style = {res['studio_vs_seed_style']:.2f}x   studio / trainer = {res['studio_vs_trainer']:.2f}x")
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in res["matmul_peak_gflops"].items())
        print(f"  {res['gflop_per_token']} GFLOP per token; matmul peak here (GFLOP/s): {peaks}; the studio trained in "
              f"{res['studio_precision']} (MFU against that precision's peak, the baselines against fp32)")
    sys.stdout.flush()
    return 0
