"""Reading data files: real files in other tools' formats, and messy files made the way spreadsheets and
scrapers make them."""

import json
from pathlib import Path

import pytest

from studio.data import FORMATS, Dataset, load_dataset, load_records
from studio.core.errors import StudioError

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
ASSETS = Path(__file__).resolve().parents[1] / "assets" / "datasets"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared sample files not present")


def write(path: Path, text: str, encoding: str = "utf-8") -> str:
    path.write_bytes(text.encode(encoding))
    return str(path)


def jsonl(path: Path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return str(path)


# ----------------------------------------------------------------------------- real files

@needs_samples
def test_alpaca_sample():
    ds = load_dataset(SAMPLES / "alpaca_en_demo.json")
    assert ds.format == "alpaca" and len(ds.records) == 999 and not ds.malformed
    assert ds.columns == {"instruction": "instruction", "input": "input", "output": "output"}
    assert ds.lines[:3] == [1, 2, 3]
    first = ds.records[0]["messages"]
    assert [m["role"] for m in first] == ["user", "assistant"]
    assert first[0]["content"] == "Describe a process of making crepes."
    with_input = next(r for r in json.loads((SAMPLES / "alpaca_en_demo.json").read_text()) if r["input"])
    rec = next(r for r in ds.records if r["messages"][0]["content"].startswith(with_input["instruction"]))
    assert rec["messages"][0]["content"] == with_input["instruction"] + "\n\n" + with_input["input"]


@needs_samples
def test_preference_sample():
    ds = load_dataset(SAMPLES / "dpo_en_demo.json")
    assert ds.format == "preference" and len(ds.records) == 300
    rec = ds.records[0]
    assert set(rec) == {"messages", "chosen", "rejected"}
    assert rec["messages"][0]["role"] == "user" and rec["messages"][0]["content"].startswith("Hi! I'd like to create")
    assert rec["chosen"].startswith("That sounds like a fun") and isinstance(rec["rejected"], str)


@needs_samples
def test_text_sample():
    ds = load_dataset(SAMPLES / "c4_demo.jsonl")
    assert ds.format == "text" and len(ds.records) == 300 and set(ds.records[0]) == {"text"}
    assert ds.lines[-1] == 300


@pytest.mark.parametrize("name,fmt,rows", [("support_chat.jsonl", "chat", 90), ("sentiment.csv", "classification", 200),
                                           ("instructions.jsonl", "alpaca", 80)])
def test_shipped_samples(name, fmt, rows):
    ds = load_dataset(ASSETS / name)
    assert ds.format == fmt and len(ds.records) == rows and not ds.malformed
    assert load_records(ASSETS / name) == ds.records


# ----------------------------------------------------------------------------- CSV as spreadsheets write it

def test_csv_bom_crlf_semicolon(tmp_path):
    f = write(tmp_path / "excel.csv", '\ufeffReview;Sentiment\r\n"Great café; loved it";positive\r\n'
                                      'Terrible service;negative\r\n"He said ""wow""";positive\r\n')
    ds = load_dataset(f)
    assert ds.format == "classification" and ds.columns == {"text": "Review", "label": "Sentiment"}
    assert ds.records == [{"text": "Great café; loved it", "label": "positive"},
                          {"text": "Terrible service", "label": "negative"},
                          {"text": 'He said "wow"', "label": "positive"}]
    assert ds.lines == [2, 3, 4]


def test_csv_cp1252(tmp_path):
    f = write(tmp_path / "legacy.csv", "text,label\nNaïve résumé — it’s “great”,positive\nAwful crème brûlée,negative\n",
              encoding="cp1252")
    ds = load_dataset(f)
    assert ds.encoding == "cp1252"
    assert ds.records[0]["text"] == "Naïve résumé — it’s “great”"
    assert ds.records[1]["text"] == "Awful crème brûlée"


def test_csv_without_header(tmp_path):
    f = write(tmp_path / "nohead.csv", "I love this product so much,positive\nTerrible quality and it broke,negative\n"
                                       "Best purchase this year,positive\nWould not buy again ever,negative\n")
    ds = load_dataset(f)
    assert ds.format == "classification" and ds.columns == {"text": "1", "label": "2"}
    assert len(ds.records) == 4 and ds.lines == [1, 2, 3, 4]
    assert ds.records[0] == {"text": "I love this product so much", "label": "positive"}


def test_csv_unknown_header_names_detected(tmp_path):
    rows = "\n".join(f"This is a fairly long comment number {i} about the thing,{'happy' if i % 2 else 'sad'}" for i in range(8))
    ds = load_dataset(write(tmp_path / "h.csv", "Comment,Mood\n" + rows + "\n"))
    assert ds.format == "classification" and ds.columns == {"text": "Comment", "label": "Mood"} and len(ds.records) == 8


def test_csv_ragged_rows_and_multiline_values(tmp_path):
    f = write(tmp_path / "ragged.csv", 'text,label\nfine row,pos\nrow, with comma,neg\nshort\n"multi\nline",pos\n'
                                       "trailing empties,neg,,\n\nlast,pos\n")
    ds = load_dataset(f)
    assert [r["text"] for r in ds.records] == ["fine row", "multi\nline", "trailing empties", "last"]
    assert ds.lines == [2, 5, 7, 9]
    assert [n for n, _ in ds.malformed] == [3, 4]
    assert "3 fields, expected 2" in ds.malformed[0][1] and "1 field, expected 2" in ds.malformed[1][1]


def test_tsv_and_tab_sniffing(tmp_path):
    ds = load_dataset(write(tmp_path / "a.tsv", "prompt\tcompletion\nhi, there\thello\n"))
    assert ds.format == "prompt_completion"
    assert ds.records[0]["messages"] == [{"role": "user", "content": "hi, there"}, {"role": "assistant", "content": "hello"}]
    ds = load_dataset(write(tmp_path / "tabs.csv", "question\tanswer\nWhat, where?\tHere, there.\n"))
    assert ds.records[0]["messages"][1]["content"] == "Here, there."


def test_numeric_labels_stay_strings(tmp_path):
    ds = load_dataset(jsonl(tmp_path / "n.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": 0.0},
                                                     {"text": "c", "label": True}]))
    assert [r["label"] for r in ds.records] == ["1", "0", "true"]
    ds = load_dataset(write(tmp_path / "n.csv", "text,label\nx,1\ny,2\n"))
    assert [r["label"] for r in ds.records] == ["1", "2"]


# ----------------------------------------------------------------------------- JSON and JSONL

def test_jsonl_broken_lines_are_named(tmp_path):
    f = jsonl(tmp_path / "b.jsonl", [{"text": "a", "label": "x"}, '{"text": "b", "label": ', "", "[1, 2]",
                                     {"text": ["no"], "label": "y"}, {"text": "c", "label": "x"}])
    ds = load_dataset(f)
    assert ds.lines == [1, 6]
    assert [n for n, _ in ds.malformed] == [2, 4, 5]
    assert "invalid JSON" in ds.malformed[0][1]
    assert "expected an object" in ds.malformed[1][1]
    assert "'text' is a list" in ds.malformed[2][1]


def test_openai_chat_with_parts_and_sharegpt(tmp_path):
    ds = load_dataset(jsonl(tmp_path / "c.jsonl", [{"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
        {"role": "assistant", "content": "Hi!"}]}]))
    assert ds.format == "chat"
    assert ds.records[0]["messages"][1] == {"role": "user", "content": "Hello\nthere"}
    ds = load_dataset(jsonl(tmp_path / "s.jsonl", [{"system": "Be kind.", "conversations": [
        {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]}]))
    assert ds.format == "sharegpt"
    assert ds.records[0]["messages"] == [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"},
                                         {"role": "assistant", "content": "Hello!"}]


def test_unsupported_roles_and_parts_are_malformed(tmp_path):
    ds = load_dataset(jsonl(tmp_path / "t.jsonl", [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "narrator", "content": "x"}]},
        {"messages": [{"role": "user", "content": [{"type": "table", "rows": "x"}]}]},
        {"messages": "not a list"}]))
    assert len(ds.records) == 1 and [n for n, _ in ds.malformed] == [2, 3, 4]
    assert "role 'narrator'" in ds.malformed[0][1] and "'table' part" in ds.malformed[1][1]


def test_alpaca_with_system_and_missing_output(tmp_path):
    ds = load_dataset(jsonl(tmp_path / "a.jsonl", [
        {"instruction": "Add", "input": "2 and 2", "output": "4", "system": "You are a calculator."},
        {"instruction": "Say hi", "input": "", "output": "hi"},
        {"instruction": "No answer", "input": ""}]))
    assert ds.format == "alpaca"
    assert ds.records[0]["messages"] == [{"role": "system", "content": "You are a calculator."},
                                         {"role": "user", "content": "Add\n\n2 and 2"}, {"role": "assistant", "content": "4"}]
    assert ds.records[1]["messages"][0]["content"] == "Say hi"
    assert ds.records[2]["messages"] == [{"role": "user", "content": "No answer"}]  # kept; the report flags it


def test_json_shapes(tmp_path):
    ds = load_dataset(write(tmp_path / "w.json", json.dumps({"data": [{"question": "q1", "answer": "a1"},
                                                                      {"question": "q2", "answer": "a2"}]})))
    assert ds.format == "prompt_completion" and ds.lines == [1, 2]
    ds = load_dataset(write(tmp_path / "cols.json", json.dumps({"text": ["a b", "c d"], "label": [0, 1]})))
    assert ds.records == [{"text": "a b", "label": "0"}, {"text": "c d", "label": "1"}]
    ds = load_dataset(write(tmp_path / "pandas.json", json.dumps({"text": {"0": "x", "1": "y"}, "label": {"0": "p", "1": "n"}})))
    assert ds.records == [{"text": "x", "label": "p"}, {"text": "y", "label": "n"}]
    ds = load_dataset(write(tmp_path / "lines.json", '{"text": "a"}\n{"text": "b"}\n'))
    assert ds.format == "text" and ds.lines == [1, 2]


def test_preference_styles(tmp_path):
    ds = load_dataset(jsonl(tmp_path / "p.jsonl", [
        {"prompt": "Pick one", "chosen": "Good", "rejected": "Bad"},
        {"prompt": [{"role": "user", "content": "Q"}], "chosen": [{"role": "assistant", "content": "A"}],
         "rejected": [{"role": "assistant", "content": "B"}]}]))
    assert ds.format == "preference"
    assert ds.records[0] == {"messages": [{"role": "user", "content": "Pick one"}], "chosen": "Good", "rejected": "Bad"}
    assert ds.records[1] == {"messages": [{"role": "user", "content": "Q"}], "chosen": "A", "rejected": "B"}


def test_utf16_and_legacy_jsonl(tmp_path):
    ds = load_dataset(write(tmp_path / "u16.csv", "\ufefftext,label\nhé,pos\n", encoding="utf-16"))
    assert ds.records == [{"text": "hé", "label": "pos"}]
    ds = load_dataset(write(tmp_path / "l.jsonl", '{"text": "caf\u00e9 cr\u00e8me"}\n', encoding="cp1252"))
    assert ds.records == [{"text": "café crème"}]


# ----------------------------------------------------------------------------- text and Parquet

def test_text_paragraphs_or_lines(tmp_path):
    ds = load_dataset(write(tmp_path / "p.txt", "First para\nline two\n\nSecond para\n\n\nThird\n"))
    assert [r["text"] for r in ds.records] == ["First para\nline two", "Second para", "Third"] and ds.lines == [1, 4, 7]
    ds = load_dataset(write(tmp_path / "l.txt", "one\ntwo\r\nthree\n\n"))
    assert [r["text"] for r in ds.records] == ["one", "two", "three"] and ds.format == "text"


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"messages": [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]] * 3})
    pq.write_table(table, tmp_path / "c.parquet")
    ds = load_dataset(tmp_path / "c.parquet")
    assert ds.format == "chat" and len(ds.records) == 3 and ds.lines == [1, 2, 3]


# ----------------------------------------------------------------------------- overrides

def test_format_and_columns_override(tmp_path):
    f = write(tmp_path / "r.csv", "review,stars,notes\nlovely thing,5,x\nbad thing,1,y\n")
    ds = load_dataset(f, columns={"text": "review", "label": "stars"})
    assert ds.format == "classification" and ds.records[0] == {"text": "lovely thing", "label": "5"}
    ds = load_dataset(f, format="text", columns={"text": "notes"})
    assert ds.records == [{"text": "x"}, {"text": "y"}]
    ds = load_dataset(jsonl(tmp_path / "q.jsonl", [{"q": "2+2?", "a": "4"}]), format="prompt_completion",
                      columns={"prompt": "q", "completion": "a"})
    assert ds.records[0]["messages"][1] == {"role": "assistant", "content": "4"}
    with pytest.raises(StudioError, match="column 'nope'"):
        load_dataset(f, columns={"text": "nope"})
    with pytest.raises(StudioError, match="needs a column for instruction"):
        load_dataset(f, format="alpaca")


# ----------------------------------------------------------------------------- unusable files

@pytest.mark.parametrize("name,content,words", [
    ("empty.jsonl", b"", "is empty"),
    ("bin.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("x.xlsx", b"PK\x03\x04", "unknown file type"),
    ("s.json", b'"hello"', "not records"),
    ("bad.json", b'[{"text": "a"},\n {"text": }]', "not valid JSON at line 2"),
    ("num.jsonl", b'{"a": 1, "b": 2}\n{"a": 3, "b": 4}\n', "no text columns"),
    ("allbad.jsonl", b"{oops\n{nope\n", "no usable records"),
    ("fake.parquet", b"not parquet at all", "not a Parquet file"),
])
def test_unusable_files_raise_one_line(tmp_path, name, content, words):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(StudioError) as err:
        load_dataset(tmp_path / name)
    assert words in str(err.value) and "\n" not in str(err.value) and name in str(err.value)


def test_missing_file_size_cap_and_bad_format(tmp_path):
    with pytest.raises(StudioError, match="file not found"):
        load_dataset(tmp_path / "nope.jsonl")
    f = jsonl(tmp_path / "big.jsonl", [{"text": "x" * 100}] * 20)
    with pytest.raises(StudioError, match="over the .* limit"):
        load_dataset(f, max_bytes=1000)
    with pytest.raises(StudioError, match="unknown format"):
        load_dataset(f, format="xml")


def test_dataset_api_shape(tmp_path):
    ds = load_dataset(jsonl(tmp_path / "t.jsonl", [{"text": "a"}]))
    assert isinstance(ds, Dataset) and ds.source.endswith("t.jsonl") and ds.line_based and len(ds) == 1
    assert {"chat", "sharegpt", "alpaca", "prompt_completion", "text", "classification", "preference",
            "feedback"} <= set(FORMATS)  # the built-in formats; a task may register its own (vision)


# ----------------------------------------------------------------------------- found in the audit

def test_semicolon_csv_with_a_non_english_header(tmp_path):
    # Excel in France: BOM, CRLF, semicolons, and column names with accents; the header is not a record
    rows = [("Très bon produit; je recommande", "positif"), ("Nul, cassé après deux jours", "négatif"),
            ("Correct sans plus", "neutre"), ("Livraison rapide", "positif"), ("Ne fonctionne pas", "négatif"),
            ("Qualité moyenne", "neutre")]
    body = "".join(f'"{t}";{lab}\r\n' if ";" in t else f"{t};{lab}\r\n" for t, lab in rows)
    for enc in ("utf-8-sig", "cp1252"):
        ds = load_dataset(write(tmp_path / f"fr_{enc}.csv", "Commentaire;Étiquette\r\n" + body, encoding=enc))
        assert ds.format == "classification" and ds.columns == {"text": "Commentaire", "label": "Étiquette"}
        assert len(ds.records) == 6 and ds.lines[0] == 2
        assert ds.records[0] == {"text": "Très bon produit; je recommande", "label": "positif"}


@pytest.mark.parametrize("text", ["a,b,c\n1,2,3\n4,5,6\n7.5,8,9\n", "1;2\n3;4,5\n6;7\n"])
def test_csv_with_only_numbers_has_no_text_columns(tmp_path, text):
    with pytest.raises(StudioError) as err:
        load_dataset(write(tmp_path / "nums.csv", text))
    assert "no text columns" in str(err.value) and "nums.csv" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["noise.csv", "noise.txt", "noise.jsonl", "noise.json"])
def test_binary_file_without_zero_bytes_is_refused(tmp_path, name):
    import random

    rng = random.Random(0)
    (tmp_path / name).write_bytes(bytes(rng.randint(1, 255) for _ in range(4000)))
    with pytest.raises(StudioError) as err:
        load_dataset(tmp_path / name)
    assert "binary" in str(err.value) or "not valid JSON" in str(err.value)
    assert "\n" not in str(err.value) and name in str(err.value)


@pytest.mark.parametrize("content,kind", [('["first text", "second text"]', "strings"), ("[1, 2, 3]", "numbers"),
                                          ('[["a", "b"], ["c", "d"]]', "lists")])
def test_json_list_without_records_says_what_to_do(tmp_path, content, kind):
    with pytest.raises(StudioError) as err:
        load_dataset(write(tmp_path / "l.json", content))
    msg = str(err.value)
    assert f"holds a list of {kind}, not records" in msg and "expected a list of objects" in msg and "\n" not in msg


def test_utf8_file_with_some_legacy_lines(tmp_path):
    # two exports joined: UTF-8 lines and a Windows-1252 line; each is read in its own encoding
    raw = ('{"text": "café au lait"}\n'.encode() + '{"text": "crème brûlée"}\n'.encode("cp1252")
           + '{"text": "naïve — “quoted”"}\n'.encode())
    ds = load_dataset(write_bytes(tmp_path / "mixed.jsonl", raw))
    assert [r["text"] for r in ds.records] == ["café au lait", "crème brûlée", "naïve — “quoted”"]
    assert ds.encoding == "utf-8" and ds.legacy_lines == [2] and ds.fallback_encoding == "cp1252"
    csv_raw = "text,label\r\nçà va,oui\r\n".encode() + "très bien,non\r\n".encode("cp1252")
    ds = load_dataset(write_bytes(tmp_path / "mixed.csv", csv_raw))
    assert [r["text"] for r in ds.records] == ["çà va", "très bien"] and ds.legacy_lines == [3]


def test_legacy_line_after_the_sniffed_head_is_noted(tmp_path, monkeypatch):
    from studio.data.intake import decoding

    monkeypatch.setattr(decoding, "SAMPLE_BYTES", 64)  # the encoding is sniffed from the first 64 bytes
    raw = "".join(f'{{"text": "ligne {i} été"}}\n' for i in range(5)).encode() + '{"text": "fin été"}\n'.encode("cp1252")
    ds = load_dataset(write_bytes(tmp_path / "late.jsonl", raw))
    assert ds.records[-1] == {"text": "fin été"} and ds.legacy_lines == [6]


def test_size_cap_message_says_how_to_raise_it(tmp_path):
    f = jsonl(tmp_path / "big.jsonl", [{"text": "x" * 100}] * 20)
    with pytest.raises(StudioError) as err:
        load_dataset(f, max_bytes=1000)
    assert "over the 1000 bytes limit" in str(err.value) and "--max-mb" in str(err.value)


def write_bytes(path: Path, raw: bytes) -> str:
    path.write_bytes(raw)
    return str(path)


@pytest.mark.parametrize("text", ["text,label\ntrès bien,pos\nmauvais,neg\n", "text\nÀ bientôt\nCrème brûlée\n"])
def test_small_windows_1252_file(tmp_path, text):
    # a few accented letters are too little for charset detection alone (it guessed Big5 here)
    ds = load_dataset(write(tmp_path / "small.csv", text, encoding="cp1252"))
    assert ds.encoding == "cp1252"
    assert [r["text"] for r in ds.records] == [line.split(",")[0] for line in text.splitlines()[1:]]


def test_column_names_given_mark_the_header_of_a_small_csv(tmp_path):
    # three rows are too few to tell a header from its names alone; naming the columns settles it
    f = write(tmp_path / "tiny.csv", "\ufeffTexte;Étiquette\r\nTrès bon;positif\r\nNul;négatif\r\nBof;neutre\r\n")
    ds = load_dataset(f, columns={"text": "Texte", "label": "Étiquette"})
    assert ds.format == "classification" and ds.lines == [2, 3, 4]
    assert ds.records[0] == {"text": "Très bon", "label": "positif"}
