"""The data-format contract: what one kind of data file holds and everything the studio does with it.

A format is a ``DataFormat`` (subclass it, set the attributes, override the methods) exposed as ``FORMAT`` by a
module of ``studio.data.formats``, or added with ``studio.data.formats.register(MyFormat())``. Intake, the health
report, the fixes and the preview ask the format; none of them tests a format's name.

    name              the format's name (a Python identifier): ``format=`` in configs, the CLI and the Data tab
    required          the fields it needs (each read from one column of the file)
    optional          fields it may have
    aliases           column names recognised for a field, best first, where they differ from ``fields.ALIASES``
    claims            fields that, named by the person (``columns={...}``), say the file is this format
    claim_rank        which claim wins when the named fields match several formats (lower first)
    rank              the order formats are tried in when detecting from column names (lower first)
    matches(rows, names) -> bool   whether the file's column names (and values) say it is this format
    refine(rows, keys, names, columns) -> (name, columns) | None   a second look once detected from the names
                      (plain text next to an unnamed label column is classification)
    normaliser(cols) -> norm(row, skipped) -> dict          one raw row to the normalised record (raise RowError)
    preview_headers() / preview_row(rec, cut)               the preview table's columns and one record's cells
    about             what it is, in words, for a format no task trains on ("" when one does)

What the health checks and fixes need from it:

    conversational    the normalised records hold turns (``messages``): answers are required, HTML in code blocks
                      is content, lengths are measured on the chat template's rendering; else the record is
                      ``text`` (with an optional ``label``) and Markdown residue counts as markup
    labels            records carry a ``label``: the label checks (imbalance, variants, conflicts) run
    pairs             records carry ``chosen``/``rejected`` answers: the preference-pair checks run
    verdicts          records carry a true/false ``verdict``: the report says how many of each
    measured_text(rec, tokenizer) -> str                    the text whose tokens the length check counts
    saved_as, saved_columns   the format (and its field -> key) the normalised records load back as (fixes
                      save normalised records)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from studio.data.formats.fields import ALIASES


class DataFormat:
    name: str = ""
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    aliases: Mapping[str, tuple[str, ...]] = {}
    claims: tuple[str, ...] = ()
    claim_rank: int = 100
    rank: int = 100
    about: str = ""
    conversational: bool = True
    labels: bool = False
    pairs: bool = False
    verdicts: bool = False
    saved_as: str = ""
    saved_columns: Mapping[str, str] = {}

    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional

    def column_names(self, field: str) -> tuple[str, ...]:
        """Column names recognised for ``field`` (lower case), best first."""
        return tuple(self.aliases.get(field) or ALIASES.get(field, (field,)))

    def matches(self, rows: list[dict], names: dict[str, str]) -> bool:
        """Whether the column names (``names``: lower-cased name -> name in the file) say the file is this format."""
        return False

    def refine(self, rows: list[dict], keys: dict, names: dict[str, str], columns: dict) -> tuple[str, dict] | None:
        """Once detected as this format: another format and its columns when the values say so, else None."""
        return None

    def normaliser(self, cols: dict[str, str]) -> Callable[[dict, dict], dict]:
        """``norm(row, skipped)``: one raw row to its normalised record; ``skipped`` counts media left out."""
        raise NotImplementedError

    # ---- the preview table --------------------------------------------------------------------------------------
    def preview_headers(self) -> list[str]:
        return ["system", "user", "assistant", "turns"]

    def preview_row(self, rec: dict, cut: Callable[[str], str]) -> list:
        first: dict = {}
        msgs = rec["messages"]
        for m in msgs:
            calls = ", ".join(f"{c['function']['name']}(...)" for c in m.get("tool_calls") or ())
            first.setdefault(m["role"], f"{m['content']} [calls {calls}]".strip() if calls else m["content"])
        return [cut(first.get("system", "")), cut(first.get("user", "")), cut(first.get("assistant", "")), len(msgs)]

    # ---- what the health checks measure -------------------------------------------------------------------------
    def measured_text(self, rec: dict, tokenizer) -> str:
        from studio.core.chat_template import render_text

        return render_text(tokenizer, rec)

    def saved(self) -> tuple[str, dict[str, str]]:
        """The format and columns the normalised records of this format load back as: ``saved_as`` and
        ``saved_columns`` when set; else conversations load back as chat and other records field by field."""
        if self.saved_as or self.saved_columns:
            return self.saved_as or self.name, dict(self.saved_columns)
        if self.conversational:
            return "chat", {"messages": "messages"}
        return self.name, {f: f for f in self.fields()}


# ---- helpers the formats share --------------------------------------------------------------------------------------

def find_column(names_for_field, names: dict[str, str], taken: set) -> str | None:
    """The first of the recognised column names present in the file and not taken; ``names_for_field`` is a field
    (its ``fields.ALIASES``) or a tuple of column names."""
    aliases = ALIASES.get(names_for_field, (names_for_field,)) if isinstance(names_for_field, str) else names_for_field
    for alias in aliases:
        col = names.get(alias)
        if col is not None and col not in taken:
            return col
    return None


def message_style(rows: list[dict], col: str) -> str | None:
    """'role' for role/content turns, 'from' for from/value (ShareGPT) turns, None if the column holds no turns."""
    for row in rows:
        value = row.get(col)
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, list):
            for m in value:
                if isinstance(m, dict):
                    if "from" in m or "value" in m:
                        return "from"
                    if "role" in m or "content" in m:
                        return "role"
    return None


def turns_style(rows: list[dict], names: dict[str, str]) -> str | None:
    """The style of the first column named like a conversation that holds turns ('role' or 'from')."""
    for alias in ALIASES["messages"]:
        col = names.get(alias)
        if col is not None:
            style = message_style(rows, col)
            if style:
                return style
    return None

