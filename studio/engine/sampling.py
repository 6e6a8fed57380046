"""Batches of similar length, so that less compute goes to padding.

transformers' own length grouping sorts within "megabatches" of ``min(n // (4 * batch), 50)`` batches,
which is a single batch (no grouping at all) for the small datasets people fine-tune on. This sampler
shuffles, sorts each chunk of up to ``chunk_batches`` batches by length, cuts it into batches and
shuffles the batches, so every dataset size gets the benefit while the order stays random from epoch
to epoch. The longest batch goes first so that running out of memory shows at once, not an hour in.
"""

from __future__ import annotations

import random

from torch.utils.data import Sampler


class LengthBucketSampler(Sampler[int]):
    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, chunk_batches: int = 64):
        self.lengths = list(lengths)
        self.batch_size = max(1, batch_size)
        self.seed = seed
        self.chunk = self.batch_size * max(1, chunk_batches)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:  # called by the Trainer, so a resumed run replays the same order
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        batches: list[list[int]] = []
        for start in range(0, len(order), self.chunk):
            part = sorted(order[start:start + self.chunk], key=lambda i: self.lengths[i], reverse=True)
            batches += [part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        rng.shuffle(batches)
        longest = max(range(len(batches)), key=lambda b: max(self.lengths[i] for i in batches[b]), default=0)
        if batches:
            batches[0], batches[longest] = batches[longest], batches[0]
        return batches

    def __iter__(self):
        for batch in self.batches():
            yield from batch


def make_trainer_class():
    """A Trainer that batches by length with LengthBucketSampler (transformers is imported lazily)."""
    from transformers import Trainer

    class StudioTrainer(Trainer):
        group_by_length = True
        loss_at_trained_positions = False  # output layer and loss only where tokens are learned from (causal LMs)

        attention_plan = None  # studio.core.attention.AttentionPlan: the attention for each batch's length

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.attention_plan is not None and "input_ids" in inputs:
                self.attention_plan.apply(model, inputs["input_ids"].shape[-1])
            if not self.loss_at_trained_positions or "labels" not in inputs:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            from studio.core.trained_positions import loss_at_trained_positions

            loss, outputs = loss_at_trained_positions(model, inputs, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # as the Trainer's own loss: the count covers all ranks
            return (loss, outputs) if return_outputs else loss

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if not self.group_by_length or dataset is None or not hasattr(dataset, "__len__"):
                return super()._get_train_sampler(train_dataset)
            lengths = [len(ex["input_ids"]) for ex in dataset]
            per_step = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return LengthBucketSampler(lengths, per_step, seed=self.args.seed)

    return StudioTrainer
