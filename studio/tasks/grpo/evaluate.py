"""Base against tuned on held-out prompts: each reward's mean over the greedy replies of both models.

Held-out prompts: ``--data FILE``, else the run's eval file, else the share training held out (the same split as
training's, ``studio.tasks.grpo.data``). ``base``/``tuned`` hold ``reward`` (the weighted total) and
``reward_<name>`` for each reward; ``examples`` the replies side by side with their scores.
"""

from __future__ import annotations

from studio.core.errors import StudioError
from studio.tasks.grpo import data as grpo_data
from studio.tasks.grpo import rewards as R


def _means(rewards, scores, totals) -> dict:
    out = {"reward": round(sum(totals) / len(totals), 4) if totals else None}
    for r in rewards:
        xs = scores[r.name]
        out[f"reward_{r.name}"] = round(sum(xs) / len(xs), 4) if xs else None
    return out


def evaluate_grpo(folder, config, data_path, limit, max_new_tokens, report, chat=None) -> dict:
    from studio.core.generate import ChatModels
    from studio.tasks.grpo.preview import sample_replies
    from studio.tasks.grpo.setup import settings

    items, source, total = grpo_data.held_out(config, data_path, limit)
    rewards = R.parse(config.rewards, getattr(config, "_base", None), grpo_data.columns_of(items))
    s = settings(config)
    tokens = min(max_new_tokens, s["max_new_tokens"])
    report(0.02, "loading the base and tuned models")
    if chat is None:
        chat = ChatModels(config.model.source, folder.path, config.model.trust_remote_code)
    texts = [grpo_data.prompt_text(e["prompt"]) for e in items]
    rows = [e["columns"] for e in items]
    replies, scores, totals = {}, {}, {}
    for k, (side, tuned) in enumerate((("base", False), ("tuned", True))):
        replies[side] = []
        for i, e in enumerate(items):
            report(0.05 + 0.45 * k + 0.45 * i / len(items), f"{side} reply {i + 1}/{len(items)}")
            replies[side] += sample_replies(chat, e["prompt"], 1, tokens, 0.0, tuned=tuned)
        scores[side] = R.score_all(rewards, texts, replies[side], rows)
        totals[side] = R.total(rewards, scores[side])
    if not items:
        raise StudioError("no held-out prompts to evaluate on")
    examples = []
    for i, text in enumerate(texts):
        row = {"prompt": text}
        for side in ("base", "tuned"):
            row[side] = replies[side][i]
            row[f"{side}_reward"] = totals[side][i]
            row[f"{side}_scores"] = {r.name: round(scores[side][r.name][i], 4) for r in rewards}
        examples.append(row)
    return {"run_dir": str(folder.path), "data": source, "held_out_examples": total, "n_examples": len(items),
            "rewards": [{"name": r.name, "kind": r.kind, "weight": r.weight} for r in rewards],
            "base": _means(rewards, scores["base"], totals["base"]),
            "tuned": _means(rewards, scores["tuned"], totals["tuned"]), "examples": examples}
