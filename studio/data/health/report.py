"""The report's types (a ``Report`` of ``Finding``s) and the wording shared by the checks' messages."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LISTED = 50  # records listed per finding in to_dict(); count is always the full number
SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    check: str
    severity: str  # 'error' | 'warning' | 'info'
    count: int
    records: list[int]  # lines (line-based files) or 1-based record numbers, all of them
    message: str
    fix: str | None = None  # the name of the fix in studio.data.fixes that resolves it, if there is one
    details: dict | None = None  # what a fix needs to know (e.g. the placeholders found), for the page and the CLI

    def to_dict(self) -> dict:
        out = {"check": self.check, "severity": self.severity, "count": self.count,
               "records": list(self.records[:MAX_LISTED]), "message": self.message, "fix": self.fix}
        if self.details:
            out["details"] = self.details
        return out


@dataclass
class Report:
    format: str
    rows: int  # usable records
    findings: list[Finding] = field(default_factory=list)
    labels: dict[str, int] | None = None
    source: str = ""
    lengths: list[int] | None = None  # tokens per example (record order; a sample for large sets)
    length_sampled: bool = False
    malformed: int = 0  # rows that could not be read: malformed + rows = the records in the file

    @property
    def records(self) -> int:
        """Every record in the file, usable or not."""
        return self.rows + self.malformed

    def counts_line(self) -> str:
        """'147 records: 140 usable, 7 could not be read' (the same sum on the page, in the CLI and the card)."""
        n = self.records
        if not self.malformed:
            return f"{n} record{'' if n == 1 else 's'}, all usable"
        return f"{n} record{'' if n == 1 else 's'}: {self.rows} usable, {self.malformed} could not be read"

    def to_dict(self) -> dict:
        return {"format": self.format, "rows": self.rows, "records": self.records, "usable": self.rows,
                "malformed": self.malformed, "findings": [f.to_dict() for f in self.findings], "labels": self.labels}

    def get(self, check: str) -> Finding | None:
        return next((f for f in self.findings if f.check == check), None)

    @property
    def worst(self) -> str | None:
        """The most severe finding's severity, or None for a clean report."""
        for sev in SEVERITIES:
            if any(f.severity == sev for f in self.findings):
                return sev
        return None


def where(what: str, lines: list[int], n: int = 3) -> str:
    """Where some records are, for a message: 'lines 3, 8, 12, ...' (``what``: 'lines' or 'records')."""
    shown = ", ".join(str(x) for x in lines[:n])
    return f"{what[:-1] if len(lines) == 1 else what} {shown}{', ...' if len(lines) > n else ''}"


def _s(x) -> str:
    n = x if isinstance(x, int) else len(x)
    return "" if n == 1 else "s"


def _are(x) -> str:
    return "is" if len(x) == 1 else "are"


def _are_in(x) -> str:
    return "is in" if len(x) == 1 else "are in"


def _have(x) -> str:
    return "has" if len(x) == 1 else "have"


def _repeat(x) -> str:
    return "repeats" if len(x) == 1 else "repeat"
