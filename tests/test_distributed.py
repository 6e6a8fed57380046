"""Two training processes on the CPU (torchrun, gloo) against one with the same global batch: the run finishes,
every step appears once in events.jsonl, and the loss curves agree."""

import json
import time

from studio.cli.main import main

TOLERANCE = 0.01  # relative difference of each step's loss (measured here: the same to five digits)


def losses(run):
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    return events, {e["step"]: e["loss"] for e in events if e["type"] == "log"}


def test_two_processes_match_one_with_the_same_global_batch(tiny_model_dir, chat_file, tmp_path, capsys):
    common = ["--set", f"model.source={tiny_model_dir}", "--set", f"data.train={chat_file}", "--set", "train.max_steps=6",
              "--set", "train.group_by_length=false", "--set", "lora.dropout=0", "--set", "data.eval_fraction=0",
              "--set", "train.learning_rate=0.005", "--set", "data.max_length=64", "--set", "train.warmup_ratio=0"]
    timings = {}
    for name, procs, batch in (("one", 1, 8), ("two", 2, 4)):
        t = time.time()
        assert main(["train", "examples/quickstart.yaml", *common, "--set", f"output_dir={tmp_path / name}",
                     "--set", f"launch.processes={procs}", "--set", f"train.batch_size={batch}"]) == 0
        timings[name] = time.time() - t
    out = capsys.readouterr().out
    assert "2 processes" in out
    events, two = losses(tmp_path / "two")
    _, one = losses(tmp_path / "one")
    assert [e["step"] for e in events if e["type"] == "log"] == [1, 2, 3, 4, 5, 6]  # each step once: rank 0 writes
    assert [e["type"] for e in events].count("start") == 1 and [e["type"] for e in events].count("end") == 1
    start = next(e for e in events if e["type"] == "start")
    assert start["world_size"] == 2
    assert (tmp_path / "two" / "launch.sh").exists() and "torch.distributed.run" in (tmp_path / "two" / "launch.sh").read_text()
    worst = max(abs(two[s] - one[s]) / one[s] for s in one)
    print(f"\n1 process: {timings['one']:.1f} s, 2 processes: {timings['two']:.1f} s; losses 1 process {list(one.values())}, "
          f"2 processes {list(two.values())}; worst relative difference {worst:.4f}")
    assert worst < TOLERANCE
    assert one[6] < one[1]  # and it learned
