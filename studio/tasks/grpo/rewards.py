"""Rewards built without code: what a good reply earns in a ``grpo`` run, from the config's ``rewards:`` list.

Each entry has a ``kind``, a ``weight`` (default 1) and the kind's own fields; an optional ``name`` labels it in the
charts (default: the kind). Every reward scores one reply between 0 and 1 (``python`` may return any number):

    format         the reply has a shape: ``pattern`` (a regular expression, found anywhere; ``full: true`` for the
                   whole reply) or ``template`` (``<think>...</think><answer>...</answer>``: the tags in this order,
                   ``...`` standing for any text)
    exact_match    the reply's answer equals ``column`` of the example (case and surrounding spaces ignored;
                   ``ignore_case: false`` to count case)
    numeric_match  the last number in the reply's answer is ``column``'s number, within ``tolerance`` (default 1e-6;
                   ``relative: true`` for a share of the reference)
    math_match     the reply's answer is mathematically equal to ``column`` (the ``math-verify`` package:
                   ``pip install math-verify``; "1/2", "0.5" and "\\frac{1}{2}" agree)
    contains       the reply holds ``words`` (a list of words or phrases; ``all: true``: the share of them present)
    avoids         the reply holds none of ``words`` (1), else 0
    length         the reply's length in words is within ``min_words``..``max_words``; outside, the score falls
                   linearly to 0 at twice the limit (below min: at 0 words)
    json           the reply (or a ```json block in it) is valid JSON: 1; with ``schema`` (a JSON schema, inline or a
                   file path) it must also match it, else 0.5
    reward_model   a classifier's probability of ``label``: ``path`` is a classification run of this studio or a
                   sequence-classification model folder (a model with one output gives its sigmoid; ``label`` is
                   not needed then)
    python         ``function`` (default ``reward``) in the Python file ``file``, called as TRL calls reward
                   functions: ``fn(completions=[reply texts], prompts=[prompt texts], **columns) -> list[float]``,
                   each data column a list. Runs code from a file: a shared studio refuses it unless its operator's
                   policy says ``reward_code: true``.

A reply's *answer* (for the match kinds) is the text inside ``<answer>...</answer>`` when the reply has those tags,
else the whole reply.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from studio.core.errors import StudioError

NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)

# kind -> (its fields: name -> (required, help), what it rewards in a few words)
KINDS: dict[str, tuple[dict[str, tuple[bool, str]], str]] = {
    "format": ({"pattern": (False, "a regular expression"), "template": (False, "tags with ... between, e.g. <answer>...</answer>"),
                "full": (False, "true: the whole reply must match the pattern")}, "the reply has a shape"),
    "exact_match": ({"column": (True, "the data column with the reference answer"),
                     "ignore_case": (False, "default true")}, "the answer equals the reference"),
    "numeric_match": ({"column": (True, "the data column with the reference number"),
                       "tolerance": (False, "default 1e-6"), "relative": (False, "true: tolerance is a share")},
                      "the last number in the answer is the reference number"),
    "math_match": ({"column": (True, "the data column with the reference answer")},
                   "the answer is mathematically equal to the reference"),
    "mentions": ({"column": (True, "the data column with the reference answer")},
                 "the reply names the reference (whole words, case ignored), wherever it says it"),
    "contains": ({"words": (True, "words or phrases"), "all": (False, "true: the share of them present")},
                 "the reply holds the words"),
    "avoids": ({"words": (True, "words or phrases")}, "the reply holds none of the words"),
    "length": ({"min_words": (False, "fewest words"), "max_words": (False, "most words")}, "the reply's length"),
    "json": ({"schema": (False, "a JSON schema (inline or a file)")}, "the reply is valid JSON"),
    "reward_model": ({"path": (True, "a classification run folder or a sequence-classification model folder"),
                      "label": (False, "the label whose probability is the reward")}, "a classifier likes the reply"),
    "python": ({"file": (True, "a .py file"), "function": (False, "default reward")}, "a Python function's score"),
}
CODE_KINDS = ("python",)  # kinds that run code from a file: refused on a shared studio unless the policy allows it


@dataclass
class Reward:
    """One reward of a run: ``score(prompts, replies, rows) -> list[float]`` (``rows``: the examples' data columns)."""

    name: str
    kind: str
    weight: float
    fields: dict
    score: Callable[[list[str], list[str], list[dict]], list[float]] = field(repr=False)


def uses_code(entries) -> bool:
    """Whether a config's ``rewards`` run code from a file (the ``python`` kind)."""
    return any(isinstance(e, dict) and e.get("kind") in CODE_KINDS for e in entries or [])


def parse(entries, base: Path | None = None, columns: set[str] | None = None, load_models: bool = True) -> list[Reward]:
    """The rewards of a config's ``rewards:`` list, checked; StudioError naming the entry and what to do.
    ``columns``: the data's columns, to check ``column`` fields against; ``base``: where relative paths are read."""
    if not entries:
        raise StudioError("rewards: a grpo run needs at least one reward, e.g. rewards: [{kind: length, max_words: 30}]; "
                          f"the kinds: {', '.join(KINDS)}")
    if not isinstance(entries, list):
        raise StudioError("rewards: expected a list of entries like {kind: length, max_words: 30}")
    out, names = [], set()
    for i, entry in enumerate(entries):
        where = f"rewards[{i}]"
        if not isinstance(entry, dict) or "kind" not in entry:
            raise StudioError(f"{where}: expected an entry with a kind, like {{kind: length, max_words: 30}}; got {entry!r}")
        kind = str(entry["kind"])
        if kind not in KINDS:
            raise StudioError(f"{where}: unknown kind '{kind}'; the kinds: {', '.join(KINDS)}")
        where = f"rewards[{i}] ({kind})"
        known = KINDS[kind][0]
        own = {k: v for k, v in entry.items() if k not in ("kind", "weight", "name")}
        unknown = sorted(set(own) - set(known))
        if unknown:
            raise StudioError(f"{where}: unknown field(s) {', '.join(unknown)}; {kind} takes: {', '.join(known)}")
        missing = [k for k, (req, _) in known.items() if req and own.get(k) in (None, "", [])]
        if missing:
            raise StudioError(f"{where}: needs {', '.join(missing)} ({'; '.join(known[k][1] for k in missing)})")
        try:
            weight = float(entry.get("weight", 1.0))
        except (TypeError, ValueError):
            raise StudioError(f"{where}: weight must be a number, got {entry.get('weight')!r}") from None
        if not math.isfinite(weight):
            raise StudioError(f"{where}: weight must be a finite number")
        if columns is not None and "column" in own and str(own["column"]) not in columns:
            raise StudioError(f"{where}: the data has no column '{own['column']}'; its columns: {', '.join(sorted(columns)) or 'none'}")
        name = re.sub(r"\W+", "_", str(entry.get("name") or kind)).strip("_") or kind
        base_name, n = name, 2
        while name in names:
            name, n = f"{base_name}_{n}", n + 1
        names.add(name)
        score = _BUILDERS[kind](own, where, base, load_models)
        out.append(Reward(name, kind, weight, own, score))
    return out


def total(rewards: list[Reward], scores: dict[str, list[float]]) -> list[float]:
    """The weighted sum per reply of each reward's scores (``scores``: name -> one score per reply)."""
    n = len(next(iter(scores.values()))) if scores else 0
    return [round(sum(r.weight * scores[r.name][i] for r in rewards), 4) for i in range(n)]


def score_all(rewards: list[Reward], prompts: list[str], replies: list[str], rows: list[dict]) -> dict[str, list[float]]:
    return {r.name: [float(x) for x in r.score(prompts, replies, rows)] for r in rewards}


# ---- helpers ---------------------------------------------------------------------------------------------------
def answer_text(reply: str) -> str:
    found = ANSWER_TAG.findall(reply or "")
    return (found[-1] if found else reply or "").strip()


def last_number(text: str) -> float | None:
    found = NUMBER.findall(text or "")
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def _words(value, where: str) -> list[str]:
    words = [value] if isinstance(value, str) else list(value or [])
    words = [str(w).strip() for w in words if str(w).strip()]
    if not words:
        raise StudioError(f"{where}: words is empty; give a list of words or phrases, e.g. words: [please, thanks]")
    return words


def _has(text: str, phrase: str) -> bool:
    """A word or phrase in ``text``: case ignored, whole words (``cat`` is not in ``concatenate``)."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.I) is not None


def _per_reply(fn):
    def score(prompts, replies, rows):
        return [fn(reply or "", row or {}) for reply, row in zip(replies, rows)]
    return score


def template_pattern(template: str) -> str:
    """A tag template (``<think>...</think><answer>...</answer>``) as a regular expression for the whole reply."""
    def piece(text: str) -> str:  # spaces and line breaks may sit between adjacent tags: "</think>\n<answer>"
        return r"\s*".join(re.escape(t) for t in re.split(r"(?<=>)\s*(?=<)", text.strip()))

    return r"\s*" + r"[\s\S]*?".join(piece(p) for p in template.split("...")) + r"\s*"


# ---- the kinds -------------------------------------------------------------------------------------------------
def _format(f, where, base, load_models):
    if bool(f.get("pattern")) == bool(f.get("template")):
        raise StudioError(f"{where}: give either pattern (a regular expression) or template "
                          "(e.g. <think>...</think><answer>...</answer>), one of them")
    full = bool(f.get("full")) or bool(f.get("template"))
    text = str(f.get("pattern") or template_pattern(str(f["template"])))
    try:
        rx = re.compile(text, re.S)
    except re.error as err:
        raise StudioError(f"{where}: pattern {text!r} is not a valid regular expression: {err}") from None
    return _per_reply(lambda reply, row: 1.0 if (rx.fullmatch(reply) if full else rx.search(reply)) else 0.0)


def _reference(row: dict, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _exact(f, where, base, load_models):
    col, fold = str(f["column"]), f.get("ignore_case", True) not in (False, "false", "no")

    def norm(s: str) -> str:
        s = " ".join(s.split()).strip().rstrip(".")
        return s.lower() if fold else s

    return _per_reply(lambda reply, row: 1.0 if norm(answer_text(reply)) == norm(_reference(row, col)) else 0.0)


def _numeric(f, where, base, load_models):
    col = str(f["column"])
    try:
        tol = float(f.get("tolerance", 1e-6))
    except (TypeError, ValueError):
        raise StudioError(f"{where}: tolerance must be a number, got {f.get('tolerance')!r}") from None
    relative = bool(f.get("relative"))

    def one(reply, row):
        want, got = last_number(_reference(row, col)), last_number(answer_text(reply))
        if want is None or got is None:
            return 0.0
        limit = tol * abs(want) if relative else tol
        return 1.0 if abs(got - want) <= limit else 0.0

    return _per_reply(one)


def _math(f, where, base, load_models):
    try:
        from math_verify import parse as mparse, verify
    except ImportError:
        raise StudioError(f"{where}: math_match needs the math-verify package, which is not installed here: "
                          "pip install math-verify (or use numeric_match)") from None
    col = str(f["column"])

    def one(reply, row):
        ref, ans = _reference(row, col), answer_text(reply)
        try:
            gold = mparse(ref if "$" in ref or "\\" in ref else f"${ref}$")
            pred = mparse(ans)
            return 1.0 if gold and pred and verify(gold, pred) else 0.0
        except Exception:  # noqa: BLE001 - an unparseable answer earns nothing
            return 0.0

    return _per_reply(one)


def _mentions(f, where, base, load_models):
    col = str(f["column"])

    def one(reply, row):
        ref = _reference(row, col)
        return 1.0 if ref and _has(answer_text(reply), ref) else 0.0

    return _per_reply(one)


def _contains(f, where, base, load_models):
    words, share = _words(f.get("words"), where), bool(f.get("all"))

    def one(reply, row):
        found = sum(_has(reply, w) for w in words)
        return found / len(words) if share else (1.0 if found else 0.0)

    return _per_reply(one)


def _avoids(f, where, base, load_models):
    words = _words(f.get("words"), where)
    return _per_reply(lambda reply, row: 0.0 if any(_has(reply, w) for w in words) else 1.0)


def _length(f, where, base, load_models):
    try:
        lo = int(f["min_words"]) if f.get("min_words") not in (None, "") else None
        hi = int(f["max_words"]) if f.get("max_words") not in (None, "") else None
    except (TypeError, ValueError):
        raise StudioError(f"{where}: min_words and max_words must be whole numbers") from None
    if lo is None and hi is None:
        raise StudioError(f"{where}: give max_words, min_words or both, e.g. max_words: 30")
    if (lo is not None and lo < 0) or (hi is not None and hi < 1) or (lo is not None and hi is not None and lo > hi):
        raise StudioError(f"{where}: needs 0 <= min_words <= max_words and max_words >= 1")

    def one(reply, row):
        n = len(reply.split())
        if hi is not None and n > hi:
            return max(0.0, 1.0 - (n - hi) / hi)
        if lo is not None and n < lo:
            return n / lo if lo else 1.0
        return 1.0

    return _per_reply(one)


FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def _json(f, where, base, load_models):
    schema = f.get("schema")
    validator = None
    if schema not in (None, ""):
        if isinstance(schema, str):
            p = Path(schema).expanduser()
            if not p.is_absolute() and base is not None and (base / p).is_file():
                p = base / p
            try:
                schema = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else json.loads(schema)
            except (OSError, ValueError) as err:
                raise StudioError(f"{where}: schema is neither a JSON schema file nor JSON text: {err}") from None
        try:
            import jsonschema

            jsonschema.Draft202012Validator.check_schema(schema)
            validator = jsonschema.Draft202012Validator(schema)
        except ImportError:
            raise StudioError(f"{where}: a schema needs the jsonschema package: pip install jsonschema") from None
        except jsonschema.SchemaError as err:
            raise StudioError(f"{where}: the schema is not a valid JSON schema: {err.message}") from None

    def one(reply, row):
        text = reply.strip()
        fenced = FENCE.search(text)
        if fenced:
            text = fenced.group(1).strip()
        try:
            value = json.loads(text)
        except ValueError:
            return 0.0
        if validator is None:
            return 1.0
        return 1.0 if validator.is_valid(value) else 0.5

    return _per_reply(one)


def _reward_model(f, where, base, load_models):
    from studio.tasks.grpo.reward_model import classifier_reward

    return classifier_reward(str(f["path"]), f.get("label"), where, base, load_models)


def _python(f, where, base, load_models):
    import importlib.util

    p = Path(str(f["file"])).expanduser()
    if not p.is_absolute() and base is not None and (base / p).is_file():
        p = base / p
    if not p.is_file():
        raise StudioError(f"{where}: file not found: {f['file']}")
    name = str(f.get("function") or "reward")
    spec = importlib.util.spec_from_file_location(f"studio_reward_{p.stem}", p)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - the person's file: say what broke
        raise StudioError(f"{where}: {p.name} failed to load: {type(err).__name__}: {err}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise StudioError(f"{where}: {p.name} has no function '{name}'; define def {name}(completions, **kwargs)")

    def score(prompts, replies, rows):
        columns = {k: [row.get(k) for row in rows] for k in {k for row in rows for k in row}}
        columns.pop("completions", None), columns.pop("prompts", None)
        try:
            out = list(fn(completions=list(replies), prompts=list(prompts), **columns))
        except Exception as err:  # noqa: BLE001
            raise StudioError(f"{where}: {p.name}:{name} failed: {type(err).__name__}: {err}") from None
        if len(out) != len(replies):
            raise StudioError(f"{where}: {p.name}:{name} returned {len(out)} scores for {len(replies)} replies; "
                              "return one number per completion")
        return [float(x) if x is not None else 0.0 for x in out]

    return score


_BUILDERS = {"format": _format, "exact_match": _exact, "numeric_match": _numeric, "math_match": _math,
             "mentions": _mentions, "contains": _contains, "avoids": _avoids, "length": _length, "json": _json,
             "reward_model": _reward_model, "python": _python}
