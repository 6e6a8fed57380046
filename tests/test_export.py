"""Export round trips on a tiny random model: adapter zip, merged model, full model, card, replay, Hub push."""

import json
import zipfile

import pytest

from studio.cli.main import main
from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.export import load_snippet, export_run, model_card, push_to_hub, replay_command
from studio.core.runfolder import RunFolder
from studio.engine.train import run_training


def _write_data(path, n=40):
    rows = [{"messages": [{"role": "user", "content": f"Question number {i}: what is {i} plus {i}?"},
                          {"role": "assistant", "content": f"The answer is {2 * i}."}]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _train(tiny_model_dir, d, *extra):
    data = _write_data(d / "chat.jsonl")
    cfg = StudioConfig().with_overrides([
        f"model.source={tiny_model_dir}", f"data.train={data}", f"output_dir={d / 'run'}", "train.max_steps=4",
        "train.batch_size=4", "train.learning_rate=5e-3", "train.eval_steps=2", "train.save_steps=4",
        "data.max_length=64", "lora.r=4", "lora.alpha=8", *extra])
    assert run_training(cfg)["state"] == "finished"
    return d / "run"


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory):
    return _train(tiny_model_dir, tmp_path_factory.mktemp("export-lora"))


PROMPT = [{"role": "user", "content": "Question number 7: what is 7 plus 7?"}]


def _greedy_plain(model_dir, max_new_tokens=10):
    """Load with plain transformers and decode greedily on the tokenizer's own chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    text = tok.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
    enc = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def _studio_reply(run_dir, max_new_tokens=10):
    from studio.core.generate import ChatModels, Sampling

    return ChatModels.for_run(run_dir).reply(PROMPT, tuned=True, sampling=Sampling(max_new_tokens=max_new_tokens, temperature=0))


def test_adapter_export_as_zip(lora_run, tmp_path):
    res = export_run(lora_run, tmp_path / "adapter", make_zip=True)
    assert res["kind"] == "adapter" and res["zip"] == str(tmp_path / "adapter.zip")
    names = set(zipfile.ZipFile(res["zip"]).namelist())
    assert {f"adapter/{n}" for n in ("adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json",
                                     "README.md", "config.yaml", "replay.sh")} <= names  # unzips to the folder
    assert not any(n.endswith(".partial") for n in names)
    # the adapter loads with plain peft on top of its base
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(res["out_dir"])
    assert any("lora_" in n for n, _ in model.named_parameters())


def test_merged_export_loads_with_transformers_and_replies_like_the_studio(lora_run, tmp_path):
    res = export_run(lora_run, tmp_path / "merged", merge=True)
    out = tmp_path / "merged"
    assert res["kind"] == "merged"
    assert (out / "model.safetensors").exists() and (out / "config.json").exists()
    assert not (out / "adapter_config.json").exists()
    assert _greedy_plain(str(out)) == _studio_reply(lora_run)
    # the merge really carries the adapter: same logits as base + adapter, different from the base alone
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    cfg = StudioConfig.load(RunFolder(lora_run).config_file)
    base = AutoModelForCausalLM.from_pretrained(cfg.model.source).eval()
    ids = torch.tensor([[1, 504, 3158, 314, 2]])
    with torch.no_grad():
        base_logits = base(ids).logits
        peft = PeftModel.from_pretrained(base, str(lora_run / "model")).eval()
        assert torch.allclose(merged(ids).logits, peft(ids).logits, atol=1e-4)
    assert not torch.allclose(merged(ids).logits, base_logits, atol=1e-3)


def test_model_card_config_and_replay_command(lora_run, tmp_path):
    from studio.engine.evaluate import evaluate_run

    evaluate_run(lora_run, limit=2, max_new_tokens=4)
    export_run(lora_run, tmp_path / "exp")
    card = (tmp_path / "exp" / "README.md").read_text()
    cfg = StudioConfig.load(RunFolder(lora_run).config_file)
    for text in ("library_name: peft", "pipeline_tag: text-generation", "LoRA adapter", cfg.model.source,
                 "chat.jsonl", "| Learning rate | 0.005 |", "| LoRA rank / alpha / dropout | 4 / 8 / 0.05 |",
                 "Eval loss (last)", "Perplexity", "| eval_loss |", "| rougeL |", "Intended use",
                 "python -m studio train config.yaml --set output_dir="):
        assert text in card, text
    assert "base_model:" not in card  # a local folder is not a Hub id
    assert (tmp_path / "exp" / "config.yaml").read_text() == (lora_run / "config.yaml").read_text()
    command = replay_command(cfg, lora_run)
    assert command in (tmp_path / "exp" / "replay.sh").read_text()
    assert command == f"python -m studio train config.yaml --set output_dir={cfg.output_dir}-replay"
    # the command replays the run: same config, same losses
    override = command.split("--set ", 1)[1]
    replay_cfg = StudioConfig.load(tmp_path / "exp" / "config.yaml").with_overrides([override])
    assert replay_cfg.to_dict() | {"output_dir": ""} == cfg.to_dict() | {"output_dir": ""}
    replay_cfg = replay_cfg.with_overrides([f"output_dir={tmp_path / 'replayed'}", "train.max_steps=2"])
    run_training(replay_cfg)
    first = lambda d: [e["loss"] for e in RunFolder(d).read_events(("log",))][:2]  # noqa: E731
    assert first(tmp_path / "replayed") == pytest.approx(first(lora_run), rel=1e-4)


def test_full_finetune_is_copied(tiny_model_dir, tmp_path):
    run = _train(tiny_model_dir, tmp_path, "method=full", "train.max_steps=2", "train.eval_steps=2",
                 "train.save_steps=2", "train.learning_rate=1e-4")
    res = export_run(run, tmp_path / "full", merge=True)
    assert res["kind"] == "full"
    assert "library_name: transformers" in (tmp_path / "full" / "README.md").read_text()
    assert _greedy_plain(str(tmp_path / "full"), 6) == _studio_reply(run, 6)


def test_export_refuses_runs_without_a_final_model(lora_run, tmp_path):
    with pytest.raises(StudioError, match="not a run folder"):
        export_run(tmp_path, tmp_path / "o")
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text((lora_run / "config.yaml").read_text())
    folder = RunFolder(run)
    for state, words in (("running", "still running"), ("failed", "failed"), ("queued", "not started")):
        folder.write_status(state=state)
        with pytest.raises(StudioError, match=words):
            export_run(run, tmp_path / "o")
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    status = json.loads(folder.status_file.read_text())
    folder.status_file.write_text(json.dumps({**status, "state": "running", "pid": gone.pid}))
    with pytest.raises(StudioError, match="cut off"):
        export_run(run, tmp_path / "o")
    folder.write_status(state="finished")
    with pytest.raises(StudioError, match="model/ folder is missing"):
        export_run(run, tmp_path / "o")
    # an existing folder is not overwritten unless asked
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    with pytest.raises(StudioError, match="already exists"):
        export_run(lora_run, tmp_path / "busy")
    export_run(lora_run, tmp_path / "busy", overwrite=True)
    assert not (tmp_path / "busy" / "keep.txt").exists()
    with pytest.raises(StudioError, match="not the run folder"):
        export_run(lora_run, lora_run / "model", overwrite=True)
    with pytest.raises(StudioError, match="not the run folder"):
        export_run(lora_run, lora_run.parent, overwrite=True)
    assert RunFolder(lora_run).has_model()


class FakeApi:
    calls = []

    def __init__(self, token=None):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, **kw):
        FakeApi.calls.append(("create", repo_id, kw.get("private")))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kw):
        FakeApi.calls.append(("upload", kw["repo_id"], kw["folder_path"]))


def test_push_to_hub_uses_the_token_without_storing_it(lora_run, tmp_path, monkeypatch):
    import huggingface_hub

    out = tmp_path / "exp"
    export_run(lora_run, out)
    token = "hf_secretTOKEN123"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(StudioError, match="offline"):
        push_to_hub(out, "me/model", token)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    FakeApi.calls = []
    assert push_to_hub(out, "me/model", token) == "https://huggingface.co/me/model"
    assert FakeApi.calls == [("init", token), ("create", "me/model", True), ("upload", "me/model", str(out))]
    for p in out.rglob("*"):
        if p.is_file():
            assert token.encode() not in p.read_bytes(), p
    with pytest.raises(StudioError, match="repository id"):
        push_to_hub(out, "not a repo", token)
    with pytest.raises(StudioError, match="token"):
        push_to_hub(out, "me/model", "  ")

    class Unreachable(FakeApi):
        def create_repo(self, repo_id, **kw):
            raise ConnectionError(f"Failed to connect with token {token}")

    monkeypatch.setattr(huggingface_hub, "HfApi", Unreachable)
    with pytest.raises(StudioError) as err:
        push_to_hub(out, "me/model", token)
    assert "could not reach" in str(err.value) and token not in str(err.value)


def test_cli_export(lora_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "cli"
    assert main(["export", str(lora_run), "--out", str(out), "--zip"]) == 0
    text = capsys.readouterr().out
    assert "LoRA adapter" in text and str(out) in text and "python -m studio train" in text
    assert (tmp_path / "cli.zip").exists()
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert main(["export", str(lora_run), "--out", str(tmp_path / "x"), "--push-to", "me/m"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "HF_TOKEN" in err and err.count("\n") == 1
    assert main(["export", str(lora_run), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none"), "--out", str(tmp_path / "y")]) == 2


def test_classification_export_works_with_the_text_classification_pipeline(tmp_path):
    classify = pytest.importorskip("studio.tasks.classification")
    from transformers import pipeline

    from studio.engine.evaluate import evaluate_run

    rows = [{"text": f"{w} film number {i}", "label": lab} for i in range(12)
            for w, lab in (("great", "pos"), ("awful", "neg"), ("okay", "meh"))]
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = StudioConfig().with_overrides([
        "task=classification", "model.source=minilm", f"data.train={tmp_path / 'reviews.jsonl'}",
        f"output_dir={tmp_path / 'run'}", "train.max_steps=3", "train.batch_size=8", "train.learning_rate=1e-3",
        "data.max_length=32", "lora.r=4", "lora.alpha=8"])
    assert run_training(cfg)["state"] == "finished"
    result = evaluate_run(tmp_path / "run", limit=0)
    assert {"accuracy", "macro_f1", "eval_loss", "rougeL"} <= set(result["tuned"]) and result["tuned"]["rougeL"] is None
    assert isinstance(result["examples"], list)
    res = export_run(tmp_path / "run", tmp_path / "merged", merge=True)
    assert res["kind"] == "merged" and "pipeline_tag: text-classification" in (tmp_path / "merged" / "README.md").read_text()
    texts = ["great film number 99", "awful film number 99"]
    got = pipeline("text-classification", model=str(tmp_path / "merged"), top_k=None)(texts)
    want = classify.predict(tmp_path / "run", texts)
    for g, w in zip(got, want):
        assert {d["label"] for d in g} == {"pos", "neg", "meh"}
        for d in g:
            assert d["score"] == pytest.approx(w[d["label"]], abs=1e-4)
    adapter = export_run(tmp_path / "run", tmp_path / "adapter")
    assert adapter["kind"] == "adapter" and "labels.json" in adapter["files"]
    # The adapter names the base model by its Hub id; offline, point it at the embedded copy of the same weights.
    from studio.core.models import resolve

    conf_path = tmp_path / "adapter" / "adapter_config.json"
    conf = json.loads(conf_path.read_text())
    conf_path.write_text(json.dumps({**conf, "base_model_name_or_path": str(resolve("minilm").path)}))
    scope: dict = {}  # the card's own loading snippet gives the run's labels and the studio's scores
    exec(load_snippet("adapter", "classification", str(tmp_path / "adapter")), scope)
    import torch

    enc = scope["tokenizer"](texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        probs = scope["model"].eval()(**enc).logits.softmax(-1)
    names = scope["model"].config.id2label
    for row, w in zip(probs, want):
        assert {names[i]: float(p) for i, p in enumerate(row)} == pytest.approx(w, abs=1e-4)


def test_adapter_export_loaded_with_plain_peft_replies_like_the_studio(lora_run, tmp_path):
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    out = export_run(lora_run, tmp_path / "adapter")["out_dir"]
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoPeftModelForCausalLM.from_pretrained(out).eval()
    enc = tok(tok.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True), return_tensors="pt",
              add_special_tokens=False)
    with torch.no_grad():
        ids = model.generate(**enc, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id)
    assert tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True) == _studio_reply(lora_run)


def test_replay_script_runs_from_any_folder(lora_run, tmp_path, monkeypatch):
    import os
    import subprocess

    export_run(lora_run, tmp_path / "exp")
    fake = tmp_path / "bin"
    fake.mkdir()
    # a stand-in python that records where it ran and whether config.yaml was there
    (fake / "python").write_text('#!/bin/sh\necho "$(pwd) $*" > "$REPLAY_LOG"\ntest -f config.yaml\n')
    (fake / "python").chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "REPLAY_LOG": str(tmp_path / "log")}
    done = subprocess.run(["sh", str(tmp_path / "exp" / "replay.sh")], cwd=elsewhere, env=env)
    assert done.returncode == 0
    assert (tmp_path / "log").read_text().startswith(f"{tmp_path / 'exp'} -m studio train config.yaml")


def test_card_says_when_the_saved_evaluation_is_older_than_the_model(lora_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(lora_run, run)
    step = RunFolder(run).read_events(("end",))[-1]["step"]
    saved = {"task": "chat", "n_examples": 2, "data": "held.jsonl", "training": {"step": step},
             "base": {"eval_loss": 2.0}, "tuned": {"eval_loss": 1.0}, "change": {"eval_loss": -1.0}}
    (run / "evaluation.json").write_text(json.dumps(saved))
    assert "was made at step" not in model_card(run)
    (run / "evaluation.json").write_text(json.dumps({**saved, "training": {"step": step - 2}}))
    assert f"was made at step {step - 2}" in model_card(run)


def test_cli_checks_the_repository_id_before_exporting(lora_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secretTOKEN123")
    assert main(["export", str(lora_run), "--out", str(tmp_path / "x"), "--push-to", "not a repo"]) == 2
    err = capsys.readouterr().err
    assert "repository id" in err and err.count("\n") == 1 and "hf_secret" not in err
    assert not (tmp_path / "x").exists()
