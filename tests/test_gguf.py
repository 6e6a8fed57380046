"""GGUF export on a tiny random model: llama.cpp's converter, the Ollama Modelfile, the check, bad input."""

import json
import re
import shutil

import pytest
import yaml

from studio.cli.main import main
from studio.core.errors import StudioError
from studio.export import llamacpp
from studio.export.gguf import check_gguf_export, export_gguf
from studio.export.modelfile import derive, go_template, modelfile, render

from tests.test_export import _train


@pytest.fixture(scope="module")
def converter():
    try:
        return llamacpp.ensure_converter()
    except StudioError as err:
        pytest.skip(f"llama.cpp's converter is not available here: {err}")


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory):
    return _train(tiny_model_dir, tmp_path_factory.mktemp("gguf-lora"))


def _copy_run(run, tmp_path, **changes):
    """A copy of a finished run whose config.yaml says something else (another task, another base)."""
    copy = tmp_path / "run-copy"
    shutil.copytree(run, copy)
    cfg = yaml.safe_load((copy / "config.yaml").read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            cfg[section][field] = value
        else:
            cfg[section] = value
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    return copy


# ---- the Modelfile ---------------------------------------------------------------------------------

CONVERSATIONS = [
    [{"role": "user", "content": "Hi there"}],
    [{"role": "system", "content": "Talk like a pirate."}, {"role": "user", "content": "Where is the treasure?"}],
    [{"role": "user", "content": "One"}, {"role": "assistant", "content": "Two"}, {"role": "user", "content": "Three?"}],
]


def test_modelfile_template_writes_the_same_prompt_as_the_chat_template(tokenizer):
    pieces = derive(tokenizer)
    assert pieces is not None
    for messages in CONVERSATIONS:
        want = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert render(pieces, messages, pieces.default_system) == want
    text, _ = modelfile("run-Q8_0.gguf", tokenizer, None)
    assert "FROM ./run-Q8_0.gguf" in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    # the run used no system prompt of its own: the template's default one, as training saw it
    assert f'SYSTEM """{pieces.default_system}"""' in text and "SmolLM" in pieces.default_system
    template = go_template(pieces)
    assert "{{-" not in template  # a trimming action would eat the newlines between turns
    assert template.count("{{ .Content }}") == 3 and template.endswith(pieces.generation)
    assert f'TEMPLATE """{template}"""' in text


def test_modelfile_carries_the_runs_system_prompt(tokenizer):
    text, _ = modelfile("m.gguf", tokenizer, "You are Captain Hook.")
    assert 'SYSTEM """You are Captain Hook."""' in text and "SmolLM" not in text.split("SYSTEM")[1]


def test_a_template_that_is_not_per_message_pieces_gets_no_TEMPLATE_line(tokenizer):
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path) if tokenizer.name_or_path else None
    if tok is None:
        pytest.skip("tokenizer has no folder to copy")
    # Llama-2 style: the system prompt is folded into the first user turn
    tok.chat_template = ("{% for m in messages %}{% if m['role'] == 'system' %}{% set sys = m['content'] %}"
                         "{% elif m['role'] == 'user' %}[INST] {% if loop.index0 == 1 %}<<SYS>>{{ sys }}<</SYS>> {% endif %}"
                         "{{ m['content'] }} [/INST]{% else %} {{ m['content'] }}</s>{% endif %}{% endfor %}")
    assert derive(tok) is None
    text, pieces = modelfile("m.gguf", tok, None)
    assert pieces is None and "TEMPLATE" not in text.replace("# The chat template", "")
    assert "FROM ./m.gguf" in text


# ---- the export --------------------------------------------------------------------------------------

def test_f16_export_is_the_merged_model_with_its_chat_template(lora_run, tmp_path, converter, tokenizer):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from studio.core import models
    from studio.core.config import StudioConfig

    seen = []
    res = export_gguf(lora_run, tmp_path / "gguf", quant="f16", check=False, progress=lambda f, m: seen.append(f))
    out = tmp_path / "gguf"
    names = {name for name, _ in res["files"]}
    assert names == {"run-F16.gguf", "Modelfile", "README.md", "config.yaml"}
    assert all(size > 0 for _, size in res["files"]) and seen[-1] == 1.0
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.merging"))
    card = (out / "README.md").read_text()
    assert "ollama create" in card and "LM Studio" in card and 'gguf_file="run-F16.gguf"' in card

    # transformers' GGUF loader reads back the merged weights, tokenizer and chat template
    gguf = str(out / "run-F16.gguf")
    gtok = models.load_tokenizer(gguf)
    assert gtok.chat_template == tokenizer.chat_template
    ids = gtok(gtok.apply_chat_template(CONVERSATIONS[1], tokenize=False, add_generation_prompt=True),
               return_tensors="pt", add_special_tokens=False)["input_ids"]
    config = StudioConfig.load(lora_run / "config.yaml")
    base = AutoModelForCausalLM.from_pretrained(config.model.source, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(lora_run / "model")).merge_and_unload().eval()
    back = models.load_causal_lm(gguf, dtype=torch.float32).eval()
    with torch.no_grad():
        want, got = merged(ids).logits, back(ids).logits
    assert torch.allclose(want, got, atol=2e-2), float((want - got).abs().max())
    # the untouched base differs more than that: the adapter is in the file
    with torch.no_grad():
        plain = AutoModelForCausalLM.from_pretrained(config.model.source, dtype=torch.float32).eval()(ids).logits
    assert (plain - got).abs().max() > (want - got).abs().max()


def test_check_compares_the_file_with_the_tuned_model(lora_run, tmp_path, converter):
    res = export_gguf(lora_run, tmp_path / "gguf", quant="q8_0", adapter=True, check=True)
    names = {name for name, _ in res["files"]}
    assert {"run-Q8_0.gguf", "run-lora-f16.gguf", "gguf_check.json", "Modelfile"} <= names
    check = res["check"]
    assert check["rows"] and "transformers" in check["summary"]
    loaders = ["transformers"] + (["llama.cpp"] if llamacpp.has_llama_cpp() else [])
    assert sorted(check["summary"]) == sorted(loaders)
    for row in check["rows"]:
        assert row["prompt"] and "tuned" in row
        for name in loaders:
            assert row[f"{name}_first_match"] >= row[f"{name}_identical"]
            if row[name] == row["tuned"]:
                assert row[f"{name}_identical"]
    for name in loaders:
        s = check["summary"][name]
        assert s["prompts"] == len(check["rows"]) and s["first_match"] == sum(r[f"{name}_first_match"] for r in check["rows"])
    assert set(check["tokens_per_s"]) == {"studio", *loaders}
    saved = json.loads((tmp_path / "gguf" / "gguf_check.json").read_text())
    assert saved["rows"] == check["rows"] and saved["quant"] == "q8_0"


def test_cli_gguf_prints_files_and_sizes(lora_run, tmp_path, converter, capsys):
    assert main(["export", str(lora_run), "--gguf", "--quant", "f16", "--no-check", "--out", str(tmp_path / "g")]) == 0
    text = capsys.readouterr().out
    assert "exported GGUF (f16)" in text and "run-F16.gguf" in text and " MB" in text
    assert main(["export", str(lora_run), "--gguf", "--merge", "--out", str(tmp_path / "h")]) == 2
    assert "--merge" in capsys.readouterr().err and not (tmp_path / "h").exists()


# ---- bad input -------------------------------------------------------------------------------------------

def test_a_classification_run_is_refused(lora_run, tmp_path):
    run = _copy_run(lora_run, tmp_path, task="classification")
    with pytest.raises(StudioError, match="classification run: GGUF .* generate text"):
        check_gguf_export(run, "q8_0")


def test_an_architecture_the_converter_does_not_support(lora_run, tmp_path, converter):
    import torch
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(0)
    opt = tmp_path / "tiny-opt"
    OPTForCausalLM(OPTConfig(vocab_size=128, hidden_size=32, ffn_dim=64, num_hidden_layers=1, num_attention_heads=2,
                             max_position_embeddings=64, word_embed_proj_dim=32)).save_pretrained(opt)
    # the converter's own answer, and nothing left behind
    with pytest.raises(StudioError, match="does not support the architecture OPTForCausalLM"):
        llamacpp.convert(opt, tmp_path / "opt.gguf", "f16")
    assert not (tmp_path / "opt.gguf").exists()
    # an export says so before merging anything
    run = _copy_run(lora_run, tmp_path, model__source=str(opt))
    with pytest.raises(StudioError, match="does not support the architecture OPTForCausalLM"):
        export_gguf(run, tmp_path / "out", check=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("out")]


def test_q4_k_m_without_llama_cpp_says_what_to_install(lora_run, tmp_path, monkeypatch):
    monkeypatch.setattr(llamacpp, "has_llama_cpp", lambda: False)
    monkeypatch.setattr(llamacpp.shutil, "which", lambda name: None)  # and no build toolchain
    with pytest.raises(StudioError) as err:
        export_gguf(lora_run, tmp_path / "out", quant="q4_k_m")
    text = str(err.value)
    assert "finetune-studio[gguf]" in text and "cmake and c++ is missing" in text and "f16 and q8_0" in text
    assert not (tmp_path / "out").exists()


def test_offline_without_the_converter_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STUDIO_LLAMA_CPP_SDIST", str(tmp_path / "nowhere.tar.gz"))
    with pytest.raises(StudioError, match="STUDIO_LLAMA_CPP_SDIST"):
        llamacpp.ensure_converter()
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a release")
    monkeypatch.setenv("STUDIO_LLAMA_CPP_SDIST", str(bogus))
    with pytest.raises(StudioError, match="not llama-cpp-python 0.3.36's source release"):
        llamacpp.ensure_converter()
    assert not (tmp_path / "cache" / f"llama.cpp-{llamacpp.VERSION}").exists()


# ---- the Export tab's GGUF panel ---------------------------------------------------------------------------

def test_export_tab_gguf_endpoint_shows_files_sizes_and_errors(lora_run, converter, monkeypatch):
    import types

    import gradio as gr
    from gradio_client import Client

    from studio.server.runs import RunStore
    from studio.ui import export_tab

    from studio.ui.caches import ChatCache
    from studio.ui.runs_tab import run_choices

    store = RunStore(lora_run.parent)
    ctx = types.SimpleNamespace(store=store, chats=ChatCache(), tabs_by_id={}, on_load=[],
                                runs=lambda request=None: store.for_user(None),
                                run_choices=lambda request=None, **kw: run_choices(store.for_user(None), **kw))
    with gr.Blocks() as demo:
        ctx.run_id = gr.State(None)
        export_tab.build(ctx)
    demo.queue()
    demo.launch(prevent_thread_lock=True, server_port=None, quiet=True, allowed_paths=[str(store.root)])
    try:
        client = Client(demo.local_url, verbose=False)
        message, files, download, modelfile_text, checked = client.predict("run", "f16", False, False,
                                                                           api_name="/export_gguf")
        assert "run-F16.gguf" in message and "f16" in message
        assert "| `run-F16.gguf` |" in files and " MB |" in files and "| `Modelfile` |" in files
        assert sorted(re.findall(r'download="([^"]+)"', download)) == ["Modelfile", "run-F16.gguf"]
        assert "studio/download/run/export-gguf/run-F16.gguf" in download  # served from the run folder, per person
        assert "FROM ./run-F16.gguf" in modelfile_text and "Not checked" in checked
        message, _, _, _, checked = client.predict("run", "q8_0", False, True, api_name="/export_gguf")
        assert "run-Q8_0.gguf" in message and "Checked by running it" in checked and "| Prompt |" in checked
        monkeypatch.setattr(llamacpp, "has_llama_cpp", lambda: False)
        message, files, download, _, _ = client.predict("run", "q4_k_m", False, False, api_name="/export_gguf")
        assert "finetune-studio[gguf]" in message and not files and not download
    finally:
        demo.close()


def test_check_markdown_marks_replies_that_differ():
    from studio.ui.gguf_panel import check_markdown

    check = {"first_tokens": 8, "max_new_tokens": 32, "tokens_per_s": {"studio": 10.0, "llama.cpp": 50.0},
             "summary": {"llama.cpp": {"first_match": 1, "identical": 1, "prompts": 2}},
             "notes": ["llama.cpp: 1 of 2 replies differ from the tuned model's within the first 8 tokens"],
             "rows": [{"prompt": "a|b", "tuned": "Arr!", "llama.cpp": "Arr!", "llama.cpp_first_match": True},
                      {"prompt": "c", "tuned": "Arr?", "llama.cpp": "Hello", "llama.cpp_first_match": False}]}
    text = check_markdown(check)
    assert "first tokens match on 1/2" in text and "llama.cpp 50.0" in text and "⚠ llama.cpp: 1 of 2" in text
    assert "| a\\|b | Arr! | ✓ Arr! |" in text and "| c | Arr? | ✗ Hello |" in text
