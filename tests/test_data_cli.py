"""``check FILE``: one JSON object with --json, a readable table without, exit 2 and one line for unusable files."""

import argparse
import json
from pathlib import Path

import pytest

from studio.cli import check as cli

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "datasets"


def run_check(*argv) -> int:
    parser = argparse.ArgumentParser(prog="studio")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", *argv])
    return args.func(args)


@pytest.fixture
def dupes(tmp_path) -> Path:
    rows = [{"text": f"review {i}", "label": "good" if i % 2 else "bad"} for i in range(6)]
    rows.append(rows[0])
    p = tmp_path / "d.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_json_output_is_one_object(capsys, dupes):
    assert run_check(str(dupes), "--json") == 0
    out = capsys.readouterr().out
    d = json.loads(out)
    assert out.count("\n") == 1 and d["format"] == "classification" and d["rows"] == 7
    assert d["labels"] == {"bad": 4, "good": 3}
    assert [f["check"] for f in d["findings"]] == ["duplicate"] and d["findings"][0]["records"] == [7]


def test_table_output(capsys, dupes):
    assert run_check(str(dupes)) == 0
    out = capsys.readouterr().out
    assert "classification, 7 records" in out and "duplicate" in out and "lines 7" in out and "1 warning" in out


def test_clean_file_says_so(capsys):
    assert run_check(str(ASSETS / "sentiment.csv")) == 0
    assert "no problems found" in capsys.readouterr().out


def test_unusable_file_exits_2_with_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('"not records"')
    assert run_check(str(bad), "--json") == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and cap.err.startswith("error: ") and "bad.json" in cap.err
    assert run_check(str(tmp_path / "missing.csv")) == 2
    assert "file not found" in capsys.readouterr().err


def test_eval_columns_format_and_fix(capsys, tmp_path, dupes):
    ev = tmp_path / "e.csv"
    ev.write_text("review,stars\nreview 1,good\nsomething else,bad\n")
    assert run_check(str(dupes), "--eval", str(ev), "--column", "text=review", "--column", "label=stars", "--json") == 2
    assert "not in the file" in capsys.readouterr().err  # the mapping applies to both files
    ev.write_text("text,label\nreview 1,good\nsomething else,bad\n")
    assert run_check(str(dupes), "--eval", str(ev), "--json") == 0
    checks = {f["check"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert checks["leakage"]["records"] == [2]
    assert run_check(str(dupes), "--fix", "drop_duplicates", "--out-dir", str(tmp_path / "v"), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["findings"] == [] and d["fixed"]["output"].endswith("d.v2.jsonl")
    assert run_check(str(dupes), "--format", "text", "--json") == 0
    assert json.loads(capsys.readouterr().out)["format"] == "text"


def test_help_text():
    parser = argparse.ArgumentParser(prog="studio")
    sub = parser.add_subparsers(dest="command")
    p = cli.add_parser(sub)
    text = p.format_help()
    for flag in ("--eval", "--max-length", "--model", "--format", "--json"):
        assert flag in text


def test_output_into_a_closed_pipe_is_not_a_traceback(monkeypatch):
    # `studio check FILE | head -1`: the reader goes away; that is no error and needs no traceback
    import io
    import os
    import sys

    r, w = os.pipe()

    class ClosedPipe(io.TextIOBase):
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            return w

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    try:
        assert run_check(str(ASSETS / "sentiment.csv")) == 0
    finally:
        os.close(r)
        os.close(w)
