"""Reinforcement learning from rewards (GRPO): what the trainer gets (TRL's ``GRPOTrainer``).

For every prompt the model writes ``grpo.generations`` replies; each is scored by the run's rewards
(``studio.tasks.grpo.rewards``), and the model is pushed toward the replies that scored above their group's mean.
``train.batch_size`` counts replies: 8 with 4 generations is 2 prompts per step. With LoRA the reference for the KL
term is the base with the adapter off; with full fine-tuning TRL keeps a frozen copy.

The run's events get, per logged step, each reward's mean (``reward_<name>``), the weighted total (``reward``), the
mean reply length in tokens (``completion_length``) and the KL to the base (``kl``), a ``samples`` event with a
few of the step's replies and their scores, and a ``generation`` event with the seconds spent generating replies
since the last log and the tokens they sampled (``python -m studio bench --grpo`` splits a step's time by it).

``grpo.use_vllm`` generates with vLLM on the training GPU (TRL's ``use_vllm=True, vllm_mode="colocate"``); it is
refused before training where vLLM is not installed or there is no CUDA GPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.setup import TaskSetup
from studio.tasks.grpo import data as grpo_data
from studio.tasks.grpo import rewards as R

SAMPLES_SHOWN = 4


def settings(config: StudioConfig) -> dict:
    """The run's ``grpo`` section as a dict, checked."""
    from dataclasses import asdict

    out = asdict(config.grpo)
    if out["generations"] < 2:
        raise StudioError("grpo.generations: GRPO compares replies to the same prompt; use 2 or more (4 is usual)")
    if out["max_new_tokens"] < 1 or out["temperature"] <= 0 or out["beta"] < 0:
        raise StudioError("grpo: max_new_tokens must be 1 or more, temperature above 0 and beta 0 or more")
    return out


def check(config: StudioConfig, cuda: bool | None = None) -> None:
    s = settings(config)
    if s["use_vllm"]:
        check_vllm(cuda)
    per_step = config.train.batch_size * config.train.grad_accum
    if per_step % s["generations"]:
        raise StudioError(f"train.batch_size x grad_accum ({per_step}) must be a multiple of grpo.generations "
                          f"({s['generations']}): each prompt's {s['generations']} replies are scored together; "
                          f"e.g. batch_size {s['generations'] * 2}")
    R.parse(config.rewards, getattr(config, "_base", None), load_models=False) if not _has_model(config) else None


def check_vllm(cuda: bool | None = None) -> None:
    """``grpo.use_vllm`` needs the vllm package and a CUDA GPU; say so before training, not inside TRL."""
    if importlib.util.find_spec("vllm") is None:
        raise StudioError("grpo.use_vllm: vLLM is not installed here, so replies cannot be generated with it; "
                          "install it with `pip install vllm` (CUDA GPUs only) or set grpo.use_vllm=false")
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    if not cuda:
        raise StudioError("grpo.use_vllm: vLLM generates on a CUDA GPU and this machine has none; "
                          "set grpo.use_vllm=false to generate with transformers, or train on a machine with a GPU")


def _has_model(config) -> bool:
    return any(isinstance(e, dict) and e.get("kind") == "reward_model" for e in config.rewards or [])


def trl_reward(reward: R.Reward):
    """A reward as TRL calls reward functions: ``fn(prompts, completions, **columns) -> list[float]``."""

    def fn(prompts, completions, row_json=None, **_):
        replies = [c[-1]["content"] if isinstance(c, list) else str(c) for c in completions]
        texts = [grpo_data.prompt_text(p) if isinstance(p, list) else str(p) for p in prompts]
        rows = [json.loads(r) for r in row_json] if row_json else [{} for _ in replies]
        return reward.score(texts, replies, rows)

    fn.__name__ = reward.name
    return fn


def setup_grpo(config: StudioConfig, hw, train_records: list, eval_records: list) -> TaskSetup:
    from datasets import Dataset

    from studio.tasks.trl_reference import load_policy, load_tokenizer

    s = settings(config)
    train, _, info = grpo_data.splits(config)  # the records again, with their columns for the rewards
    rewards = R.parse(config.rewards, getattr(config, "_base", None), grpo_data.columns_of(train))
    tokenizer, own_template = load_tokenizer(config)
    model, facts = load_policy(config, hw, own_template)
    facts.update(info, beta=s["beta"], generations=s["generations"], max_new_tokens=s["max_new_tokens"],
                 rewards=[{"name": r.name, "kind": r.kind, "weight": r.weight} for r in rewards])
    rows = [{"prompt": e["prompt"], "row_json": json.dumps(e["columns"], ensure_ascii=False)} for e in train]
    log_metrics = {"reward": "reward", "completions/mean_length": "completion_length", "kl": "kl"}
    log_metrics.update({f"rewards/{r.name}/mean": f"reward_{r.name}" for r in rewards})
    # held-out prompts are scored by `python -m studio eval` (base against tuned), not while training: GRPO's own
    # evaluation would generate replies for every held-out prompt at every evaluation
    return TaskSetup(model, tokenizer, Dataset.from_list(rows), [], None, facts,
                     trainer_factory=make_trainer_factory(config, s, rewards), log_metrics=log_metrics)


def make_trainer_factory(config: StudioConfig, s: dict, rewards: list):
    def factory(args: dict, model, data_collator=None, compute_metrics=None, callbacks=None, **kw):
        from trl import GRPOConfig, GRPOTrainer

        args = dict(args, num_generations=s["generations"], max_completion_length=s["max_new_tokens"],
                    temperature=s["temperature"], beta=s["beta"], reward_weights=[r.weight for r in rewards],
                    train_sampling_strategy="random", log_completions=False)
        if s["use_vllm"]:  # generation on the training GPU, sharing its memory (TRL's colocate mode)
            args.update(use_vllm=True, vllm_mode="colocate")
        args.pop("prediction_loss_only", None)
        kw.pop("eval_dataset", None)
        trainer = GRPOTrainer(model=model, reward_funcs=[trl_reward(r) for r in rewards], args=GRPOConfig(**args),
                              callbacks=list(callbacks or []), **kw)
        trainer.add_callback(_samples_callback(trainer, config.output_dir, s["samples"]))
        trainer.add_callback(_time_generation(trainer, config.output_dir))
        return trainer

    return factory


def _samples_callback(trainer, output_dir: str, shown: int):
    """After each log: a ``samples`` event with a few of the latest replies, their prompts and their scores."""
    from transformers import TrainerCallback

    from studio.core.runfolder import RunFolder

    folder = RunFolder(output_dir)

    class Samples(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if int(os.environ.get("RANK", "0")) != 0 or not logs or "loss" not in logs:
                return
            event = samples_event(trainer._logs, state.global_step, trainer.reward_weights.tolist(), shown)
            if event["samples"]:
                folder.emit(event)

    return Samples()


def _time_generation(trainer, output_dir: str):
    """Time TRL's generation (``_generate_single_turn``: transformers or vLLM) and count the tokens it sampled; after
    each log, a ``generation`` event with the seconds and tokens since the previous one."""
    from transformers import TrainerCallback

    from studio.core.runfolder import RunFolder

    clock = {"seconds": 0.0, "tokens": 0, "replies": 0}
    inner = trainer._generate_single_turn

    def timed(*a, **kw):
        t = time.perf_counter()
        out = inner(*a, **kw)
        if trainer.model.training:
            clock["seconds"] += time.perf_counter() - t
            clock["tokens"] += sum(len(ids) for ids in out[0])
            clock["replies"] += len(out[0])
        return out

    trainer._generate_single_turn = timed
    folder = RunFolder(output_dir)

    class Generation(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if not logs or "loss" not in logs:
                return
            if int(os.environ.get("RANK", "0")) == 0 and clock["replies"]:
                folder.emit({"type": "generation", "step": state.global_step,
                             "seconds": round(clock["seconds"], 4), "tokens": clock["tokens"], "replies": clock["replies"]})
            clock.update(seconds=0.0, tokens=0, replies=0)

    return Generation()


def samples_event(logs: dict, step: int, weights: list[float], shown: int) -> dict:
    prompts, replies = list(logs.get("prompt") or []), list(logs.get("completion") or [])
    scores = {name: list(values) for name, values in (logs.get("rewards") or {}).items()}
    out = []
    stride = max(1, len(replies) // max(1, shown))
    for i in range(0, len(replies), stride)[:shown]:
        p, c = prompts[i], replies[i]
        each = {name: round(float(v[i]), 4) for name, v in scores.items() if i < len(v)}
        out.append({"prompt": grpo_data.prompt_text(p) if isinstance(p, list) else str(p),
                    "reply": c[-1]["content"] if isinstance(c, list) and c else str(c),
                    "rewards": each, "total": round(sum(w * x for w, x in zip(weights, each.values())), 4)})
    return {"type": "samples", "step": step, "samples": out}
