"""The format registry: every kind of data file the studio reads, by name.

Each module of ``studio/data/formats/`` that exposes ``FORMAT`` (a ``DataFormat``, see ``base``) is found the first
time a format is looked up; a format defined elsewhere (a test, an extension) joins with ``register(MyFormat())``.

    get(name) -> DataFormat          a StudioError naming the known formats when there is none
    find(name) -> DataFormat | None
    names() -> list[str]             built-in formats first
    all_formats() -> list[DataFormat]
    by_rank() / by_claim_rank()      the order detection tries them in

``FORMATS``, ``CHOICES`` (``auto`` and the formats), ``FIELDS`` and ``ABOUT`` are live views of the table (a format registered later shows in them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.plugins import Plugins
from studio.data.formats.base import DataFormat
from studio.data.formats.fields import ALIASES

BUILTIN_ORDER = ("chat", "sharegpt", "alpaca", "prompt_completion", "text", "classification", "preference", "feedback")
# the package's modules that are not formats (the machinery that asks the formats: never imported to look for one)
NOT_FORMATS = ("base", "by_values", "detection", "fields", "normalise", "registry", "values")
_plugins = Plugins("studio.data.formats", [str(Path(__file__).parent)], "FORMAT", "name", "data format",
                   first=BUILTIN_ORDER, skip=NOT_FORMATS, accept=lambda found: isinstance(found, DataFormat))


def register(fmt: DataFormat) -> DataFormat:
    """Add (or replace) a format; returns it."""
    return _plugins.register(fmt)


def unregister(name: str) -> None:
    _plugins.unregister(name)


def find(name: str) -> DataFormat | None:
    return _plugins.find(name) if isinstance(name, str) else None


def get(name: str) -> DataFormat:
    fmt = find(name)
    if fmt is None:
        raise StudioError(f"unknown format '{name}'; use auto or one of: {', '.join(names())}")
    return fmt


def names() -> list[str]:
    return _plugins.names()


def all_formats() -> list[DataFormat]:
    return _plugins.all()


def by_rank() -> list[DataFormat]:
    return sorted(all_formats(), key=lambda f: f.rank)


def by_claim_rank() -> list[DataFormat]:
    return sorted((f for f in all_formats() if f.claims), key=lambda f: f.claim_rank)


def column_vocabulary() -> set[str]:
    """Every column name some format recognises (lower case): a first row made of them is a header."""
    known = {a for names_ in ALIASES.values() for a in names_}
    for fmt in all_formats():
        for field in fmt.fields():
            known |= set(fmt.column_names(field))
    return known


class _Names(Sequence):
    """The registered formats' names (after ``first``), as a tuple that follows the table."""

    def __init__(self, first: tuple[str, ...] = ()):
        self.first = first

    def _all(self) -> tuple[str, ...]:
        return (*self.first, *names())

    def __getitem__(self, i):
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, name) -> bool:
        return name in self.first or find(name) is not None

    def __repr__(self) -> str:
        return repr(self._all())


class _Table(Mapping):
    def __init__(self, value, keep=lambda fmt: True):
        self._value, self._keep = value, keep

    def _formats(self) -> dict:
        return {f.name: f for f in all_formats() if self._keep(f)}

    def __getitem__(self, name):
        fmt = self._formats().get(name) if isinstance(name, str) else None
        if fmt is None:
            raise KeyError(name)
        return self._value(fmt)

    def __iter__(self):
        return iter(self._formats())

    def __len__(self) -> int:
        return len(self._formats())

    def __repr__(self) -> str:
        return repr(dict(self))


FORMATS = _Names()
CHOICES = _Names(("auto",))  # what ``data.format`` may be
FIELDS = _Table(lambda f: (tuple(f.required), tuple(f.optional)))  # name -> (required fields, optional fields)
ABOUT = _Table(lambda f: f.about, keep=lambda f: bool(f.about))  # formats no task trains on, in words
