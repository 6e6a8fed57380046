"""What is shown of a feedback evaluation: the verdict and the table of held-out answers and replies."""

from __future__ import annotations

from studio.tasks.chat.views import _short  # the same cell formatting as chat
from studio.tasks.preference.views import _flags  # the same marks on replies that repeat or lost the answer

COLUMNS = ["Prompt", "Answer", "Label", "Base reply", "Tuned reply", "Base log-prob/token", "Tuned log-prob/token"]


def eval_headline(result: dict) -> str | None:
    base, tuned = (result.get("base") or {}).get("feedback_gap"), (result.get("tuned") or {}).get("feedback_gap")
    if base is None or tuned is None:
        return None
    verdict = ("✓ The tuned model tells thumbs-up answers from thumbs-down ones better" if tuned > base else
               "⚠ The tuned model does not tell thumbs-up answers from thumbs-down ones better")
    return f"{verdict}: log-prob gap per token {base:+.3f} → {tuned:+.3f}."


def eval_notes(result: dict) -> list[str]:
    """The warnings about the tuned replies (repetition, lost answers) first, marked ⚠; then what the gap is."""
    return [f"⚠ {w}" for w in result.get("reply_warnings") or []] + ["Gap: the mean log-probability per token of the thumbs-up answers minus that of the thumbs-down ones."]


def example_table(result: dict) -> tuple[list[str], list[list]]:
    rows = result.get("examples") or []
    return COLUMNS, [[r.get("prompt", ""), r.get("answer", ""), r.get("label", ""), r.get("base", ""),
                      r.get("tuned", ""), r.get("base_logp"), r.get("tuned_logp")] for r in rows]


def example_lines(result: dict, show: int = 5) -> list[str]:
    lines = []
    for i, r in enumerate((result.get("examples") or [])[:show], 1):
        lines += [f"[{i}] prompt: {_short(r.get('prompt', ''))}", f"    answer ({r.get('label')}): {_short(r.get('answer', ''))}",
                  f"    base:   {_short(r.get('base', ''))}", f"    tuned:  {_short(r.get('tuned', ''))}" + _flags(r)]
    return lines
