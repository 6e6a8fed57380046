"""Sequence-to-sequence models: a tiny random T5 is routed to the seq2seq task, learns from prompt/completion data
(full and LoRA), answers side by side with its base, is evaluated, and exports as an adapter and a merged model
that plain transformers and peft reload."""

import json

import pytest

from studio.core import models

from studio import tasks
from studio.cli.main import main
from studio.core.config import StudioConfig
from studio.core.source_text import source_target_pairs, source_text
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.engine.train import run_training

from conftest import write_jsonl

PROMPT = [{"role": "user", "content": "Question number 7: what is 7 plus 7?"}]


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory) -> str:
    """A 2+2-layer random T5 with the embedded SmolLM2 tokenizer (its vocabulary size), saved as a model folder."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tok = models.load_tokenizer("smollm2")
    cfg = T5Config(vocab_size=len(tok), d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4,
                   pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                   decoder_start_token_id=tok.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-t5")
    T5ForConditionalGeneration(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def _data(path):
    rows = [{"prompt": f"Question number {i}: what is {i} plus {i}?", "completion": f"The answer is {2 * i}."}
            for i in range(40)]
    return write_jsonl(path, rows)


def _config(model, d, *extra):
    return StudioConfig().with_overrides([
        f"model.source={model}", "task=seq2seq", f"data.train={_data(d / 'pc.jsonl')}", f"output_dir={d / 'run'}",
        "train.max_steps=16", "train.batch_size=8", "train.learning_rate=1e-2", "train.logging_steps=4",
        "train.eval_steps=8", "data.max_length=64", "lora.r=8", "lora.alpha=16", "lora.target_modules=[q,k,v,o]",
        *extra])


@pytest.fixture(scope="module")
def lora_run(tiny_t5_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("s2s-lora")
    assert run_training(_config(tiny_t5_dir, d))["state"] == "finished"
    return d / "run"


def test_source_text_and_pairs():
    assert source_text(PROMPT) == PROMPT[0]["content"]
    convo = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Name?"},
             {"role": "assistant", "content": "Ada"}]
    assert source_target_pairs(convo) == [("Be brief.\n\nHi", "Hello"),
                                          ("Be brief.\n\nUser: Hi\nAssistant: Hello\nUser: Name?", "Ada")]
    assert source_target_pairs([{"role": "system", "content": "x"}, {"role": "assistant", "content": "y"}]) == []


def test_encoding_learns_the_whole_answer_ending_with_eos(tokenizer):
    from studio.tasks.seq2seq.encode import encode_records, trained_pieces

    rec = {"messages": PROMPT + [{"role": "assistant", "content": "Fourteen."}]}
    (ex,), dropped = encode_records(tokenizer, [rec, {"text": "plain text has no answer"}], 64)
    assert dropped == 1
    assert tokenizer.decode(ex["input_ids"]) == PROMPT[0]["content"]
    assert ex["labels"][-1] == tokenizer.eos_token_id and tokenizer.decode(ex["labels"][:-1]) == "Fourteen."
    assert len(encode_records(tokenizer, [rec], 3)[0][0]["labels"]) == 3  # cut to max length, still ending in EOS
    pieces = trained_pieces(tokenizer, rec, 64)
    assert [learned for _, learned in pieces] == [False, True] and pieces[1][0].startswith("Fourteen.")


def test_target_loss_is_the_models_loss_in_fp32_weighted_by_the_whole_batch(tiny_t5_dir, tokenizer):
    import torch

    from studio.core.hardware import detect_hardware
    from studio.tasks.seq2seq.encode import encode_records
    from studio.tasks.seq2seq.setup import make_collator, target_loss

    model = models.load_seq2seq_lm(tiny_t5_dir).eval()
    recs = [{"messages": PROMPT + [{"role": "assistant", "content": a}]} for a in ("Fourteen.", "It is 14, of course.")]
    batch = make_collator(tokenizer, detect_hardware(), model)(encode_records(tokenizer, recs, 64)[0])
    assert "decoder_input_ids" in batch and (batch["labels"] == -100).any()  # padded targets are not learned
    labels = batch.pop("labels")
    with torch.no_grad():
        outputs = model(**batch)
        own = model(**batch, labels=labels).loss
    n = int((labels != -100).sum())
    assert float(target_loss(outputs, labels)) == pytest.approx(float(own), rel=1e-5)
    assert float(target_loss(outputs, labels, torch.tensor(2 * n))) == pytest.approx(float(own) / 2, rel=1e-5)


def test_an_encoder_decoder_model_is_routed_to_seq2seq(tiny_t5_dir, tiny_model_dir):
    t5 = models.describe(tiny_t5_dir)
    llama = models.describe(tiny_model_dir)
    assert t5["encoder_decoder"] and not llama["encoder_decoder"]
    assert tasks.for_model(t5).name == "seq2seq" and tasks.for_model(llama).name == "chat"
    # chat-like data with a T5 picks seq2seq; with a causal model it stays chat; classification data stays put
    assert tasks.for_data_and_model("prompt_completion", t5).name == "seq2seq"
    assert tasks.for_data_and_model("chat", llama).name == "chat"
    assert tasks.for_data_and_model("classification", t5).name == "classification"
    cfg = StudioConfig().with_overrides([f"model.source={tiny_t5_dir}"])
    assert "seq2seq" in " ".join(tasks.get("chat").model_advice(cfg, t5))
    assert tasks.get("seq2seq").model_advice(cfg.with_overrides(["task=seq2seq"]), t5) == []
    assert "not an encoder-decoder" in " ".join(tasks.get("seq2seq").model_advice(cfg, llama))
    causal_names = cfg.with_overrides(["task=seq2seq", "lora.target_modules=[q_proj,v_proj]"])
    advice = " ".join(tasks.get("seq2seq").model_advice(causal_names, t5))
    assert "q_proj, v_proj are not layers" in advice and "k, o, q, v, wi, wo" in advice
    # a hub id is accepted as a source (loading it needs the network)
    assert models.resolve("google/flan-t5-small").kind == "hub"


def test_each_task_refuses_the_other_kind_of_model(tiny_t5_dir, tiny_model_dir, tmp_path):
    from studio.core.hardware import detect_hardware

    hw = detect_hardware()
    records = [{"messages": PROMPT + [{"role": "assistant", "content": "14"}]}]
    t5_chat = StudioConfig().with_overrides([f"model.source={tiny_t5_dir}", "task=chat"])
    with pytest.raises(StudioError, match="task: seq2seq"):
        tasks.get("chat").setup(t5_chat, hw, records, [])
    llama_s2s = StudioConfig().with_overrides([f"model.source={tiny_model_dir}", "task=seq2seq"])
    with pytest.raises(StudioError, match="not an encoder-decoder"):
        tasks.get("seq2seq").setup(llama_s2s, hw, records, [])
    s2s = StudioConfig().with_overrides([f"model.source={tiny_t5_dir}", "task=seq2seq"])
    with pytest.raises(StudioError, match="plain text has no answer"):
        tasks.get("seq2seq").setup(s2s, hw, [{"text": "just text"}], [])


def test_lora_loss_falls_and_chat_shows_base_and_tuned(lora_run):
    from studio.core.generate import ChatModels, Sampling

    folder = RunFolder(lora_run)
    logs = folder.read_events(("log",))
    evals = [e["eval_loss"] for e in folder.read_events(("eval",))]
    assert logs[-1]["loss"] < logs[0]["loss"] / 2 and evals[-1] < evals[0]
    assert (folder.model_dir / "adapter_config.json").exists()
    chat = ChatModels.for_run(lora_run)
    assert chat.seq2seq and chat.prompt_text(PROMPT) == PROMPT[0]["content"]
    greedy = Sampling(max_new_tokens=8, temperature=0)
    tuned, base = chat.reply(PROMPT, tuned=True, sampling=greedy), chat.reply(PROMPT, tuned=False, sampling=greedy)
    assert tuned.startswith("The answer") and not base.startswith("The answer")


def test_cli_eval_json_compares_base_and_tuned(lora_run, capsys):
    assert main(["eval", str(lora_run), "--json", "--max-new-tokens", "8"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "seq2seq" and result["n_examples"] == 4 and result["generated"] == 4
    assert result["tuned"]["eval_loss"] < result["base"]["eval_loss"]
    assert result["tuned"]["rougeL"] > result["base"]["rougeL"]
    assert all(row["tuned"] and "base" in row for row in result["examples"])


def _greedy(model, tok):
    import torch

    enc = tok(PROMPT[0]["content"], return_tensors="pt")
    with torch.no_grad():
        out = model.eval().generate(**enc, max_new_tokens=8, do_sample=False)
    return tok.decode(out[0], skip_special_tokens=True)


def test_adapter_and_merged_exports_reload(lora_run, tmp_path):
    from studio.core.generate import ChatModels, Sampling
    from studio.export import export_run, load_snippet

    studio_reply = ChatModels.for_run(lora_run).reply(PROMPT, sampling=Sampling(max_new_tokens=8, temperature=0))
    for merge, kind, cls in ((False, "adapter", "AutoPeftModelForSeq2SeqLM"), (True, "merged", "AutoModelForSeq2SeqLM")):
        out = tmp_path / kind
        result = export_run(lora_run, out, merge=merge)
        assert result["kind"] == kind and cls in result["load_with"]
        assert "pipeline_tag: text2text-generation" in (out / "README.md").read_text()
        scope = {}
        exec(load_snippet(kind, "seq2seq", str(out)).split("inputs =")[0], scope)  # the card's own loading code
        assert _greedy(scope["model"], scope["tokenizer"]).strip() == studio_reply.strip()


def test_full_fine_tuning_trains_and_chats(tiny_t5_dir, tmp_path):
    from studio.core.generate import ChatModels

    cfg = _config(tiny_t5_dir, tmp_path, "method=full", "train.max_steps=6", "train.learning_rate=1e-3",
                  "train.eval_steps=0", "train.logging_steps=2")
    assert run_training(cfg)["state"] == "finished"
    folder = RunFolder(tmp_path / "run")
    logs = folder.read_events(("log",))
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert (folder.model_dir / "config.json").exists() and not (folder.model_dir / "adapter_config.json").exists()
    chat = ChatModels.for_run(tmp_path / "run")
    assert chat.seq2seq and chat.tuned is not chat.base
