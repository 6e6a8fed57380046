"""Fine-tuning a vision-language model on conversations with images: what the trainer gets.

Every record is measured once before training (its images opened, its tokens counted); records whose images do
not fit in ``data.max_length`` or that have nothing left to learn from are left out and counted. Batches are made
as they are needed (``Collator``): the processor turns each batch's conversations and images into the model's
inputs, so the pixels of the whole data set are never held in memory.
"""

from __future__ import annotations

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.params import count_parameters
from studio.core.setup import TaskSetup
from studio.data.formats import RowError
from studio.tasks.vision.encode import encode_batch, measure
from studio.tasks.vision.model import check_model, load_for_training, load_processor


class Collator:
    """Batches vision records for the Trainer (see ``encode_batch``)."""

    def __init__(self, processor, max_length: int, train_on_prompt: bool = False):
        self.processor, self.max_length, self.train_on_prompt = processor, max_length, train_on_prompt

    def __call__(self, records: list[dict]) -> dict:
        return encode_batch(self.processor, records, self.max_length, self.train_on_prompt)


def usable(processor, records: list[dict], max_length: int, train_on_prompt: bool) -> tuple[list, dict]:
    """The records that train, and counts of the others and of the tokens."""
    kept, counts = [], {"dropped_images_do_not_fit": 0, "dropped_no_answer_in_length": 0, "real_tokens": 0,
                        "trained_tokens": 0, "image_tokens": 0, "images": 0}
    for n, rec in enumerate(records, 1):
        try:
            m = measure(processor, rec, max_length, train_on_prompt)
        except RowError as e:
            raise StudioError(f"data.train: example {n}: {e}") from None
        if not m["fits"]:
            counts["dropped_images_do_not_fit"] += 1
        elif not m["trained"]:
            counts["dropped_no_answer_in_length"] += 1
        else:
            kept.append(rec)
            counts["real_tokens"] += min(m["tokens"], max_length)
            counts["trained_tokens"] += m["trained"]
            counts["image_tokens"] += m["image_tokens"]
            counts["images"] += len(rec["images"])
    return kept, counts


def setup_vision(config: StudioConfig, hw, train_records: list, eval_records: list) -> TaskSetup:
    src, trc = config.model.source, config.model.trust_remote_code
    check_model(src, trc)
    processor = load_processor(src, trc)
    max_length, on_prompt = config.data.max_length, config.data.train_on_prompt
    train, counts = usable(processor, train_records, max_length, on_prompt)
    evals, _ = usable(processor, eval_records, max_length, on_prompt)
    if not train:
        raise StudioError(
            f"none of the {len(train_records)} training conversations fits data.max_length={max_length} with its "
            f"images and an answer to learn from ({counts['dropped_images_do_not_fit']} had images longer than that); "
            "raise max length, or use fewer or smaller images per conversation")
    model = load_for_training(config, hw)
    total, trainable = count_parameters(model)
    # batches are made from the records as they are needed, so there are no token lengths to sort by
    config.train.group_by_length = False
    info = {"parameters": total, "trainable_parameters": trainable,
            "vision_encoder": "trained" if config.vision.train_encoder else "frozen", **counts}
    return TaskSetup(model, processor, train, evals, Collator(processor, max_length, on_prompt), info)
