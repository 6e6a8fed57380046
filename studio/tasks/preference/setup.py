"""Preference tuning with DPO: what the trainer gets (TRL's ``DPOTrainer``, built by ``TaskSetup.trainer_factory``).

Each pair becomes a conversational example as TRL reads it: the prompt turns, the chosen answer and the rejected
one as assistant turns; TRL renders them with the model's chat template and learns to raise the chosen answer's
likelihood over the rejected one's, relative to the base. With LoRA the base is the model with its adapter
switched off; with full fine-tuning a frozen copy of the starting weights.
"""

from __future__ import annotations

from studio.core.config import StudioConfig
from studio.core.setup import TaskSetup
from studio.core.errors import StudioError
from studio.tasks.preference.settings import loss_settings
from studio.tasks.trl_reference import build_trainer, load_policy, load_tokenizer

# What DPOTrainer logs, as the run's events name it (eval events carry them with an eval_ prefix).
# reward = beta * (log-prob of an answer under the tuned model - under the base); margin = chosen - rejected;
# accuracy = the share of pairs whose chosen answer has the higher reward.
LOG_METRICS = {"rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy"}


def pair_of(record: dict) -> dict | None:
    """A normalised preference record as TRL's conversational example; None when it cannot teach anything."""
    prompt = [{"role": m["role"], "content": m["content"]} for m in record.get("messages") or []]
    chosen, rejected = record.get("chosen"), record.get("rejected")
    if not any(m["role"] == "user" for m in prompt) or not isinstance(chosen, str) or not isinstance(rejected, str):
        return None
    if not chosen.strip() or not rejected.strip() or chosen.strip() == rejected.strip():
        return None
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}]}


def pairs_of(records: list[dict]) -> tuple[list[dict], int]:
    """The usable pairs and how many records were left out (no prompt, an empty side, or identical sides)."""
    pairs = [p for p in (pair_of(r) for r in records) if p is not None]
    return pairs, len(records) - len(pairs)


def setup_preference(config: StudioConfig, hw, train_records: list, eval_records: list) -> TaskSetup:
    from datasets import Dataset

    tokenizer, own_template = load_tokenizer(config)
    train, dropped = pairs_of(train_records)
    evals, eval_dropped = pairs_of(eval_records)
    if not train:
        raise StudioError(
            f"data.train: none of the {len(train_records)} records is a usable preference pair (a prompt with a "
            "user turn, and a chosen and a rejected answer that are not empty and differ); check the file's "
            "prompt, chosen and rejected columns, or pick the chat task for data without rejected answers"
        )
    loss = loss_settings(config)
    model, info = load_policy(config, hw, own_template)
    info["pairs_left_out"] = dropped + eval_dropped
    info["loss"] = loss.describe()
    return TaskSetup(model, tokenizer, Dataset.from_list(train), Dataset.from_list(evals) if evals else [], None, info,
                     trainer_factory=make_trainer_factory(config), log_metrics=dict(LOG_METRICS))


def make_trainer_factory(config: StudioConfig):
    """``trainer_factory`` for ``studio.engine.train``: TRL's DPOTrainer with the studio's training arguments and
    the task's loss settings (``settings.LossSettings``: DPO plus an SFT term on the chosen answers by default)."""
    loss = loss_settings(config)

    def factory(args: dict, model, data_collator=None, compute_metrics=None, **kw):
        from trl import DPOConfig, DPOTrainer

        args = dict(args, beta=config.preference.beta, max_length=config.data.max_length, **loss.trl_args(),
                    train_sampling_strategy="random",  # DPOTrainer's examples have no input_ids to sort by
                    prediction_loss_only=True)
        return build_trainer(DPOTrainer, DPOConfig, args, model, **kw)

    return factory
