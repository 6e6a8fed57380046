"""The health report: every check finds the problem planted for it (at the right lines), and clean data
gives no findings."""

import json
from pathlib import Path

import pytest

from studio.data import check_dataset, load_dataset
from studio.data.health import MAX_LISTED, find_pii, luhn_ok

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "datasets"


def jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def chat(q: str, a: str | None = "Fine answer.") -> dict:
    msgs = [{"role": "user", "content": q}]
    if a is not None:
        msgs.append({"role": "assistant", "content": a})
    return {"messages": msgs}


def clean_chat(n: int = 12) -> list[dict]:
    return [chat(f"Question {w} about the weather today?", f"Answer {w}: it is sunny.") for w in
            ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen".split())[:n]]


def report(tmp_path, rows, name="d.jsonl", **kw):
    return check_dataset(load_dataset(jsonl(tmp_path / name, rows)), **kw)


def only(rep, check):
    f = rep.get(check)
    assert f is not None, [x.check for x in rep.findings]
    return f


class WordTokenizer:
    """A stand-in tokenizer: one token per word, a trivial chat template."""

    chat_template = "words"
    eos_token = "</s>"

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        return " ".join(f"{m['role']}: {m['content']}" for m in messages) + " </s>"

    def __call__(self, texts, add_special_tokens=True, **kw):
        return {"input_ids": [t.split() for t in texts]}


# ----------------------------------------------------------------------------- clean data

@pytest.mark.parametrize("name", ["support_chat.jsonl", "sentiment.csv", "instructions.jsonl", "pirate_style.jsonl"])
def test_shipped_samples_are_clean(name):
    if not (ASSETS / name).exists():
        pytest.skip(f"{name} not shipped")
    rep = check_dataset(load_dataset(ASSETS / name))
    assert [f for f in rep.findings if f.severity in ("error", "warning")] == []


def test_clean_file_has_no_findings(tmp_path):
    train = clean_chat(12)
    rep = report(tmp_path, train[:8], eval_ds=load_dataset(jsonl(tmp_path / "e.jsonl", train[8:])),
                 tokenizer=WordTokenizer(), max_length=64)
    assert rep.findings == [] and rep.worst is None and rep.rows == 8 and rep.labels is None
    assert rep.to_dict() == {"format": "chat", "rows": 8, "records": 8, "usable": 8, "malformed": 0, "findings": [],
                             "labels": None}
    assert len(rep.lengths) == 8


def test_clean_classification_has_no_findings(tmp_path):
    rows = [{"text": f"review number {i} is {'good' if i % 2 else 'bad'}", "label": "pos" if i % 2 else "neg"} for i in range(10)]
    rep = report(tmp_path, rows)
    assert rep.findings == [] and rep.labels == {"neg": 5, "pos": 5}


# ----------------------------------------------------------------------------- each check

def test_malformed(tmp_path):
    rep = report(tmp_path, [chat("a b"), "{broken", chat("c d"), '"just a string"'])
    f = only(rep, "malformed")
    assert f.count == 2 and f.records == [2, 4] and "line 2" in f.message and f.fix == "drop_malformed"


def test_missing_answer_and_empty(tmp_path):
    rows = clean_chat(5) + [chat("Where is the answer?", None), chat("Blank answer here", "   "), chat("", "Answer to nothing")]
    rep = report(tmp_path, rows)
    assert only(rep, "missing_answer").records == [6]
    assert only(rep, "missing_answer").severity == "warning"
    f = only(rep, "empty")
    assert f.records == [7, 8] and f.count == 2


def test_missing_answer_everywhere_is_an_error(tmp_path):
    rep = report(tmp_path, [{"instruction": f"task {i}"} for i in range(3)])
    f = only(rep, "missing_answer")
    assert f.severity == "error" and f.count == 3


def test_empty_text_and_label(tmp_path):
    rows = [{"text": "good thing", "label": "pos"}, {"text": " ", "label": "neg"}, {"text": "bad thing", "label": ""},
            {"text": "fine thing", "label": "pos"}, {"text": "awful thing", "label": "neg"}]
    assert only(report(tmp_path, rows), "empty").records == [2, 3]


def test_duplicate_counts_extra_copies(tmp_path):
    rows = clean_chat(6)
    rows = rows[:3] + [rows[0], rows[1], rows[0]] + rows[3:]
    rep = report(tmp_path, rows)
    f = only(rep, "duplicate")
    assert f.count == 3 and f.records == [4, 5, 6] and "line 4 repeats line 1" in f.message
    assert rep.get("near_duplicate") is None  # exact repeats are not reported twice


def test_near_duplicate(tmp_path):
    rows = clean_chat(6) + [chat("QUESTION one about   the weather today", "answer one - it is sunny!!")]
    f = only(report(tmp_path, rows), "near_duplicate")
    assert f.count == 1 and f.records == [7] and "line 1" in f.message


def test_near_duplicate_is_linear_not_pairwise(tmp_path):
    import time

    rows = [chat(f"q {i}", f"a {i}") for i in range(20000)] + [chat("Q 5!", "A 5.")]
    t = time.time()
    f = only(report(tmp_path, rows), "near_duplicate")
    assert f.records == [20001] and time.time() - t < 10


def test_leakage(tmp_path):
    train = clean_chat(10)
    eval_rows = [train[2], chat("Question FOUR about the weather today", "answer four: it is sunny"), chat("new", "one")]
    ev = load_dataset(jsonl(tmp_path / "eval.jsonl", eval_rows))
    f = only(report(tmp_path, train, eval_ds=ev), "leakage")
    assert f.records == [3, 4] and f.count == 2 and "2 eval records" in f.message and f.fix == "drop_leaked"


def test_imbalance(tmp_path):
    rows = [{"text": f"text {i}", "label": "a" if i < 16 else "b"} for i in range(20)]  # 16:4 = 4:1
    rep = report(tmp_path, rows)
    f = only(rep, "imbalance")
    assert f.severity == "warning" and "4.0 times" in f.message and rep.labels == {"a": 16, "b": 4}
    rows = [{"text": f"text {i}", "label": "a" if i < 15 else "b"} for i in range(20)]  # 3:1 is still fine
    assert report(tmp_path, rows, name="ok.jsonl").get("imbalance") is None
    one = report(tmp_path, [{"text": f"t {i}", "label": "x"} for i in range(4)], name="one.jsonl")
    assert only(one, "imbalance").severity == "error"


def test_label_variants(tmp_path):
    labels = ["positive"] * 5 + ["negative"] * 5 + ["Positive", "positive ", "NEGATIVE."]
    rows = [{"text": f"review {i}", "label": lab} for i, lab in enumerate(labels)]
    f = only(report(tmp_path, rows), "label_variants")
    assert f.records == [11, 12, 13] and f.count == 3 and "'positive'" in f.message and f.fix == "merge_label_variants"
    signs = [{"text": f"change {i}", "label": "+" if i % 2 else "-"} for i in range(10)]
    assert report(tmp_path, signs, name="signs.jsonl").get("label_variants") is None  # '+' and '-' are two labels


def test_conflicting_labels(tmp_path):
    rows = [{"text": "It works.", "label": "pos"}, {"text": "it works", "label": "neg"},
            {"text": "Bad.", "label": "neg"}, {"text": "Good.", "label": "pos"}]
    assert only(report(tmp_path, rows), "conflicting_labels").records == [1, 2]


def test_too_long(tmp_path):
    rows = clean_chat(8) + [chat("long " * 80, "answer " * 40)]
    rep = report(tmp_path, rows, tokenizer=WordTokenizer(), max_length=40)
    f = only(rep, "too_long")
    assert f.records == [9] and f.count == 1 and f.severity == "warning" and "40 tokens" in f.message
    assert len(rep.lengths) == 9 and max(rep.lengths) > 100
    assert report(tmp_path, rows, name="b.jsonl", tokenizer=WordTokenizer(), max_length=400).get("too_long") is None
    assert report(tmp_path, rows, name="c.jsonl", max_length=40).get("too_long") is None  # no tokenizer: not measured


def test_too_long_samples_large_sets(tmp_path):
    rows = [chat(f"q {i}", "a " * (60 if i % 4 == 0 else 5)) for i in range(400)]
    rep = report(tmp_path, rows, tokenizer=WordTokenizer(), max_length=30, length_sample=100)
    f = only(rep, "too_long")
    assert rep.length_sampled and len(rep.lengths) == 100 and 60 <= f.count <= 140 and "sampled" in f.message


@pytest.mark.parametrize("text,kind", [
    ("write to jane.doe@corp.io soon", "email address"),
    ("call me on +44 20 7946 0958", "phone number"),
    ("my number is (555) 123-4567", "phone number"),
    ("card 4111 1111 1111 1111 exp 12/29", "card number"),
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz123456", "API key or private key"),
    ("token hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "API key or private key"),
    ("aws AKIAIOSFODNN7EXAMPLE", "API key or private key"),
])
def test_pii_kinds(tmp_path, text, kind):
    rows = clean_chat(4) + [chat("Here you go", text)]
    f = only(report(tmp_path, rows), "pii")
    assert f.records == [5] and kind in f.message


def test_pii_ignores_lookalikes():
    assert find_pii("In 2023-10-12 we sold 100 000 000 units, order 12345678, card 4111 1111 1111 1112, "
                    "mail someone@example.com, sk-short") == {}
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_markup(tmp_path):
    rows = clean_chat(4) + [chat("Format this", "<p>Hello&nbsp;there</p>"),
                            chat("Show HTML code", "Use this:\n```html\n<div>hi</div>\n```\nDone.")]
    f = only(report(tmp_path, rows), "markup")
    assert f.records == [5] and "HTML" in f.message and f.fix == "strip_markup"
    md = [{"text": "Nice **bold** claim [link](https://x.io)", "label": "a"}, {"text": "plain words", "label": "b"},
          {"text": "more plain words", "label": "a"}, {"text": "even more plain", "label": "b"}]
    f = only(report(tmp_path, md, name="md.jsonl"), "markup")
    assert f.records == [1] and "Markdown" in f.message


def test_encoding(tmp_path):
    rows = clean_chat(4) + [chat("Caf\u00c3\u00a9 menu", "It\u00e2\u20ac\u2122s open"), chat("bell\x07 char", "ok then"),
                            chat("lost \ufffd text", "right")]
    f = only(report(tmp_path, rows), "encoding")
    assert f.records == [5, 6, 7] and "'Ã©'" in f.message and "control character" in f.message


def test_cp1252_file_gets_an_info_note(tmp_path):
    p = tmp_path / "w.csv"
    p.write_bytes("text,label\ncafé good,pos\ncrème bad,neg\n".encode("cp1252"))
    f = only(check_dataset(load_dataset(p)), "encoding")
    assert f.severity == "info" and "cp1252" in f.message


# ----------------------------------------------------------------------------- the dict form

def test_to_dict_caps_records_and_keeps_count(tmp_path):
    rows = [chat("same question", "same answer")] * 120
    d = report(tmp_path, rows).to_dict()
    assert set(d) == {"format", "rows", "records", "usable", "malformed", "findings", "labels"}
    f = next(x for x in d["findings"] if x["check"] == "duplicate")
    assert f["count"] == 119 and len(f["records"]) == MAX_LISTED and f["records"][0] == 2
    assert set(f) >= {"check", "severity", "count", "records", "message"}
    json.dumps(d)


def test_record_numbers_for_json_files(tmp_path):
    p = tmp_path / "d.json"
    p.write_text(json.dumps([{"text": "a", "label": "x"}, {"text": "a", "label": "x"}, {"text": "b", "label": "y"}]))
    f = only(check_dataset(load_dataset(p)), "duplicate")
    assert f.records == [2] and "record 2 repeats record 1" in f.message


# ----------------------------------------------------------------------------- found in the audit

def test_utf8_file_with_a_legacy_line_is_noted_not_called_garbled(tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_bytes('{"text": "café au lait", "label": "a"}\n'.encode() + '{"text": "crème brûlée", "label": "b"}\n'.encode("cp1252")
                  + '{"text": "thé vert", "label": "a"}\n{"text": "eau", "label": "b"}\n'.encode())
    rep = check_dataset(load_dataset(p))
    f = only(rep, "encoding")
    assert f.severity == "info" and f.records == [2] and f.count == 1 and "cp1252" in f.message and "line 2" in f.message
    assert [x.check for x in rep.findings] == ["encoding"]  # no mojibake warning about the UTF-8 lines


def test_too_long_message_reads_plainly(tmp_path):
    rows = clean_chat(8) + [chat("long " * 80, "answer " * 40)]
    f = only(report(tmp_path, rows, tokenizer=WordTokenizer(), max_length=40), "too_long")
    assert "where the answer is (line 9;" in f.message and "is, (" not in f.message


def test_secret_finder_matches_the_pattern():
    import random
    import re

    from studio.data import health

    rng = random.Random(1)
    starts = ("sk-", "sk-proj-", "hf_", "AKIA", "ghp_", "gho_", "xoxb-", "xoxp-", "AIza", "glpat-",
              "-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", "x", "_")
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    for _ in range(2000):
        word = "".join(rng.choice(chars) for _ in range(rng.randint(0, 45)))
        text = "".join(rng.choice(chars + " \n") for _ in range(rng.randint(0, 20)))
        text += rng.choice(starts) + word + rng.choice(starts) + word[::-1]
        expected = [(m.start(), m.group(0)) for m in health._SECRET.finditer(text)]
        assert list(health._find_secrets(text)) == expected, text
    assert isinstance(health._SECRET, re.Pattern)
