"""A tiny random vision-language model (LLaVA layout: a CLIP vision tower, a projector, a Llama text model) with
its processor, built locally and saved to a folder.

Nothing is downloaded: the text side uses the embedded SmolLM2 tokenizer with an ``<image>`` token added, and the
weights are random. It exists to try the vision task end to end offline (and for the tests); it learns, but it
knows nothing:

    python -c "from studio.tasks.vision.tiny import build; print(build('models/tiny-vlm'))"
"""

from __future__ import annotations

from pathlib import Path

IMAGE_TOKEN = "<image>"
IMAGE_SIZE, PATCH = 28, 14  # every image becomes 28x28 pixels: 2x2 patches, 4 image tokens and the class token
# A ChatML template that renders image parts as the image token (text parts as their text).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build(out: str | Path, tokenizer_source: str = "smollm2", seed: int = 0) -> str:
    """Save a tiny random LLaVA model and its processor in ``out``; returns the folder."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from studio.core import models

    tok = models.load_tokenizer(tokenizer_source)
    tok.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    image_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    end_id = tok.convert_tokens_to_ids("<|im_end|>")
    images = CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=PATCH,
                               vision_feature_select_strategy="full", num_additional_image_tokens=1,
                               chat_template=CHAT_TEMPLATE)
    text = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                       bos_token_id=tok.bos_token_id, eos_token_id=end_id, pad_token_id=tok.pad_token_id,
                       tie_word_embeddings=True)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                              image_size=IMAGE_SIZE, patch_size=PATCH, projection_dim=32)
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_id,
                      vision_feature_select_strategy="full", vision_feature_layer=-1, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = end_id
    model.generation_config.pad_token_id = tok.pad_token_id
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return str(out)
