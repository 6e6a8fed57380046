"""How fast data intake and the health report are, and how much memory they need.

    python benchmarks/bench_data.py                 # 100,000 chat records
    python benchmarks/bench_data.py --records 20000 --tokenizer-records 2000
    python benchmarks/bench_data.py --no-tokenizer  # skip the length check in model tokens
    python benchmarks/bench_data.py --big-mb 1024   # also stream a JSONL file of about this size

Writes a temporary JSONL of generated customer-support conversations (with some planted duplicates,
near duplicates and personal data so that the checks have something to find), then times
``load_dataset`` and ``check_dataset`` without a tokenizer, and separately the ``too_long`` check
with the embedded SmolLM2 tokenizer on a subset. Peak memory is the process's peak resident size.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--tokenizer-records", type=int, default=5_000, help="records for the length check in model tokens")
    ap.add_argument("--no-tokenizer", action="store_true")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--big-mb", type=int, default=0, help="also load and check a JSONL file of about this many MB")
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
                from studio import models

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

        if args.big_mb:
            big = Path(tmp) / "big.jsonl"
            n_big = int(args.records * args.big_mb * 2**20 / size)
            big_size = generate(big, n_big, seed=1)
            code = ("import resource,sys,time; sys.path.insert(0, %r); from studio.data import load_dataset, check_dataset; "
                    "t=time.perf_counter(); ds=load_dataset(%r); t1=time.perf_counter(); r=check_dataset(ds); t2=time.perf_counter(); "
                    "print(len(ds.records), round(t1-t,1), round(t2-t1,1), round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024))"
                    % (str(Path(__file__).resolve().parents[1]), str(big)))
            import subprocess

            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            rows, load_s, check_s, rss = res.stdout.split()
            out["big"] = {"file_mb": round(big_size / 2**20), "records": int(rows), "load_s": float(load_s),
                          "check_s": float(check_s), "peak_rss_mb": int(rss),
                          "rss_per_file_byte": round(int(rss) * 2**20 / big_size, 2)}

    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>26}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
