"""A data format is a plug-in: one defined here, in the test, is detected on intake, checked by the health report,
previewed, fixed and accepted by the config, without any file of the studio knowing about it."""

import pytest

from studio import tasks
from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.data import FORMATS, apply_fixes, check_dataset, load_dataset
from studio.data import formats
from studio.data.formats import DataFormat, RowError, as_text
from studio.data.preview import sample_table

from conftest import write_jsonl


class GlossaryFormat(DataFormat):
    """A glossary: a term and what it means, learned as the question "What does <term> mean?" and its answer."""

    name = "glossary"
    required = ("term", "definition")
    optional = ("example",)
    aliases = {"term": ("term", "word", "headword"), "definition": ("definition", "meaning", "gloss")}
    rank = 5  # before the built-in formats: "word" and "meaning" say nothing to them

    def matches(self, rows, names) -> bool:
        return all(any(a in names for a in self.column_names(f)) for f in self.required)

    def normaliser(self, cols):
        c_term, c_def, c_ex = cols["term"], cols["definition"], cols.get("example")

        def norm(row, skipped):
            term = as_text(row.get(c_term), c_term)
            if not term.strip():
                raise RowError(f"'{c_term}' is blank: there is no term to define")
            answer = as_text(row.get(c_def), c_def, required=False) or ""
            example = as_text(row.get(c_ex), c_ex, required=False) if c_ex else None
            if example:
                answer += f"\nFor example: {example}"
            return {"messages": [{"role": "user", "content": f"What does '{term}' mean?"},
                                 {"role": "assistant", "content": answer}]}

        return norm

    def preview_headers(self):
        return ["term", "definition"]

    def preview_row(self, rec, cut):
        term = rec["messages"][0]["content"].removeprefix("What does '").removesuffix("' mean?")
        return [cut(term), cut(rec["messages"][1]["content"])]


@pytest.fixture
def glossary():
    fmt = formats.register(GlossaryFormat())
    yield fmt
    formats.unregister(fmt.name)


ROWS = [{"word": "ephemeral", "meaning": "lasting a very short time", "example": "ephemeral fame"},
        {"word": "laconic", "meaning": "using very few words"},
        {"word": "ephemeral", "meaning": "lasting a very short time", "example": "ephemeral fame"},  # a repeat
        {"word": "sesquipedalian", "meaning": ""},  # no answer
        {"word": "contact", "meaning": "write to jane.doe@acme-mail.co.uk"},  # personal data
        {"word": "", "meaning": "a definition of nothing"}]  # unreadable: no term


def test_intake_detects_the_new_format_and_normalises_it(glossary, tmp_path):
    assert "glossary" in FORMATS and formats.get("glossary") is glossary
    ds = load_dataset(write_jsonl(tmp_path / "words.jsonl", ROWS))
    assert ds.format == "glossary"
    assert ds.columns == {"term": "word", "definition": "meaning", "example": "example"}
    assert ds.records[0]["messages"] == [{"role": "user", "content": "What does 'ephemeral' mean?"},
                                         {"role": "assistant", "content": "lasting a very short time\nFor example: ephemeral fame"}]
    assert ds.lines == [1, 2, 3, 4, 5] and [n for n, _ in ds.malformed] == [6]
    assert "no term to define" in ds.malformed[0][1]
    # a CSV: its aliases make the first row a header, and the format can be named
    csv = tmp_path / "words.csv"
    csv.write_text("Headword,Gloss\nterse,brief\nverbose,wordy\n", encoding="utf-8")
    ds = load_dataset(str(csv), format="glossary")
    assert ds.format == "glossary" and len(ds.records) == 2 and ds.records[1]["messages"][1]["content"] == "wordy"
    assert load_dataset(str(csv)).format == "glossary"
    # and the config takes it
    assert StudioConfig.from_dict({"data": {"format": "glossary"}}).data.format == "glossary"


def test_the_health_report_runs_on_the_new_format(glossary, tmp_path):
    ds = load_dataset(write_jsonl(tmp_path / "words.jsonl", ROWS))
    report = check_dataset(ds)
    assert report.format == "glossary" and report.rows == 5
    found = {f.check: f for f in report.findings}
    assert found["malformed"].records == [6]
    assert found["duplicate"].records == [3]
    assert found["empty"].records == [4] and "prompt or answer" in found["empty"].message
    assert found["pii"].records == [5]
    assert not {"imbalance", "identical_pair", "feedback"} & set(found)  # no labels, pairs or verdicts here
    fixed, record = apply_fixes(ds, ["drop_duplicates", "drop_empty"], out_dir=tmp_path / "versions")
    assert record.rows_after == 3 and len(load_dataset(fixed.source).records) == 3  # saved as chat, and loads back


def test_the_preview_shows_the_new_format(glossary, tmp_path):
    ds = load_dataset(write_jsonl(tmp_path / "words.jsonl", ROWS))
    headers, rows = sample_table(ds, limit=2, width=12)
    assert headers == ["line", "term", "definition"]
    assert rows == [[1, "ephemeral", "lasting a v…"], [2, "laconic", "using very …"]]


def test_an_unregistered_format_is_refused_with_the_known_ones(tmp_path):
    path = write_jsonl(tmp_path / "words.jsonl", ROWS)
    assert load_dataset(path).format != "glossary"  # without the plug-in: read by the built-in formats
    with pytest.raises(StudioError, match="unknown format 'glossary'; use auto or one of: chat, sharegpt"):
        load_dataset(path, format="glossary")
    with pytest.raises(StudioError, match="is not one of"):
        StudioConfig.from_dict({"data": {"format": "glossary"}}).validate(cuda_available=False)


def test_tasks_name_registered_formats(glossary):
    for task in tasks.all_tasks():
        assert set(task.data_formats) <= set(formats.names()), task.name
    assert tasks.for_format("classification").name == "classification"
    assert tasks.for_format("glossary") is tasks.all_tasks()[0]  # a format no task claims: the first task
