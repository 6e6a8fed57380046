"""The reward preview: before training, what the base model writes for a few prompts and what each reward gives it.

GRPO learns only from differences between replies to the same prompt: a reward that never fires (the base never
meets it) or always fires (it always does) teaches nothing. ``preview(config)`` samples a few replies per prompt,
scores each with each reward, and says so plainly, with what to do. Rows are plain data for the page and the CLI:

    python -m studio.tasks.grpo preview CONFIG.yaml [--prompts 4] [--replies 4] [--set key=value ...] [--json]
"""

from __future__ import annotations

from studio.core.errors import StudioError
from studio.tasks.grpo import data as grpo_data
from studio.tasks.grpo import rewards as R


def sample_replies(chat, prompt: list[dict], n: int, max_new_tokens: int, temperature: float, tuned: bool = False,
                   seed: int = 0) -> list[str]:
    """``n`` sampled replies of one model of ``chat`` (a ``studio.core.generate.ChatModels``) to one prompt."""
    import torch

    model, ctx = chat._model_and_ctx(tuned)
    inputs = chat._inputs(prompt)
    torch.manual_seed(seed)
    kw = dict(max_new_tokens=max_new_tokens, pad_token_id=chat.tokenizer.pad_token_id, num_return_sequences=n)
    kw.update(dict(do_sample=True, temperature=temperature, top_p=1.0, top_k=0) if temperature > 0 else
              dict(do_sample=False, temperature=None, top_p=None, top_k=None))
    with chat.lock, ctx, torch.no_grad():
        out = model.generate(**inputs, **kw)
    start = inputs["input_ids"].shape[1]
    return [chat.tokenizer.decode(row[start:], skip_special_tokens=True).strip() for row in out]


def verdicts(rewards: list[R.Reward], scores: dict[str, list[float]]) -> list[dict]:
    """Per reward: how often it fired, and what that means for learning."""
    out = []
    for r in rewards:
        xs = scores[r.name]
        fired = sum(1 for x in xs if x > 0)
        lo, hi = (min(xs), max(xs)) if xs else (0.0, 0.0)
        if not xs:
            note = "no replies scored"
        elif hi == lo and fired == 0:
            note = ("never fires: the base model never earns it, so GRPO has nothing to learn from; train a first "
                    "chat (SFT) run on examples that meet it, or add a reward the base meets sometimes")
        elif hi == lo:
            note = ("always gives the same score: every reply earns it alike, so it teaches nothing; make it "
                    "stricter or drop it")
        else:
            note = "varies between replies: GRPO can learn from it"
        out.append({"reward": r.name, "kind": r.kind, "weight": r.weight, "mean": round(sum(xs) / max(1, len(xs)), 4),
                    "fired": fired, "replies": len(xs), "learnable": hi != lo, "note": note})
    return out


def preview(config, prompts: int = 4, replies: int = 4, chat=None, report=None) -> dict:
    """``{"rows": [{prompt, reply, <reward>: score, total}], "rewards": verdicts, "columns": [...]}``."""
    from studio.core.generate import ChatModels
    from studio.tasks.grpo.setup import settings

    report = report or (lambda fraction, message: None)
    s = settings(config)
    train, _, _ = grpo_data.splits(config)
    items = train[:max(1, prompts)]
    rewards = R.parse(config.rewards, getattr(config, "_base", None), grpo_data.columns_of(train))
    report(0.05, "loading the base model")
    if chat is None:
        chat = ChatModels(config.model.source, None, config.model.trust_remote_code)
    texts, replies_all, rows = [], [], []
    for i, e in enumerate(items):
        report(0.1 + 0.8 * i / len(items), f"sampling replies to prompt {i + 1}/{len(items)}")
        got = sample_replies(chat, e["prompt"], max(1, replies), s["max_new_tokens"], s["temperature"], seed=config.train.seed + i)
        texts += [grpo_data.prompt_text(e["prompt"])] * len(got)
        replies_all += got
        rows += [e["columns"]] * len(got)
    scores = R.score_all(rewards, texts, replies_all, rows)
    totals = R.total(rewards, scores)
    table = [{"prompt": t, "reply": rep, **{r.name: round(scores[r.name][i], 4) for r in rewards}, "total": totals[i]}
             for i, (t, rep) in enumerate(zip(texts, replies_all))]
    report(1.0, "done")
    return {"rows": table, "rewards": verdicts(rewards, scores), "columns": ["prompt", "reply", *[r.name for r in rewards], "total"]}


def format_preview(result: dict, width: int = 70) -> str:
    lines = []
    for row in result["rows"]:
        reply = " ".join(str(row["reply"]).split())
        scores = ", ".join(f"{k} {row[k]:g}" for k in result["columns"][2:])
        lines += [f"prompt: {' '.join(str(row['prompt']).split())[:width]}", f"  reply: {reply[:width * 2]}", f"  {scores}"]
    lines.append("")
    for v in result["rewards"]:
        lines.append(f"{v['reward']} ({v['kind']}, weight {v['weight']:g}): mean {v['mean']:g}, fired on "
                     f"{v['fired']} of {v['replies']} replies; {v['note']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import sys

    from studio.core.config import StudioConfig
    from studio.core.quiet import quiet

    quiet()
    p = argparse.ArgumentParser(prog="python -m studio.tasks.grpo preview",
                                description="Sample the base model's replies to a few training prompts and score "
                                            "each with each reward of the config; say which rewards can teach.")
    p.add_argument("config")
    p.add_argument("--prompts", type=int, default=4, help="prompts to try (default 4)")
    p.add_argument("--replies", type=int, default=4, help="replies per prompt (default 4)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--json", action="store_true", help="print the rows and verdicts as JSON")
    args = p.parse_args(argv)
    try:
        config = StudioConfig.load(args.config).with_overrides(args.set)
        if config.task != "grpo":
            raise StudioError(f"{args.config}: task is {config.task}; the reward preview is for task: grpo")
        result = preview(config, args.prompts, args.replies)
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1, ensure_ascii=False) if args.json else format_preview(result))
    return 0
