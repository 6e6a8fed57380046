"""What is shown of a grpo run: of its evaluation the verdict, each reward's mean and the replies side by side; while
it trains, the latest sampled replies and their rewards (the Train tab's panel and the Runs tab's section)."""

from __future__ import annotations

from studio.tasks.base import RunSection
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


SAMPLE_COLUMNS = ("prompt", "reply", "rewards", "total")


def samples_rows(events: list[dict]) -> tuple[str, list[list]]:
    """The latest ``samples`` event of a run as a heading and table rows (prompt, reply, each reward, total)."""
    found = [e for e in events if e.get("type") == "samples" and e.get("samples")]
    if not found:
        return "No sampled replies yet: they come with each logged step of a grpo run.", []
    last = found[-1]
    rows = [[x.get("prompt", ""), x.get("reply", ""),
             ", ".join(f"{k} {v:g}" for k, v in (x.get("rewards") or {}).items()), x.get("total")] for x in last["samples"]]
    return f"Replies sampled at step {last.get('step')}:", rows


def run_section(events: list[dict]) -> RunSection:
    """The Runs tab's section of a grpo run: the latest sampled replies and their rewards."""
    note, rows = samples_rows(events)
    return RunSection("Sampled replies while training", note, SAMPLE_COLUMNS, tuple(rows))
