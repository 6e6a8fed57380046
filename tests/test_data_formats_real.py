"""The formats real files use (tests/data/formats/, written for these tests): each loads with the right
counts (usable + could not be read = records), and the new checks find what is planted and stay quiet
on the rest: media left out, tool calling, single-answer feedback, placeholders, near duplicates, garbled text."""

import argparse
import json
from pathlib import Path

import pytest

from studio.cli import check as cli
from studio.data import apply_fixes, check_dataset, load_dataset
from studio.core.errors import StudioError

DATA = Path(__file__).resolve().parent / "data" / "formats"

# A chat template that renders tools, tool calls and tool results (as tool-calling models' templates do).
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nTools:{% for t in tools %} {{ t.function.name }}{% endfor %}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>"
    "{{ c.function | tojson }}</tool_call>{% endfor %}{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def check(name, **kw):
    ds = load_dataset(DATA / name)
    return ds, check_dataset(ds, **kw)


def run_cli(*argv) -> int:
    parser = argparse.ArgumentParser(prog="studio")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", *argv])
    return args.func(args)


@pytest.mark.parametrize("name,records,usable", [
    ("parts_chat.jsonl", 6, 5), ("tools_sharegpt.json", 5, 4), ("feedback_kto.jsonl", 5, 5), ("images_chat.json", 3, 3),
    ("identity_placeholders.json", 8, 8), ("near_duplicates.jsonl", 9, 9), ("garbled.jsonl", 6, 6)])
def test_counts_add_up_in_the_cli(name, records, usable, capsys):
    assert run_cli(str(DATA / name), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["records"], d["usable"], d["malformed"]) == (records, usable, records - usable)
    assert d["usable"] + d["malformed"] == d["records"]
    assert run_cli(str(DATA / name)) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert (f"{records} records: {usable} usable, {records - usable} could not be read" if usable < records
            else f"{records} records, all usable") in head


def test_content_parts_under_any_key_and_media_left_out_with_a_count():
    ds, rep = check("parts_chat.jsonl")
    assert ds.format == "chat" and len(ds.records) == 5 and [n for n, _ in ds.malformed] == [6]
    assert "'table' part" in ds.malformed[0][1]
    texts = [m["content"] for r in ds.records for m in r["messages"]]
    assert {"What is the capital of Peru?", "Name a primary colour.", "How many legs does a spider have?",
            "What animal is this?", "Transcribe this, please."} <= set(texts)
    assert ds.records[3]["media"] == {"image": 1} and ds.records[4]["media"] == {"audio": 1}
    f = rep.get("media")
    assert f.records == [4, 5] and "1 audio clip, 1 image" in f.message and "text only" in f.message
    assert rep.rows == 5 and rep.malformed == 1 and rep.records == 6


def test_images_column_and_markers_are_named():
    ds, rep = check("images_chat.json")
    f = rep.get("media")
    assert f.records == [1, 2] and "3 images" in f.message and "3 <image>-style markers" in f.message
    assert "media" not in ds.records[2]  # an empty images list is no image


def test_tool_calling_sharegpt_loads_with_calls_results_and_tools():
    ds, rep = check("tools_sharegpt.json")
    assert ds.format == "sharegpt" and ds.columns["tools"] == "tools"
    assert len(ds.records) == 4 and [n for n, _ in ds.malformed] == [5] and "not valid JSON" in ds.malformed[0][1]
    msgs = ds.records[0]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "assistant"]
    assert msgs[1]["tool_calls"] == [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]
    assert ds.records[0]["tools"][0]["function"]["name"] == "get_weather"
    assert "tools" not in ds.records[3]  # an empty tools field: a plain conversation
    f = rep.get("tool_calls")
    assert f.severity == "info" and f.records == [1, 2, 3] and "3 calls" in f.message
    assert rep.get("empty") is None and rep.get("missing_answer") is None  # a call is not an empty turn


def test_without_tool_support_calls_are_trained_as_text_and_the_report_says_so(tokenizer):
    from studio.tasks.chat.encode import trained_pieces

    ds, rep = check("tools_sharegpt.json", tokenizer=tokenizer, max_length=512, model="smollm2")
    f = rep.get("tool_calls")
    assert f.severity == "warning" and f.count == 3 and "smollm2 cannot render tools" in f.message
    pieces = trained_pieces(tokenizer, ds.records[0], 512)
    learned = "".join(t for t, k in pieces if k)
    context = "".join(t for t, k in pieces if not k)
    assert '{"name": "get_weather", "arguments": {"city": "Oslo"}}' in learned
    assert "It is 4 degrees and cloudy in Oslo." in learned
    assert '"temperature": 4' in context and "get_weather" in context  # the tool result and the tool list: context
    from studio.tasks.chat.encode import encode_records

    examples, dropped = encode_records(tokenizer, ds.records, 512)
    assert len(examples) == 4 and dropped == 0  # every tool conversation trains: none is dropped


def test_with_tool_support_the_template_renders_them_and_the_calls_are_learned(tokenizer):
    from studio.core.chat_template import supports_tools
    from studio.tasks.chat.encode import trained_pieces

    import copy

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = TOOLS_TEMPLATE
    assert supports_tools(tok) and not supports_tools(tokenizer)
    ds, rep = check("tools_sharegpt.json", tokenizer=tok, max_length=512, model="tool-model")
    assert rep.get("tool_calls").severity == "info" and "supports tools" in rep.get("tool_calls").message
    pieces = trained_pieces(tok, ds.records[0], 512)
    learned = "".join(t for t, k in pieces if k)
    assert '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>' in learned
    assert "It is 4 degrees and cloudy in Oslo." in learned
    assert "Tools: get_weather" in "".join(t for t, k in pieces if not k)


def test_single_answer_feedback_is_its_own_format_with_a_clear_message(tmp_path):
    ds, rep = check("feedback_kto.jsonl")
    assert ds.format == "feedback" and ds.columns["verdict"] == "label"
    assert ds.records[1] == {"messages": [{"role": "user", "content": "What is 12 times 12?"}], "completion": "It is 124.",
                             "verdict": False}
    f = rep.get("feedback")
    assert f.severity == "info" and "single-answer feedback" in f.message and "3 approved and 2 rejected" in f.message
    assert "feedback task" in f.message
    # LLaMA-Factory's KTO layout: messages and a kto_tag
    p = tmp_path / "kto.jsonl"
    p.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
                                     "kto_tag": i % 2 == 0}) + "\n" for i in range(4)))
    ds = load_dataset(p)
    assert ds.format == "feedback" and ds.records[0]["completion"] == "a0" and ds.records[1]["verdict"] is False


def test_training_refuses_feedback_data_and_says_what_it_is(tiny_model_dir, tmp_path):
    from studio.core.config import StudioConfig
    from studio.engine.train import run_training

    cfg = StudioConfig().with_overrides([f"model.source={tiny_model_dir}", f"data.train={DATA / 'feedback_kto.jsonl'}",
                                         f"output_dir={tmp_path / 'run'}", "train.max_steps=1"])
    with pytest.raises(StudioError, match="single-answer feedback data.*set task: feedback"):
        run_training(cfg)  # the chat task: it would teach the bad answers too


def test_placeholders_found_where_planted_and_not_in_code_html_latex_or_masks():
    _, rep = check("identity_placeholders.json")
    f = rep.get("placeholder")
    assert f.records == [1, 2, 3, 4] and f.fix == "fill_placeholders"
    found = {p["key"]: p for p in f.details["placeholders"]}
    assert set(found) == {"name", "author", "company_name", "product"}
    assert found["name"]["records"] == 3 and found["company_name"]["written"] == "[INSERT COMPANY NAME]"


def test_placeholder_check_is_quiet_on_clean_data(tmp_path):
    p = tmp_path / "clean.jsonl"
    p.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n"
                         for q, a in [("Format a string?", "Use `'{}'.format(x)` or `f'{name}'`."),
                                      ("A set in math?", "Write {1, 2, 3} or \\mathbb{R}."), ("A dict?", 'Like {"a": 1}.'),
                                      ("Hide a phone?", "Replace it with <PHONE>."), ("Bold?", "Use <STRONG>x</STRONG>."),
                                      ("Brackets?", "A list [1, 2] or [see note] is fine."),
                                      ("MQTT?", 'def send(topic):\n    print(f"Sent {message} to {topic}")\n    return {status}'),
                                      ("Jinja?", "Render it:\n    {{ title }} = page title")]))
    assert check_dataset(load_dataset(p)).get("placeholder") is None


def test_fill_placeholders_fix_and_cli_fill(tmp_path, capsys):
    ds = load_dataset(DATA / "identity_placeholders.json")
    new, record = apply_fixes(ds, ["fill_placeholders"], out_dir=tmp_path, fill={"name": "Aria", "{{author}}": "Acme Labs"})
    assert record.fixes[0].changed == [1, 2, 3]
    assert new.records[0]["messages"][1]["content"].startswith("Hello! I am Aria, an AI assistant developed by Acme Labs.")
    assert "You can call me Aria." in new.records[2]["messages"][1]["content"]
    assert "print(f'Hello {name}')" in new.records[4]["messages"][1]["content"]  # code is left alone
    left = check_dataset(load_dataset(record.output)).get("placeholder")
    assert {p["key"] for p in left.details["placeholders"]} == {"company_name", "product"}
    with pytest.raises(StudioError, match="needs a value"):
        apply_fixes(ds, ["fill_placeholders"], out_dir=tmp_path, fill={"name": "  "})
    assert run_cli(str(DATA / "identity_placeholders.json"), "--fill", "company_name=Acme", "--fill", "product=Nimbus",
                   "--out-dir", str(tmp_path / "cli"), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["fixed"]["fixes"][0]["fix"] == "fill_placeholders" and d["fixed"]["fixes"][0]["changed"] == [3, 4]
    left = next(f for f in d["findings"] if f["check"] == "placeholder")
    assert {p["key"] for p in left["details"]["placeholders"]} == {"name", "author"}


def test_near_duplicates_by_minhash_found_and_templated_facts_left_alone(tmp_path):
    ds, rep = check("near_duplicates.jsonl")
    f = rep.get("near_duplicate")
    assert f.records == [2, 3] and "0.8" in f.message and "2 nearly the same text" in f.message
    assert f.details["threshold"] == 0.8
    new, record = apply_fixes(ds, ["drop_near_duplicates"], out_dir=tmp_path)
    assert record.fixes[0].removed == [2, 3] and len(new.records) == 7
    assert check_dataset(new).get("near_duplicate") is None


def test_garbled_text_repaired_with_ftfy(tmp_path):
    ds, rep = check("garbled.jsonl")
    f = rep.get("encoding")
    assert f.records == [1, 2] and f.fix == "repair_text"
    new, record = apply_fixes(ds, ["repair_text"], out_dir=tmp_path)
    assert record.fixes[0].changed == [1, 2]
    assert new.records[0]["text"] == "The café opens at nine — come early."
    assert new.records[1]["text"] == "It’s the best crème brûlée in town."
    assert check_dataset(new).get("encoding") is None


def test_model_card_health_lines_add_up():
    from studio.export.card import _health_summary

    lines = _health_summary({"rows": 140, "records": 147, "usable": 140, "malformed": 7, "findings": []})
    assert lines[0] == "147 records in the file: 140 usable, 7 could not be read"
