"""Conversations with images as a vision-language model sees them: the processor's tokens and pixels, and the
loss mask (only the assistant's turns, with their end-of-turn token, are learned from).

The mask is found on the text the chat template renders (where each assistant turn starts and ends), then carried
over to the tokens the processor makes, in which every image has grown into the model's image tokens: the two
token sequences are aligned (``difflib``), so this works for any processor whatever its image tokens look like
(LLaVA, Qwen2-VL, Idefics3/SmolVLM, Gemma 3...).
"""

from __future__ import annotations

from difflib import SequenceMatcher

from studio.data.formats import RowError
from studio.tasks.vision.images import open_image

IGNORE = -100


def tokenizer_of(processor):
    return getattr(processor, "tokenizer", processor)


def render(processor, messages: list[dict], generation_prompt: bool = False) -> str:
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def learned_spans(processor, messages: list[dict], text: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` (the rendered conversation) that training learns from: each assistant turn as
    the template writes it after the generation prompt, up to its end-of-turn token."""
    spans, cursor = [], 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(processor, messages[:i], generation_prompt=True)
        upto = render(processor, messages[: i + 1])
        if text.startswith(upto) and upto.startswith(before):
            spans.append((len(before), len(upto.rstrip())))
        else:  # a template that renders earlier turns differently: find the answer's text itself
            answer = "".join(p["text"] for p in m["content"] if p["type"] == "text").strip()
            at = text.find(answer, cursor)
            if at >= 0:
                spans.append((at, at + len(answer)))
        cursor = spans[-1][1] if spans else cursor
    return spans


def text_labels(processor, text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Token ids of the rendered text (image placeholders not yet expanded) and their labels."""
    tok = tokenizer_of(processor)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = [IGNORE] * len(ids)
    for t, (a, b) in enumerate(enc["offset_mapping"]):
        if any(b > s and a < e for s, e in spans):
            labels[t] = ids[t]
    return ids, labels


def carry_labels(short_ids: list[int], short_labels: list[int], long_ids: list[int]) -> tuple[list[int], int]:
    """Labels for ``long_ids`` (the processor's tokens, images expanded) from those of ``short_ids`` (the text's
    tokens); also the position after the last token that has no counterpart (the end of the last image)."""
    labels = [IGNORE] * len(long_ids)
    matcher = SequenceMatcher(None, short_ids, long_ids, autojunk=False)
    last_unmatched, pos = 0, 0
    for a, b, size in matcher.get_matching_blocks():
        if b > pos:
            last_unmatched = b
        for k in range(size):
            labels[b + k] = short_labels[a + k]
        pos = b + size
    return labels, last_unmatched


def image_token_id(processor) -> int | None:
    """The id of the token an image's features take the place of, when the processor names it."""
    value = getattr(processor, "image_token_id", None)
    if isinstance(value, int):
        return value
    token = getattr(processor, "image_token", None)
    tok = tokenizer_of(processor)
    return tok.convert_tokens_to_ids(token) if isinstance(token, str) else None


def load_images(record: dict) -> list:
    images = []
    for k, ref in enumerate(record.get("images") or [], 1):
        try:
            images.append(open_image(ref))
        except RowError as e:
            raise RowError(f"image {k}: {e}") from None
    return images


def encode_batch(processor, records: list[dict], max_length: int, train_on_prompt: bool = False) -> dict:
    """One training batch: the processor's tensors (padded on the right), ``labels`` masked to the learned tokens,
    and everything cut to ``max_length`` tokens (``prepare`` left out examples whose images do not fit)."""
    import torch

    tok = tokenizer_of(processor)
    texts, images, shorts = [], [], []
    for rec in records:
        text = render(processor, rec["messages"])
        ids, labels = text_labels(processor, text, [(0, len(text))] if train_on_prompt else
                                  learned_spans(processor, rec["messages"], text))
        texts.append(text)
        images.append(load_images(rec))
        shorts.append((ids, labels))
    side = tok.padding_side
    tok.padding_side = "right"
    try:
        batch = processor(text=texts, images=images if any(images) else None, padding=True, return_tensors="pt",
                          add_special_tokens=False)
    finally:
        tok.padding_side = side
    ids, mask = batch["input_ids"], batch["attention_mask"]
    labels = torch.full_like(ids, IGNORE)
    for row, (short_ids, short_labels) in enumerate(shorts):
        n = int(mask[row].sum())
        lab, _ = carry_labels(short_ids, short_labels, ids[row, :n].tolist())
        labels[row, :n] = torch.tensor(lab)
    batch = dict(batch)
    batch["labels"] = labels
    seq = ids.shape[1]
    if seq > max_length:
        for key, value in batch.items():
            if hasattr(value, "shape") and value.dim() >= 2 and value.shape[:2] == ids.shape[:2]:
                batch[key] = value[:, :max_length]
    return batch


def measure(processor, record: dict, max_length: int, train_on_prompt: bool = False) -> dict:
    """How one record encodes: its tokens, image tokens, learned tokens within ``max_length``, and whether its
    images fit (the cut may not fall inside an image). Raises RowError for an image that cannot be read."""
    text = render(processor, record["messages"])
    ids, labels = text_labels(processor, text, [(0, len(text))] if train_on_prompt else
                              learned_spans(processor, record["messages"], text))
    batch = processor(text=[text], images=load_images(record) or None, add_special_tokens=False)
    long_ids = [int(t) for t in batch["input_ids"][0]]
    long_labels, image_end = carry_labels(ids, labels, long_ids)
    image_id = image_token_id(processor)  # the matcher may pair a placeholder with the last of its image tokens
    if image_id is not None and image_id in long_ids:
        image_end = max(image_end, len(long_ids) - long_ids[::-1].index(image_id))
    kept = long_labels[:max_length]
    return {"tokens": len(long_ids), "image_tokens": len(long_ids) - len(ids) + len(record.get("images") or ()),
            "trained": sum(1 for x in kept if x != IGNORE), "fits": image_end <= max_length}


def trained_pieces(processor, record: dict, max_length: int, train_on_prompt: bool = False) -> list[tuple[str, bool]]:
    """The rendered conversation in pieces (text, learned?), images shown as the template's image text."""
    tok = tokenizer_of(processor)
    text = render(processor, record["messages"])
    ids, labels = text_labels(processor, text, [(0, len(text))] if train_on_prompt else
                              learned_spans(processor, record["messages"], text))
    ids, labels = ids[:max_length], labels[:max_length]
    pieces, start = [], 0
    for t in range(1, len(ids) + 1):
        if t == len(ids) or (labels[t] != IGNORE) != (labels[start] != IGNORE):
            pieces.append((tok.decode(ids[start:t], skip_special_tokens=False), labels[start] != IGNORE))
            start = t
    return pieces
