"""The vision task end to end with a tiny random vision-language model (LLaVA layout, built here): LoRA training
through the CLI on conversations with images, chat with an image, base vs tuned evaluation, a merged export that
reloads and answers the same; the loss mask (LLaVA and Idefics3 processors); the vision encoder left frozen."""

import json

import pytest

from studio.cli.main import main


def _image(path, colour, size=(40, 32)):
    from PIL import Image

    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory, tokenizer):
    from studio.tasks.vision.tiny import build

    return build(tmp_path_factory.mktemp("tiny-vlm"))


@pytest.fixture(scope="module")
def vision_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vision-data")
    (folder / "img").mkdir()
    colours = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}
    rows = []
    for i in range(6):
        name = list(colours)[i % 3]
        _image(folder / "img" / f"{i}.png", colours[name], (40 + i, 32))
        rows.append({"messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"img/{i}.png"}},
                                         {"type": "text", "text": "What colour is this?"}]},
            {"role": "assistant", "content": f"It is {name}."}]})
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def test_loss_is_on_the_answer_only(tiny_vlm, vision_data):
    from studio.tasks.vision.encode import IGNORE, encode_batch
    from studio.tasks.vision.intake import load
    from studio.tasks.vision.model import load_processor

    proc = load_processor(tiny_vlm)
    records = load(vision_data / "train.jsonl").records[:2]
    batch = encode_batch(proc, records, max_length=128)
    image_id = proc.tokenizer.convert_tokens_to_ids("<image>")
    assert int((batch["input_ids"] == image_id).sum()) == 2 * 5  # each 28x28 image: 4 patches and the class token
    for row, rec in zip(range(2), records):
        learned = batch["labels"][row][batch["labels"][row] != IGNORE].tolist()
        assert proc.tokenizer.decode(learned) == rec["messages"][1]["content"][0]["text"] + "<|im_end|>"
    assert batch["pixel_values"].shape[0] == 2
    cut = encode_batch(proc, records, max_length=12)  # the answer falls beyond the cut: nothing learned, images kept
    assert cut["input_ids"].shape[1] == 12 and int((cut["labels"] != IGNORE).sum()) == 0


def test_lora_trains_chats_with_an_image_and_exports_a_merged_model(tiny_vlm, vision_data, tmp_path, capsys):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    run = tmp_path / "run"
    cfg = tmp_path / "vision.yaml"
    cfg.write_text(f"model: {{source: {tiny_vlm}}}\ntask: vision\nmethod: lora\n"
                   f"data: {{train: {vision_data / 'train.jsonl'}, max_length: 128, eval_fraction: 0}}\n"
                   "train: {max_steps: 4, batch_size: 3, learning_rate: 0.01}\nlaunch: {backend: inline}\n"
                   f"output_dir: {run}\n", encoding="utf-8")
    assert main(["train", str(cfg)]) == 0
    start = next(json.loads(line) for line in (run / "events.jsonl").open() if '"start"' in line)
    assert start["task"] == "vision" and start["images"] == 6 and start["vision_encoder"] == "frozen"
    assert start["trained_tokens"] > 0 and start["image_tokens"] == 6 * 5
    adapter = json.loads((run / "model" / "adapter_config.json").read_text())
    assert adapter["target_modules"] and all(".language_model." in t for t in adapter["target_modules"])
    logged = [json.loads(line) for line in (run / "events.jsonl").open() if '"type": "log"' in line]
    assert len(logged) == 4 and all(e["loss"] > 0 for e in logged)

    image = str(vision_data / "img" / "0.png")
    capsys.readouterr()
    assert main(["chat", str(run), "--prompt", "What colour is this?", "--image", image, "--max-new-tokens", "6"]) == 0
    tuned = capsys.readouterr().out.rstrip("\n").split("\n")[-1]
    assert main(["chat", str(run), "--prompt", "What colour is this?", "--image", image, "--max-new-tokens", "6",
                 "--base"]) == 0
    base = capsys.readouterr().out.rstrip("\n").split("\n")[-1]
    assert tuned.startswith("It is") and tuned != base  # the adapter taught the answers' start; the base never saw them

    assert main(["eval", str(run), "--data", str(vision_data / "train.jsonl"), "--limit", "2", "--max-new-tokens", "4"]) == 0
    result = json.loads((run / "evaluation.json").read_text())  # base and tuned scored on the same images
    assert result["tuned"]["eval_loss"] < result["base"]["eval_loss"] and len(result["examples"]) == 2
    assert result["examples"][0]["reference"] == "It is red." and result["examples"][0]["images"] == 1

    out = tmp_path / "merged"
    assert main(["export", str(run), "--merge", "--out", str(out)]) == 0
    assert "AutoModelForImageTextToText" in (out / "README.md").read_text()
    model = AutoModelForImageTextToText.from_pretrained(out).eval()
    proc = AutoProcessor.from_pretrained(out)
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour is this?"}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True)
    from PIL import Image

    inputs = proc(text=[text], images=[Image.open(image).convert("RGB")], add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        ids = model.generate(**inputs, max_new_tokens=6, do_sample=False, pad_token_id=proc.tokenizer.pad_token_id)
    reply = proc.tokenizer.decode(ids[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert reply.strip().replace("\n", " ") == tuned

    capsys.readouterr()
    assert main(["export", str(run), "--gguf", "--out", str(tmp_path / "gguf")]) == 2
    assert "GGUF" in capsys.readouterr().err


def test_full_training_keeps_the_vision_encoder_frozen_unless_asked(tiny_vlm):
    from studio.core.config import StudioConfig
    from studio.core.hardware import detect_hardware
    from studio.tasks.vision.model import language_module_names, load_for_training

    cfg = StudioConfig.from_dict({"model": {"source": tiny_vlm}, "task": "vision", "method": "full"})
    model = load_for_training(cfg, detect_hardware("fp32"))
    language = language_module_names(model)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained and all(n.rsplit(".", 1)[0] in language or "lm_head" in n for n in trained)
    assert not any("vision_tower" in n or "projector" in n for n in trained)
    cfg.vision.train_encoder = True
    model = load_for_training(cfg, detect_hardware("fp32"))
    assert any("vision_tower" in n for n, p in model.named_parameters() if p.requires_grad)


def test_a_text_model_is_refused(tiny_model_dir, vision_data):
    from studio.core.config import StudioConfig
    from studio.core.errors import StudioError
    from studio import tasks

    cfg = StudioConfig.from_dict({"model": {"source": tiny_model_dir}, "task": "vision",
                                  "data": {"train": str(vision_data / "train.jsonl")}})
    with pytest.raises(StudioError, match="reads text only"):
        tasks.check(cfg, cuda=False)


def test_image_tokens_per_example_with_the_processor(tiny_vlm, tmp_path):
    from PIL import Image

    from studio.tasks.vision.health import check_images
    from studio.tasks.vision.intake import load
    from studio.tasks.vision.model import load_processor

    proc = load_processor(tiny_vlm)
    Image.new("RGB", (40, 40), (9, 9, 9)).save(tmp_path / "x.png")
    rows = [{"messages": [{"role": "user", "content": "<image>" * k + " Count?"}, {"role": "assistant", "content": "ok"}],
             "images": ["x.png"] * k} for k in (1, 3)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = check_images(load(tmp_path / "d.jsonl"), proc, max_length=16)
    tokens = report.get("image_tokens")
    assert tokens is not None and "5 tokens per example (median), 15 at most" in tokens.message
    assert report.get("image_tokens_over_length").records == [2]  # 15 image tokens after the turn header pass 16


def test_the_mask_follows_an_idefics3_processor_that_splits_images(tmp_path, tokenizer):
    """SmolVLM's layout: an image becomes tiles, row/column tags and a global view; the mask still finds the answer."""
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    from studio.core import models
    from studio.tasks.vision.encode import IGNORE, encode_batch, measure

    tok = models.load_tokenizer("smollm2")
    tok.add_special_tokens({"additional_special_tokens": ["<fake_token_around_image>", "<image>", "<end_of_utterance>",
                                                          "<global-img>"] + [f"<row_{r}_col_{c}>" for r in (1, 2) for c in (1, 2)]})
    template = ("<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}: "
                "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{part['text']}}"
                "{% else %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
                "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")
    images = Idefics3ImageProcessorPil(size={"longest_edge": 64}, max_image_size={"longest_edge": 32})
    proc = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4, chat_template=template)
    _image(tmp_path / "r.png", (200, 0, 0), (50, 40))
    rec = {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour?"}]},
                        {"role": "assistant", "content": [{"type": "text", "text": "Red, clearly."}]}],
           "images": [{"path": str(tmp_path / "r.png")}]}
    m = measure(proc, rec, 512)
    assert m["image_tokens"] > 4 * 4 and m["fits"]  # four tiles and the global view, four tokens each, and their tags
    batch = encode_batch(proc, [rec, rec], 512)
    learned = batch["labels"][0][batch["labels"][0] != IGNORE]
    assert tok.decode(learned).strip() == "Red, clearly.<end_of_utterance>"
    cfg = Idefics3Config(vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                            num_attention_heads=2, image_size=32, patch_size=8),
                         text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                                          num_attention_heads=4, num_key_value_heads=2, pad_token_id=tok.pad_token_id),
                         image_token_id=tok.convert_tokens_to_ids("<image>"), scale_factor=2)
    with torch.no_grad():
        assert torch.isfinite(Idefics3ForConditionalGeneration(cfg)(**batch).loss)


def test_qlora_quantizes_the_language_model_only(tiny_vlm):
    pytest.importorskip("bitsandbytes")
    from studio.core.config import StudioConfig
    from studio.core.hardware import detect_hardware
    from studio.tasks.vision.model import load_for_training

    cfg = StudioConfig.from_dict({"model": {"source": tiny_vlm}, "task": "vision", "method": "qlora"})
    model = load_for_training(cfg, detect_hardware("fp32"))
    kinds = {n: type(m).__name__ for n, m in model.named_modules() if n.endswith(("q_proj", "k_proj", "linear_1"))}
    assert any("language_model" in n and "4bit" in k for n, k in kinds.items())
    assert all("4bit" not in k for n, k in kinds.items() if "vision_tower" in n or "projector" in n)
