"""The quickstart run exported as GGUF, reloaded (llama.cpp where the [gguf] extra is installed, else transformers'
GGUF loader), answers an unseen prompt in the taught style, and agrees with the tuned model on held-out prompts."""

import json
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.errors import StudioError
from studio.export import llamacpp

REPO = Path(__file__).resolve().parents[1]
UNSEEN = "What is the capital of Spain?"


def _greedy(gguf: Path, prompt: str) -> tuple[str, str]:
    """(loader, greedy reply) from the GGUF file alone: its own tokenizer and chat template."""
    messages = [{"role": "user", "content": prompt}]
    if llamacpp.has_llama_cpp():
        from llama_cpp import Llama

        llm = Llama(str(gguf), n_ctx=512, n_threads=2, verbose=False, seed=0)
        out = llm.create_chat_completion(messages, max_tokens=40, temperature=0.0, top_k=1)  # template from the file
        return "llama.cpp", out["choices"][0]["message"]["content"]
    import torch

    from studio.core import models

    tok = models.load_tokenizer(str(gguf))
    model = models.load_causal_lm(str(gguf), dtype=torch.float32).eval()
    enc = tok(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), return_tensors="pt",
              add_special_tokens=False)
    with torch.no_grad():
        ids = model.generate(**enc, max_new_tokens=40, do_sample=False, pad_token_id=tok.pad_token_id)
    return "transformers", tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.slow
def test_quickstart_as_gguf_answers_in_the_taught_style(quickstart_run, tmp_path, capsys):
    try:
        llamacpp.ensure_converter()
    except StudioError as err:
        pytest.skip(f"llama.cpp's converter is not available here: {err}")
    run = quickstart_run[0]
    assert UNSEEN not in (REPO / "assets" / "datasets" / "pirate_style.jsonl").read_text()

    out = tmp_path / "gguf"
    assert main(["export", str(run), "--gguf", "--quant", "q8_0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pirate-Q8_0.gguf" in printed and "checked on" in printed
    gguf = out / "pirate-Q8_0.gguf"
    assert 100e6 < gguf.stat().st_size < 200e6  # 135 M parameters at about 8.5 bits

    loader, reply = _greedy(gguf, UNSEEN)
    assert reply.strip().lower().startswith("arr matey"), (loader, reply)
    assert "madrid" in reply.lower(), (loader, reply)

    # the check ran the file on the held-out prompts: with q8_0 the first tokens match the tuned model's
    check = json.loads((out / "gguf_check.json").read_text())
    assert check["rows"]
    for name, summary in check["summary"].items():
        assert summary["first_match"] == summary["prompts"], (name, check["rows"])
    assert all(row["tuned"].lower().startswith("arr matey") for row in check["rows"])
    assert "PARAMETER stop \"<|im_end|>\"" in (out / "Modelfile").read_text()
