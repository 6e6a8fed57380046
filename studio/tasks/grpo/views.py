"""What is shown of a grpo evaluation: the verdict, each reward's mean, and the replies side by side."""

from __future__ import annotations

from studio.tasks.chat.views import _short  # the same cell formatting as chat

COLUMNS = ["Prompt", "Base reply", "Tuned reply", "Base reward", "Tuned reward"]


def eval_headline(result: dict) -> str | None:
    base, tuned = (result.get("base") or {}).get("reward"), (result.get("tuned") or {}).get("reward")
    if base is None or tuned is None:
        return None
    verdict = ("✓ The tuned model earns more reward" if tuned > base else
               "⚠ The tuned model does not earn more reward")
    return f"{verdict} on held-out prompts: {base:.3f} → {tuned:.3f} (weighted total per reply)."


def eval_notes(result: dict) -> list[str]:
    base, tuned = result.get("base") or {}, result.get("tuned") or {}
    parts = [f"{r['name']} {base.get('reward_' + r['name'])} → {tuned.get('reward_' + r['name'])}"
             for r in result.get("rewards") or []]
    return ["Each reward's mean over greedy replies, base → tuned: " + "; ".join(parts)] if parts else []


def example_table(result: dict) -> tuple[list[str], list[list]]:
    rows = result.get("examples") or []
    return COLUMNS, [[r.get("prompt", ""), r.get("base", ""), r.get("tuned", ""), r.get("base_reward"),
                      r.get("tuned_reward")] for r in rows]


def example_lines(result: dict, show: int = 5) -> list[str]:
    lines = []
    for i, r in enumerate((result.get("examples") or [])[:show], 1):
        lines += [f"[{i}] prompt: {_short(r.get('prompt', ''))}",
                  f"    base  ({r.get('base_reward')}): {_short(r.get('base', ''))}",
                  f"    tuned ({r.get('tuned_reward')}): {_short(r.get('tuned', ''))}"]
    return lines


def card_examples(result: dict) -> list[str]:
    return [f"- **{r.get('prompt', '')[:80]}** → {r.get('tuned', '')[:160]} (reward {r.get('tuned_reward')})"
            for r in (result.get("examples") or [])[:3]]
