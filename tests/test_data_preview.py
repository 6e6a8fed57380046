"""Previews: the trained-token mask, the length histogram, the label chart; and lengths in real tokens."""

import json
from pathlib import Path


from studio.data import check_dataset, load_dataset
from studio.tasks.chat.encode import trained_pieces as token_mask_preview
from studio.ui.data_view import label_chart, length_histogram, token_mask_html

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "datasets"


def test_token_mask_marks_only_the_answer(tokenizer):
    rec = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"},
                        {"role": "assistant", "content": "Paris."}]}
    pieces = token_mask_preview(tokenizer, rec, max_length=256)
    trained = "".join(t for t, k in pieces if k)
    context = "".join(t for t, k in pieces if not k)
    assert "Paris." in trained and "Capital of France?" in context and "Capital" not in trained
    assert "".join(t for t, _ in pieces).count("Paris.") == 1
    html = token_mask_html(pieces)
    assert "background:#c6f6d5" in html and "Paris." in html and "learned from" in html
    cut = token_mask_preview(tokenizer, rec, max_length=8)
    assert not any(k for _, k in cut) and "Nothing in this example is learned from" in token_mask_html(cut, truncated=True)


def test_html_is_escaped():
    assert "&lt;script&gt;" in token_mask_html([("<script>", False), ("ok", True)])


def test_too_long_in_model_tokens(tokenizer, tmp_path):
    ds = load_dataset(ASSETS / "support_chat.jsonl")
    rep = check_dataset(ds, tokenizer=tokenizer, max_length=512)
    assert rep.get("too_long") is None and len(rep.lengths) == len(ds.records)
    cut_at = sorted(rep.lengths)[len(rep.lengths) // 2]
    rep = check_dataset(ds, tokenizer=tokenizer, max_length=cut_at)
    f = rep.get("too_long")
    expected = [line for line, n in zip(ds.lines, rep.lengths) if n > cut_at]
    assert f is not None and f.records == expected and f.severity == "warning"


def test_length_histogram():
    fig = length_histogram([10, 20, 30, 40, 300], max_length=100)
    assert "1 of 5 (20.0%) longer than 100 would be cut" in fig.layout.title.text
    assert "nothing is cut" in length_histogram([10, 20], max_length=100).layout.title.text  # no "0.0% ... cut"
    assert any(s.x0 == 100 for s in fig.layout.shapes)
    assert length_histogram([5, 6]).layout.title.text.endswith("(max 6)")


def test_label_chart():
    fig = label_chart({"neg": 30, "pos": 70})
    bar = fig.data[0]
    assert list(bar.x) == ["pos", "neg"] and list(bar.y) == [70, 30] and list(bar.text) == ["70%", "30%"]
    json.loads(fig.to_json())


def test_no_gradio_in_the_data_package():
    for path in (Path(__file__).resolve().parents[1] / "studio" / "data").rglob("*.py"):
        assert "gradio" not in path.read_text(), path


def test_the_data_package_gives_data_not_presentation():
    # figures and HTML are built in the UI (studio.ui.data_view) from what studio.data returns
    for path in (Path(__file__).resolve().parents[1] / "studio" / "data").rglob("*.py"):
        text = path.read_text()
        assert "plotly" not in text and "html.escape" not in text and "<span" not in text, path


def test_sample_table():
    from studio.data.preview import sample_table

    headers, rows = sample_table(load_dataset(ASSETS / "sentiment.csv"), limit=3)
    assert headers == ["line", "text", "label"] and len(rows) == 3 and rows[0][0] == 2
    headers, rows = sample_table(load_dataset(ASSETS / "support_chat.jsonl"), limit=2, width=20)
    assert headers[:4] == ["line", "system", "user", "assistant"] and rows[0][1].endswith("…") and len(rows[0][1]) == 20
