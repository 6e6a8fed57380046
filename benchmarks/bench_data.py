"""How fast data intake and the health report are, and how much memory they need.

    python benchmarks/bench_data.py                 # 100,000 chat records
    python benchmarks/bench_data.py --records 20000 --tokenizer-records 2000
    python benchmarks/bench_data.py --no-tokenizer  # skip the length check in model tokens
    python benchmarks/bench_data.py --big-mb 1024   # also stream a JSONL file of about this size

Writes a temporary JSONL of generated customer-support conversations (with some planted duplicates,
near duplicates and personal data so that the checks have something to find), then times
``load_dataset`` and ``check_dataset`` without a tokenizer, and separately the ``too_long`` check
with the embedded SmolLM2 tokenizer on a subset. Peak memory is the process's peak resident size.

``full_report_s`` is what a user waits for: ``python -m studio check FILE --max-length N --json`` run as
a command (interpreter start, tokenizer load and the length check on a sample included), with its
peak memory. ``--big-mb`` runs the same command (without a tokenizer) on a bigger file to show that
the report streams: its memory stays far below the file's size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ("order refund account password shipping box device battery screen app update help please thanks issue "
         "error login reset settings payment plan upgrade cancel delivery tracking warranty replace charger cable "
         "the a my your it is not when how why can I we you to of and in on for with").split()
FULL_REPORT_BUDGET_S = 15.0  # what the issue asks for 100,000 chat records
SYSTEM = "You are a friendly support assistant for Acme Home devices. Answer in short, clear steps."


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def generate(path: Path, n: int, seed: int = 0) -> int:
    """Write n chat records; returns the file size in bytes."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        previous = None
        for i in range(n):
            if previous is not None and i % 500 == 0:
                fh.write(previous)  # an exact duplicate
                continue
            q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
            a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))
            if i % 997 == 0:
                a += " You can reach me at sam.lee@mailbox.org."
            rec = {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Ticket {i}: {q}?"},
                                {"role": "assistant", "content": a.capitalize() + "."}]}
            previous = json.dumps(rec) + "\n"
            fh.write(previous)
    return path.stat().st_size


def _check_command(path: Path, *extra: str) -> tuple[int, float, float]:
    """Run ``python -m studio check FILE --json`` as a user would: (records, seconds, peak MB of that process)."""
    import subprocess

    # VmHWM, not ru_maxrss: ru_maxrss of a child starts at the size of the process that forked it
    code = ("import runpy, sys; sys.argv = ['studio', *sys.argv[1:]]; sys.path.insert(0, %r)\n"
            "try:\n    runpy.run_module('studio', run_name='__main__')\n"
            "finally:\n    print(next(ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM')), "
            "file=sys.stderr)" % str(Path(__file__).resolve().parents[1]))
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code, "check", str(path), "--json", *extra], capture_output=True, text=True)
    secs = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"check failed: {res.stderr.strip().splitlines()[0] if res.stderr.strip() else res.returncode}")
    rss_kb = int(res.stderr.strip().splitlines()[-1])
    return json.loads(res.stdout)["rows"], round(secs, 2), round(rss_kb / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--tokenizer-records", type=int, default=5_000, help="records for the length check in model tokens")
    ap.add_argument("--no-tokenizer", action="store_true")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--big-mb", type=int, default=0, help="also check a JSONL file of about this many MB (streamed, as `studio check` does)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from studio.data import check_dataset, load_dataset

    out: dict = {"cpu_cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chat.jsonl"
        t = time.perf_counter()
        size = generate(path, args.records)
        out["generate_s"] = round(time.perf_counter() - t, 2)
        out["records"] = args.records
        out["file_mb"] = round(size / 2**20, 1)
        base_rss = peak_rss_mb()

        t = time.perf_counter()
        ds = load_dataset(path)
        out["load_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        report = check_dataset(ds)
        out["check_s"] = round(time.perf_counter() - t, 2)
        out["load_plus_check_s"] = round(out["load_s"] + out["check_s"], 2)
        out["findings"] = {f.check: f.count for f in report.findings}
        out["peak_rss_mb"] = round(peak_rss_mb(), 1)
        out["peak_rss_before_load_mb"] = round(base_rss, 1)

        if not args.no_tokenizer:
            try:
                from studio.core import models

                t = time.perf_counter()
                tok = models.load_tokenizer("smollm2")
                out["tokenizer_load_s"] = round(time.perf_counter() - t, 2)
                sub = load_dataset(path)
                sub.records, sub.lines = sub.records[: args.tokenizer_records], sub.lines[: args.tokenizer_records]
                del ds
                t = time.perf_counter()
                rep = check_dataset(sub, tokenizer=tok, max_length=args.max_length)
                dt = time.perf_counter() - t
                n = len(sub.records)
                out["too_long_records"] = n
                out["too_long_check_s"] = round(dt, 2)
                out["too_long_records_per_s"] = round(n / dt)
                f = rep.get("too_long")
                out["too_long_share"] = round(f.count / n, 3) if f else 0.0
            except Exception as err:  # noqa: BLE001 - the benchmark still reports the rest
                out["tokenizer_error"] = str(err).splitlines()[0]

        if not args.no_tokenizer:
            rows, secs, rss = _check_command(path, "--max-length", str(args.max_length))
            out["full_report_s"] = secs
            out["full_report_within_15s"] = secs <= FULL_REPORT_BUDGET_S
            out["full_report_peak_rss_mb"] = rss

        if args.big_mb:
            big = Path(tmp) / "big.jsonl"
            n_big = int(args.records * args.big_mb * 2**20 / size)
            t = time.perf_counter()
            big_size = generate(big, n_big, seed=1)
            gen_s = time.perf_counter() - t
            rows, secs, rss = _check_command(big)
            out["big"] = {"file_mb": round(big_size / 2**20), "generate_s": round(gen_s, 1), "records": rows,
                          "report_s": secs, "peak_rss_mb": rss, "rss_per_file_byte": round(rss * 2**20 / big_size, 3)}

    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>26}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
