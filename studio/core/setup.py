"""``TaskSetup``: everything a task hands the trainer for one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass
class TaskSetup:
    """What ``Task.setup`` returns; the trainer (``studio.engine.train``) needs nothing else about the task.

    ``model``/``tokenizer`` ready to train; ``train_dataset``/``eval_dataset`` lists of encoded examples;
    ``data_collator`` batches them; ``info`` goes into the run's start event (counts, labels, ...);
    ``compute_metrics`` (optional) adds metrics to eval events; ``save_extra(folder)`` writes task files
    next to the saved model; ``loss_func`` is the Trainer's ``compute_loss_func(outputs, labels, num_items)``;
    ``length_sorted_batches`` asks for the studio's length-bucketed sampler (else transformers' own grouping);
    ``loss_at_trained_positions`` computes the output layer and loss of a causal LM only where tokens are learned
    from (``studio.core.trained_positions``); ``attention`` (a causal LM's ``AttentionPlan``) lets the trainer pick
    the attention for each batch's length, and says whether the collator packs batches.

    A task whose training is not plain supervised learning (preference tuning, ...) brings its own trainer:
    ``trainer_factory(args, **trainer_kwargs)`` gets the ``TrainingArguments`` keywords the studio chose (a dict
    it may adjust, e.g. to build a ``TrainingArguments`` subclass of its library) and the Trainer's keywords
    (model, train_dataset, eval_dataset, data_collator, processing_class, compute_metrics, callbacks), and
    returns a ``transformers.Trainer``. ``log_metrics`` maps keys the trainer logs to names in the run's
    events (``{"rewards/margins": "reward_margin"}``); eval events carry them with an ``eval_`` prefix, and the
    live chart draws them in a panel of their own.
    """

    model: Any
    tokenizer: Any
    train_dataset: list
    eval_dataset: list
    data_collator: Any
    info: dict = field(default_factory=dict)
    compute_metrics: Any = None
    save_extra: Callable[[Path], None] | None = None
    loss_func: Callable | None = None
    length_sorted_batches: bool = False
    loss_at_trained_positions: bool = False  # causal LMs: output layer and loss only where tokens are learned from
    trainer_factory: Callable[..., Any] | None = None  # trainer_factory(args: dict, **trainer_kwargs) -> Trainer
    log_metrics: dict[str, str] = field(default_factory=dict)  # trainer log key -> event key
    attention: Any = None  # a causal LM's studio.core.attention.AttentionPlan: switched per batch, packed batches
