"""``python -m studio export RUN_DIR``: the adapter or a merged model, with a model card, as a folder or zip."""

from __future__ import annotations

import os


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a trained run as an adapter or a merged model (and push it to the Hub)",
        description="Write the run's model in Hugging Face layout with a model card (README.md), the resolved "
                    "config.yaml and replay.sh (the command that trains the run again). LoRA runs export the "
                    "adapter, or with --merge a full model that loads with AutoModelForCausalLM alone.")
    p.add_argument("run_dir", help="a finished or stopped run folder")
    p.add_argument("--out", default=None, metavar="DIR", help="the export folder (default: RUN_DIR/export)")
    p.add_argument("--merge", action="store_true", help="merge the LoRA adapter into the base weights (a full model)")
    p.add_argument("--zip", action="store_true", help="also write DIR.zip")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it already exists")
    p.add_argument("--gguf", action="store_true",
                   help="export for llama.cpp, Ollama and LM Studio: the merged model as GGUF, a Modelfile, and a check "
                        "that runs the file on held-out prompts")
    p.add_argument("--quant", default="q8_0", choices=["q8_0", "f16", "q4_k_m"],
                   help="GGUF weights (default q8_0); q4_k_m needs the optional extra: pip install 'finetune-studio[gguf]'")
    p.add_argument("--adapter", action="store_true", help="with --gguf: also the LoRA alone as a GGUF adapter")
    p.add_argument("--no-check", action="store_true", help="with --gguf: skip running the file on held-out prompts")
    p.add_argument("--push-to", default=None, metavar="REPO_ID", help="upload the export to this Hugging Face model repo")
    p.add_argument("--token-env", default="HF_TOKEN", metavar="VAR",
                   help="the environment variable that holds the Hub token (default HF_TOKEN); the token is never written anywhere")
    p.add_argument("--public", action="store_true", help="create the Hub repository as public (default private)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from studio.core.errors import StudioError
    from studio.export import REPO_ID, export_run, push_to_hub

    token = None
    if args.push_to:
        if not REPO_ID.match(args.push_to.strip()):  # before a long export, not after it
            raise StudioError(f"--push-to: '{args.push_to}' is not a repository id; use your-name/model-name")
        token = os.environ.get(args.token_env, "")
        if not token.strip():
            raise StudioError(f"--push-to needs a Hub token in the environment variable {args.token_env}; "
                              f"set it (export {args.token_env}=hf_...) or name another with --token-env")
    out = args.out or str(Path(args.run_dir) / ("export-gguf" if args.gguf else "export"))
    if args.gguf:
        return _gguf(args, out)
    if args.adapter or args.no_check or args.quant != "q8_0":
        raise StudioError("--quant, --adapter and --no-check go with --gguf")
    overwrite = args.overwrite or args.out is None  # the default folder is simply refreshed
    result = export_run(args.run_dir, out, merge=args.merge, make_zip=args.zip, overwrite=overwrite)
    what = {"adapter": "LoRA adapter", "merged": "merged full model", "full": "full model"}[result["kind"]]
    print(f"exported the {what} to {result['out_dir']}")
    print(f"  files: {', '.join(result['files'])}")
    if result["zip"]:
        print(f"  zip: {result['zip']}")
    print(f"  replay: {result['command']}")
    if args.push_to:
        url = push_to_hub(result["out_dir"], args.push_to, token, private=not args.public)
        print(f"pushed to {url}")
    return 0


def _gguf(args, out: str) -> int:
    from studio.core.errors import StudioError
    from studio.export.gguf import export_gguf

    if args.merge or args.zip or args.push_to:
        raise StudioError("--gguf writes its own folder; use it without --merge, --zip and --push-to")
    last = [-1]

    def progress(fraction, message):
        if int(fraction * 10) != last[0]:  # about ten lines, not one per percent
            last[0] = int(fraction * 10)
            print(f"  {fraction:4.0%} {message}", flush=True)

    result = export_gguf(args.run_dir, out, quant=args.quant, adapter=args.adapter, check=not args.no_check,
                         overwrite=args.overwrite or args.out is None, progress=progress)
    print(f"exported GGUF ({args.quant}) to {result['out_dir']}")
    for name, size in result["files"]:
        print(f"  {name}  {size / 1e6:.1f} MB" if size >= 1e5 else f"  {name}  {size / 1e3:.1f} kB")
    if result["timings"]:
        print("  time: " + ", ".join(f"{k[:-2]} {v} s" for k, v in result["timings"].items()))
    check = result["check"]
    if check:
        print(f"checked on {len(check['rows'])} held-out prompts (greedy; first {check['first_tokens']} tokens / whole reply "
              "the same as the tuned model):")
        for loader, s in check["summary"].items():
            print(f"  {loader}: {s['first_match']}/{s['prompts']} / {s['identical']}/{s['prompts']}")
        print("  tokens/s: " + ", ".join(f"{k} {v}" for k, v in check["tokens_per_s"].items()))
        for note in check["notes"]:
            print(f"  note: {note}")
    return 0
