"""``python -m studio check FILE``: the dataset health report without a browser.

Exit status: 0 when the file loaded (whatever the findings), 2 when it cannot be used (one line
``error: ...`` on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from studio.data.fixes import FIXES
from studio.data.formats import FORMATS
from studio.data.intake import DEFAULT_MAX_BYTES
from studio.core.errors import StudioError

DEFAULT_MODEL = "smollm2"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "check", help="check a dataset's health (duplicates, leakage, balance, length, PII, ...)",
        description="Load a data file as training would and report what would hurt training: malformed rows, "
                    "missing or empty answers, duplicates and near duplicates, train/eval leakage, label imbalance "
                    "and variants, examples cut by the max length, personal data, template placeholders, markup and "
                    "encoding damage, media left out, tool calling and single-answer feedback data.",
        epilog="Exit status: 0 when the file loaded (whatever was found), 2 when it cannot be used.")
    p.add_argument("file", help="the data file: .jsonl, .json, .csv, .tsv, .parquet or .txt (or .zip of data and images)")
    p.add_argument("--eval", metavar="FILE", help="the eval file, to find eval records that are also in FILE")
    p.add_argument("--max-length", type=int, metavar="N",
                   help=f"count examples longer than N tokens of the model (default model: {DEFAULT_MODEL})")
    p.add_argument("--model", metavar="SOURCE",
                   help="the model whose tokenizer and chat template measure lengths (embedded name, folder or hub id)")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                   help="how to read the records (default: detected from the columns)")
    p.add_argument("--column", action="append", metavar="FIELD=COLUMN", default=[],
                   help="which column holds a field, e.g. --column text=review --column label=sentiment (repeatable)")
    p.add_argument("--fix", action="append", metavar="FIX", default=[], choices=FIXES,
                   help=f"apply a fix and save a new version (repeatable): {', '.join(FIXES)}")
    p.add_argument("--fill", action="append", metavar="NAME=VALUE", default=[],
                   help="a value for a template placeholder the report lists, e.g. --fill name=Aria --fill author=Acme "
                        "(repeatable; implies --fix fill_placeholders)")
    p.add_argument("--max-mb", type=float, metavar="MB",
                   help=f"refuse files bigger than this (default: {DEFAULT_MAX_BYTES / 2**20:.0f} MB)")
    p.add_argument("--out-dir", metavar="DIR", help="where fixed versions go (default: versions/ next to FILE)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    from studio import tasks

    for task in tasks.all_tasks():  # flags of a task's own report (the vision task's --images)
        for flag, options in task.check_options:
            p.add_argument(flag, **options)
    p.set_defaults(func=run)
    return p


def _columns(pairs: list[str]) -> dict | None:
    cols = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise StudioError(f"--column {pair}: expected FIELD=COLUMN, e.g. text=review")
        cols[key.strip()] = value.strip()
    return cols or None


def _fills(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise StudioError(f"--fill {pair}: expected NAME=VALUE, e.g. name=Aria")
        values[key.strip()] = value
    return values


def run(args) -> int:
    try:
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
        return code
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (``| head``): not an error worth a traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args) -> int:
    from studio import tasks

    for task in tasks.all_tasks():  # a task with data of its own kind (images) reports on it itself
        code = task.check_file(args, format_report)
        if code is not None:
            return code
    from studio.data.health import check_dataset
    from studio.data.intake import load_dataset, open_records

    columns = _columns(getattr(args, "column", None) or [])
    fill = _fills(getattr(args, "fill", None) or [])
    fixes = list(getattr(args, "fix", None) or [])
    if fill and "fill_placeholders" not in fixes:
        fixes.append("fill_placeholders")
    # Without fixes the report streams through the files, so memory stays small for big files.
    max_mb = getattr(args, "max_mb", None)
    if max_mb is not None and max_mb <= 0:
        raise StudioError(f"--max-mb {max_mb:g}: give a positive size in MB")
    max_bytes = int(max_mb * 2**20) if max_mb else DEFAULT_MAX_BYTES
    read = load_dataset if fixes else open_records
    ds = read(args.file, format=args.format, columns=columns, max_bytes=max_bytes)
    eval_ds = read(args.eval, format=args.format, columns=columns, max_bytes=max_bytes) if args.eval else None
    tokenizer = None
    if args.max_length is not None and args.max_length < 1:
        raise StudioError(f"--max-length {args.max_length}: give a positive number of tokens")
    if args.model or args.max_length:
        from studio.core import models

        tokenizer = models.load_tokenizer(args.model or DEFAULT_MODEL)
    fixed = None
    model = (args.model or DEFAULT_MODEL) if tokenizer is not None else ""
    if fixes:
        from studio.data.fixes import apply_fixes

        ds, fixed = apply_fixes(ds, fixes, eval_ds=eval_ds, out_dir=args.out_dir, fill=fill)
    report = check_dataset(ds, eval_ds, tokenizer=tokenizer, max_length=args.max_length, model=model)
    if args.json:
        out = report.to_dict()
        if fixed is not None:
            out["fixed"] = fixed.to_dict() | {"origin": None}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    if fixed is not None:
        print(f"fixed: {fixed.summary()}")
    print(format_report(report, ds, model=model or None))
    return 0


def format_report(report, ds, model: str | None = None, width: int = 100) -> str:
    """The report as a readable table."""
    cols = ", ".join(f"{k}={v}" for k, v in ds.columns.items())
    out = [f"{ds.source}: {report.format}, {report.counts_line()} (columns: {cols})"]
    if report.labels:
        n = sum(report.labels.values())
        out.append("labels: " + ", ".join(f"{lab} {k} ({100 * k / n:.0f}%)" for lab, k in report.labels.items()))
    if report.lengths:
        lengths = sorted(report.lengths)
        p95 = lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))]
        sampled = f" (sample of {len(lengths):,})" if report.length_sampled else ""
        out.append(f"tokens per example ({model}){sampled}: median {lengths[len(lengths) // 2]}, 95% {p95}, max {lengths[-1]}")
    if not report.findings:
        out.append("no problems found")
        return "\n".join(out)
    out.append("")
    out.append(f"{'SEVERITY':<9} {'CHECK':<19} {'COUNT':>6}  WHERE")
    unit = "line" if ds.line_based else "record"
    for f in report.findings:
        shown = ", ".join(map(str, f.records[:6])) + (", ..." if len(f.records) > 6 else "")
        where = f"{unit}s {shown}" if f.records else ""
        out.append(f"{f.severity:<9} {f.check:<19} {f.count:>6}  {where}")
        out.extend(textwrap.wrap(f.message, width=width, initial_indent=" " * 10, subsequent_indent=" " * 10))
        if f.check == "placeholder" and f.details:
            fills = " ".join(f"--fill {p['key']}=..." for p in f.details["placeholders"][:6])
            out.append(f"{'':10}To fill them: python -m studio check {ds.source} {fills}")
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in ("error", "warning", "info")}
    out.append("")
    out.append(", ".join(f"{k} {s}{'s' if k != 1 else ''}" for s, k in counts.items() if k))
    return "\n".join(out)
