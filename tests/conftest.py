import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory) -> tuple[Path, str]:
    """The shipped quickstart (15 LoRA steps of the embedded model in the pirate style, precision auto) trained once
    through the CLI for the tests that need a run that learned; (its run folder, what the CLI printed). Its users only
    read it (exports go to their own folders)."""
    import subprocess
    import sys

    run = tmp_path_factory.mktemp("quickstart") / "pirate"
    done = subprocess.run([sys.executable, "-m", "studio", "train", "examples/quickstart.yaml", "--set",
                           f"output_dir={run}"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return run, done.stdout


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A 2-layer random Llama with the embedded SmolLM2 tokenizer, saved as a model folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from studio.core import models

    tok = models.load_tokenizer("smollm2")
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def tokenizer():
    """The embedded SmolLM2 tokenizer (lengths in real tokens)."""
    from studio.core import models
    from studio.core.errors import StudioError

    try:
        return models.load_tokenizer("smollm2")
    except StudioError as err:
        pytest.skip(f"embedded tokenizer not available: {err}")


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def chat_file(tmp_path) -> str:
    rows = [{"messages": [{"role": "user", "content": f"Question number {i}: what is {i} plus {i}?"},
                          {"role": "assistant", "content": f"The answer is {2 * i}."}]} for i in range(40)]
    return write_jsonl(tmp_path / "chat.jsonl", rows)
