"""The embedded SmolLM2 model: the quickstart run (trained once for the suite), exported merged, loads with plain transformers and replies
exactly as the studio's chat does."""

from pathlib import Path

from studio.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def test_merged_embedded_model_gives_the_studios_greedy_reply(quickstart_run, tmp_path, capsys):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.core.generate import ChatModels, Sampling

    run = quickstart_run[0]
    out = tmp_path / "merged"
    assert main(["export", str(run), "--merge", "--out", str(out)]) == 0
    assert "merged full model" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "pirate_style.jsonl" in card

    messages = [{"role": "user", "content": "What is the capital of Spain?"}]
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    enc = tok(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True),
              return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        ids = model.generate(**enc, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id)
    plain = tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)

    studio = ChatModels.for_run(run).reply(messages, tuned=True, sampling=Sampling(max_new_tokens=10, temperature=0))
    assert plain == studio
    assert plain.strip()

    # the adapter alone points at the base's Hub id, not at this machine's cache
    import json

    assert main(["export", str(run), "--out", str(tmp_path / "adapter")]) == 0
    adapter_cfg = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert adapter_cfg["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
