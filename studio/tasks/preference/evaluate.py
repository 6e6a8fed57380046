"""Base vs tuned on held-out preference pairs: how often each model prefers the chosen answer, and replies.

For every held-out pair both models score the chosen and the rejected answer given the prompt: the sum of the
answer's token log-probabilities, as DPO itself compares them. ``preference_accuracy`` is the share of pairs
where the chosen answer scores higher; ``logp_margin`` the mean difference (chosen - rejected, in nats). Each
model also answers the prompt greedily, so the replies can be read side by side with the chosen answer, and
``reply_warnings`` says where the tuned replies repeat themselves or lost an answer the base reply had
(``reply_checks``; each row carries ``tuned_repetition`` and ``lost_terms``).
"""

from __future__ import annotations

from studio.core.config import StudioConfig
from studio.core.chat_template import ensure_chat_template
from studio.core.splits import held_out_records, seen_in_training
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.tasks.preference.reply_checks import reply_warnings
from studio.tasks.preference.setup import pair_of


def refuse_format(fmt: str) -> str | None:
    """Why held-out data of format ``fmt`` cannot score a preference run (None: it can)."""
    if fmt != "preference":
        return (f"holds {fmt} examples, but this is a preference run; give held-out pairs (a prompt with a chosen "
                "and a rejected answer)")
    return None


def answer_ids(tokenizer, prompt: list[dict], answer: str, max_length: int) -> tuple[list[int], int]:
    """Token ids of prompt + answer rendered with the chat template, and where the answer starts."""
    ensure_chat_template(tokenizer)
    head = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": answer}], tokenize=False)
    head_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    start = 0
    while start < min(len(head_ids), len(ids)) and head_ids[start] == ids[start]:
        start += 1
    ids = ids[:max_length]
    return ids, min(start, len(ids))


def answer_logps(chat, encoded: list[tuple[list[int], int]], tuned: bool) -> list[float]:
    """The summed log-probability of each answer (the tokens from its start) under the base or tuned model."""
    import torch

    model, ctx = chat._model_and_ctx(tuned)
    out = []
    with chat.lock, ctx, torch.no_grad():
        for ids, start in encoded:
            if start < 1 or start >= len(ids):
                out.append(0.0)
                continue
            x = torch.tensor([ids], device=chat.device)
            logp = torch.log_softmax(model(input_ids=x).logits[0, :-1].float(), dim=-1)
            target = x[0, 1:]
            picked = logp.gather(1, target[:, None])[:, 0]
            out.append(float(picked[start - 1:].sum()))
    return out


def evaluate_preference(folder: RunFolder, config: StudioConfig, data_path, limit, max_new_tokens, report,
                        chat=None) -> dict:
    from studio.core.generate import ChatModels, Sampling

    records, source, total = held_out_records(config, data_path, limit, refuse=refuse_format)
    pairs = [(r, p) for r, p in ((r, pair_of(r)) for r in records) if p is not None]
    if not pairs:
        raise StudioError(f"none of the {len(records)} held-out records is a usable preference pair (a prompt, and "
                          "chosen and rejected answers that are not empty and differ)")
    seen = seen_in_training(config, [r for r, _ in pairs])
    report(0.02, "loading the base and tuned models")
    if chat is None:
        chat = ChatModels(config.model.source, folder.path, config.model.trust_remote_code)
    tok, n = chat.tokenizer, config.data.max_length
    chosen = [answer_ids(tok, p["prompt"], p["chosen"][0]["content"], n) for _, p in pairs]
    rejected = [answer_ids(tok, p["prompt"], p["rejected"][0]["content"], n) for _, p in pairs]
    scores, margins = {}, {}
    for k, (side, tuned) in enumerate((("base", False), ("tuned", True))):
        report(0.05 + 0.25 * k, f"scoring chosen and rejected answers ({side})")
        c, r = answer_logps(chat, chosen, tuned), answer_logps(chat, rejected, tuned)
        margins[side] = [a - b for a, b in zip(c, r)]
        scores[side] = {"preference_accuracy": round(sum(m > 0 for m in margins[side]) / len(pairs), 4),
                        "logp_margin": round(sum(margins[side]) / len(pairs), 4)}
    rows = []
    for i, (_, p) in enumerate(pairs):
        ref = p["chosen"][0]["content"]
        budget = min(max_new_tokens, 2 * len(tok(ref, add_special_tokens=False)["input_ids"]) + 16)
        sampling = Sampling(max_new_tokens=budget, temperature=0.0)
        row = {"prompt": _prompt_text(p["prompt"]), "chosen": ref, "rejected": p["rejected"][0]["content"]}
        for side, tuned in (("base", False), ("tuned", True)):
            report(0.55 + 0.44 * (2 * i + tuned) / (2 * len(pairs)), f"generating {side} reply {i + 1}/{len(pairs)}")
            row[side] = chat.reply(p["prompt"], tuned=tuned, sampling=sampling).strip()
            row[f"{side}_prefers_chosen"] = margins[side][i] > 0
            row[f"{side}_margin"] = round(margins[side][i], 3)
        rows.append(row)
    warnings, flags = reply_warnings(rows)
    for row, flag in zip(rows, flags):
        row.update(flag)
    return {
        "run_dir": str(folder.path),
        "data": source,
        "held_out_examples": total,
        "n_examples": len(pairs),
        "seen_in_training": seen,
        "pairs_left_out": len(records) - len(pairs),
        "base": scores["base"],
        "tuned": scores["tuned"],
        "examples": rows,
        "reply_warnings": warnings,
    }


def _prompt_text(messages: list[dict]) -> str:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return users[-1] if users else messages[-1]["content"]
