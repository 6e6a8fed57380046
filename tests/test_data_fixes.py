"""Fixes write a new version and a record of what they did; the original file is never touched."""

import json
from pathlib import Path

import pytest

from studio.data import FIXES, apply_fixes, check_dataset, load_dataset, strip_markup
from studio.core.errors import StudioError


def jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def chat(q, a="An answer."):
    msgs = [{"role": "user", "content": q}]
    if a is not None:
        msgs.append({"role": "assistant", "content": a})
    return {"messages": msgs}


@pytest.fixture
def messy(tmp_path) -> Path:
    rows = [chat("alpha question"), chat("beta question"), chat("alpha question"), "{broken",
            chat("BETA question!!"), chat("gamma question", None), chat("delta <b>bold</b> question", "Sure&amp;done"),
            chat("epsilon question")]
    return jsonl(tmp_path / "messy.jsonl", rows)


def test_fixes_write_a_new_version_and_keep_the_original(tmp_path, messy):
    before = messy.read_bytes()
    ds = load_dataset(messy)
    out = tmp_path / "versions"
    new, rec = apply_fixes(ds, ["drop_duplicates", "drop_near_duplicates", "drop_empty", "drop_malformed", "strip_markup"],
                           out_dir=out)
    assert messy.read_bytes() == before
    assert Path(rec.output) == out / "messy.v2.jsonl" and Path(new.source) == out / "messy.v2.jsonl"
    by = {f.fix: f for f in rec.fixes}
    assert by["drop_duplicates"].removed == [3]
    assert by["drop_near_duplicates"].removed == [5]
    assert by["drop_empty"].removed == [6]
    assert by["drop_malformed"].removed == [4]
    assert by["strip_markup"].changed == [7]
    assert rec.rows_before == 7 and rec.rows_after == 4 and rec.origin == [1, 2, 7, 8]
    assert new.records[2]["messages"] == [{"role": "user", "content": "delta bold question"},
                                          {"role": "assistant", "content": "Sure&done"}]
    saved = json.loads((out / "messy.v2.fixes.json").read_text())
    assert saved["output"] == rec.output and saved["fixes"][0]["fix"] == "drop_malformed"
    again = load_dataset(rec.output)
    assert again.format == "chat" and again.records == new.records and again.lines == [1, 2, 3, 4]
    assert check_dataset(again).findings == []
    assert "7 -> 4 records" in rec.summary()


def test_versions_count_up(tmp_path, messy):
    ds = load_dataset(messy)
    _, r2 = apply_fixes(ds, ["drop_duplicates"], out_dir=tmp_path / "v")
    _, r3 = apply_fixes(ds, ["drop_duplicates"], out_dir=tmp_path / "v")
    v3 = load_dataset(r3.output)
    _, r4 = apply_fixes(v3, ["drop_empty"], out_dir=tmp_path / "v")
    assert [Path(r.output).name for r in (r2, r3, r4)] == ["messy.v2.jsonl", "messy.v3.jsonl", "messy.v4.jsonl"]


def test_default_folder_is_next_to_the_source(tmp_path, messy):
    _, rec = apply_fixes(load_dataset(messy), ["drop_duplicates"])
    assert Path(rec.output) == tmp_path / "versions" / "messy.v2.jsonl"


def test_merge_label_variants_and_classification_round_trip(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text("text,label\ngood one,positive\ngreat one,positive\nfine one,Positive \nbad one,negative\n"
                 "awful one,NEGATIVE\nsad one,negative\n")
    ds = load_dataset(p)
    assert check_dataset(ds).get("label_variants").count == 2
    new, rec = apply_fixes(ds, ["merge_label_variants"], out_dir=tmp_path)
    assert [r["label"] for r in new.records] == ["positive"] * 3 + ["negative"] * 3
    assert rec.fixes[0].changed == [4, 6] and "'Positive ' -> 'positive'" in rec.fixes[0].note
    again = load_dataset(rec.output)
    assert again.format == "classification" and check_dataset(again).findings == []


def test_strip_markup_in_text_data(tmp_path):
    p = jsonl(tmp_path / "t.jsonl", [{"text": "<div>Hello <b>world</b></div>&amp; more"},
                                     {"text": "# Title\nSome **bold** and [a link](https://x.io)."}])
    new, rec = apply_fixes(load_dataset(p), ["strip_markup"], out_dir=tmp_path / "v")
    assert new.records == [{"text": "Hello world\n& more"}, {"text": "Title\nSome bold and a link."}]
    assert check_dataset(load_dataset(rec.output)).get("markup") is None
    assert strip_markup("keep <notatag> and a < b > c") == "keep <notatag> and a < b > c"


def test_drop_leaked(tmp_path):
    train = [chat(f"question {w}") for w in "one two three four".split()]
    ev = load_dataset(jsonl(tmp_path / "eval.jsonl", [chat("Question TWO"), chat("other")]))
    ds = load_dataset(jsonl(tmp_path / "train.jsonl", train))
    assert check_dataset(ds, ev).get("leakage").records == [2]
    new, rec = apply_fixes(ds, ["drop_leaked"], eval_ds=ev, out_dir=tmp_path / "v")
    assert rec.fixes[0].removed == [2] and len(new.records) == 3
    assert check_dataset(new, ev).get("leakage") is None
    with pytest.raises(StudioError, match="needs the eval data"):
        apply_fixes(ds, ["drop_leaked"], out_dir=tmp_path / "v")


def test_preference_and_text_round_trip(tmp_path):
    pref = jsonl(tmp_path / "p.jsonl", [{"prompt": "Pick", "chosen": "Good", "rejected": "Bad"}] * 2)
    new, rec = apply_fixes(load_dataset(pref), ["drop_duplicates"], out_dir=tmp_path / "v")
    again = load_dataset(rec.output)
    assert again.format == "preference" == new.format and again.records == new.records == [
        {"messages": [{"role": "user", "content": "Pick"}], "chosen": "Good", "rejected": "Bad"}]
    txt = tmp_path / "t.txt"
    txt.write_text("one\ntwo\none\n")
    _, rec = apply_fixes(load_dataset(txt), ["drop_duplicates"], out_dir=tmp_path / "v")
    assert load_dataset(rec.output).records == [{"text": "one"}, {"text": "two"}]


def test_bad_requests(tmp_path, messy):
    ds = load_dataset(messy)
    with pytest.raises(StudioError, match="unknown fix 'drop_everything'"):
        apply_fixes(ds, ["drop_everything"], out_dir=tmp_path)
    one = load_dataset(jsonl(tmp_path / "one.jsonl", [chat("q", None)]))
    with pytest.raises(StudioError, match="remove every record"):
        apply_fixes(one, ["drop_empty"], out_dir=tmp_path / "v")
    assert not (tmp_path / "v").exists()
    assert set(FIXES) == {"drop_duplicates", "drop_near_duplicates", "drop_empty", "drop_malformed",
                          "merge_label_variants", "strip_markup", "drop_leaked", "drop_identical_pairs",
                          "fill_placeholders", "repair_text"}
