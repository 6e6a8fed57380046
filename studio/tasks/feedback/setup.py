"""Single-answer feedback with KTO: what the trainer gets (TRL's ``KTOTrainer``, built by ``TaskSetup.trainer_factory``).

Each record is one answer to a prompt with a thumbs-up (desirable) or thumbs-down (undesirable) label; KTO raises
the likelihood of desirable answers and lowers that of undesirable ones, relative to the base (the model with its
LoRA adapter off, or a frozen copy of the starting weights for full fine-tuning), without needing pairs.
"""

from __future__ import annotations

from studio.core.config import StudioConfig
from studio.core.setup import TaskSetup
from studio.core.errors import StudioError
from studio.tasks.trl_reference import build_trainer, load_policy, load_tokenizer

LOG_METRICS = {"rewards/margins": "reward_margin", "kl": "kl"}


def example_of(record: dict) -> dict | None:
    """A normalised feedback record (prompt turns, ``completion``, ``verdict``) as TRL's conversational KTO example;
    None when it has no prompt or answer."""
    msgs = [{"role": m["role"], "content": m["content"]} for m in record.get("messages") or []]
    if "completion" in record:
        msgs.append({"role": "assistant", "content": str(record.get("completion") or "")})
    if len(msgs) < 2 or msgs[-1]["role"] != "assistant" or not msgs[-1]["content"].strip():
        return None
    if not any(m["role"] == "user" for m in msgs[:-1]) or not isinstance(record.get("verdict"), bool):
        return None
    return {"prompt": msgs[:-1], "completion": [msgs[-1]], "label": record["verdict"]}


def examples_of(records: list[dict]) -> tuple[list[dict], int]:
    out = [e for e in (example_of(r) for r in records) if e is not None]
    return out, len(records) - len(out)


def setup_feedback(config: StudioConfig, hw, train_records: list, eval_records: list) -> TaskSetup:
    from datasets import Dataset

    tokenizer, own_template = load_tokenizer(config)
    train, dropped = examples_of(train_records)
    evals, eval_dropped = examples_of(eval_records)
    if not train:
        raise StudioError(f"data.train: none of the {len(train_records)} records has a prompt, an answer and a "
                          "thumbs-up/down label; check the file's prompt, completion and label columns")
    good = sum(e["label"] for e in train)
    model, info = load_policy(config, hw, own_template)
    info.update(examples_left_out=dropped + eval_dropped, desirable=good, undesirable=len(train) - good)
    return TaskSetup(model, tokenizer, Dataset.from_list(train), Dataset.from_list(evals) if len(evals) > 1 else [],
                     None, info, trainer_factory=make_trainer_factory(config, good, len(train) - good),
                     log_metrics=dict(LOG_METRICS))


def make_trainer_factory(config: StudioConfig, good: int, bad: int):
    """``trainer_factory`` for ``studio.engine.train``: TRL's KTOTrainer; the rarer side is weighted up (KTO's advice:
    desirable_weight * good / (undesirable_weight * bad) between 1 and 4/3)."""

    def factory(args: dict, model, data_collator=None, compute_metrics=None, **kw):
        from trl import KTOConfig, KTOTrainer

        weights = {"desirable_weight": max(1.0, bad / good) if good else 1.0,
                   "undesirable_weight": max(1.0, good / bad) if bad else 1.0}
        args = dict(args, beta=config.preference.beta, max_length=config.data.max_length,
                    train_sampling_strategy="sequential",  # KTO pairs each example with its neighbour for the KL term
                    prediction_loss_only=True, **weights)
        return build_trainer(KTOTrainer, KTOConfig, args, model, **kw)

    return factory
