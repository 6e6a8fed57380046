"""The report streams: ``check_dataset`` on ``open_records`` gives the same report as on a loaded
dataset, ``studio check`` streams (memory stays small for big files), and classification lengths
are measured the way classification trains."""

import argparse
import json
from pathlib import Path

import pytest

from studio.cli import check as cli
from studio.data import RecordStream, check_dataset, load_dataset, open_records
from studio.core.errors import StudioError


def chat(q, a="A fine answer."):
    msgs = [{"role": "user", "content": q}]
    if a is not None:
        msgs.append({"role": "assistant", "content": a})
    return {"messages": msgs}


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def messy(tmp_path) -> Path:
    rows = [chat(f"question number {i} about things", f"answer {i}") for i in range(5000)]
    rows[10] = rows[3]  # duplicate
    rows[20] = chat("QUESTION number 4 about things!", "Answer 4")  # near duplicate
    rows[30] = chat("where is it?", None)  # missing answer
    rows[40] = chat("   ", "blank question")  # empty
    rows[50] = chat("mail me", "at jo.smith@corp.io or +44 20 7946 0958")  # pii
    rows[60] = chat("html", "<p>Hello&nbsp;there</p>")  # markup
    rows[70] = chat("Caf\u00c3\u00a9", "It\u00e2\u20ac\u2122s ok")  # encoding
    rows.insert(80, "{broken")  # malformed
    return write_jsonl(tmp_path / "messy.jsonl", rows)


def test_stream_gives_the_same_report(tmp_path, messy):
    ev = write_jsonl(tmp_path / "eval.jsonl", [chat("question number 7 about things", "answer 7"), chat("new", "one")])
    loaded = check_dataset(load_dataset(messy), load_dataset(ev))
    stream = open_records(messy)
    assert isinstance(stream, RecordStream) and stream.format == "chat" and stream.malformed == []
    streamed = check_dataset(stream, open_records(ev))
    assert streamed.to_dict() == loaded.to_dict()
    assert [f.records for f in streamed.findings] == [f.records for f in loaded.findings]
    assert {f.check for f in streamed.findings} == {"malformed", "missing_answer", "empty", "duplicate", "near_duplicate",
                                                    "leakage", "pii", "markup", "encoding"}
    assert stream.malformed == [(81, stream.malformed[0][1])]
    with pytest.raises(RuntimeError):
        list(stream)  # read once


def test_stream_classification_matches(tmp_path):
    rows = [{"text": f"review {i}", "label": ["pos", "neg", "Pos "][i % 3] if i < 90 else "neg"} for i in range(100)]
    rows += [{"text": "Review 0!", "label": "neg"}]
    p = write_jsonl(tmp_path / "c.jsonl", rows)
    loaded, streamed = check_dataset(load_dataset(p)), check_dataset(open_records(p))
    assert streamed.to_dict() == loaded.to_dict() and streamed.labels == loaded.labels
    assert {f.check for f in streamed.findings} >= {"label_variants", "conflicting_labels"}


def test_stream_with_no_usable_records_in_the_format(tmp_path):
    p = write_jsonl(tmp_path / "s.jsonl", [{"messages": [{"role": "narrator", "content": "x"}]}] * 3)
    with pytest.raises(StudioError, match="no usable records"):
        check_dataset(open_records(p, format="chat"))


def run_check(*argv) -> int:
    parser = argparse.ArgumentParser(prog="studio")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", *argv])
    return args.func(args)


def test_cli_streams_without_fixes(monkeypatch, capsys, messy):
    from studio.data import intake

    def no_load(*a, **kw):
        raise AssertionError("the report should stream, not load the whole file")

    monkeypatch.setattr(intake, "load_dataset", no_load)
    assert run_check(str(messy), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["rows"] == 5000 and {f["check"] for f in d["findings"]} >= {"malformed", "duplicate", "pii"}


def test_cli_max_mb(capsys, messy):
    assert run_check(str(messy), "--max-mb", "0.01") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "limit" in err and "--max-mb" in err
    assert run_check(str(messy), "--max-mb", "50", "--json") == 0


def test_streamed_report_memory_does_not_grow_with_the_records(tmp_path, monkeypatch):
    import tracemalloc

    from studio.data.health import similar

    # the near-text index takes a few KB per record for the first MINHASH_LIMIT records, then stops growing
    monkeypatch.setattr(similar, "MINHASH_LIMIT", 1000)
    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 8)
    peaks, sizes = [], []
    for n in (4000, 14000):
        p = write_jsonl(tmp_path / f"big{n}.jsonl", [chat(f"{i} {text}", f"{text} {i}") for i in range(n)])
        tracemalloc.start()
        try:
            rep = check_dataset(open_records(p))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert rep.rows == n
        sizes.append(p.stat().st_size)
    # what grows is a digest and a line number per record, not the records (loaded, they take about 2x the file)
    assert peaks[1] - peaks[0] < 0.4 * (sizes[1] - sizes[0]), (peaks, sizes)


def test_classification_length_is_measured_as_classification_trains(tokenizer, tmp_path):
    text = "This product is great and I would buy it again"
    n = len(tokenizer(text)["input_ids"])  # what classify.encode gives the model: no end-of-text token
    rows = [{"text": text, "label": "pos"}, {"text": "bad", "label": "neg"}]
    rep = check_dataset(load_dataset(write_jsonl(tmp_path / "c.jsonl", rows)), tokenizer=tokenizer, max_length=n)
    assert rep.get("too_long") is None and max(rep.lengths) == n
    rep = check_dataset(load_dataset(tmp_path / "c.jsonl"), tokenizer=tokenizer, max_length=n - 1)
    assert rep.get("too_long").records == [1]
