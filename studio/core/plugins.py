"""A table of plug-ins of one kind (tasks, launchers, data formats), keyed by a name each plug-in carries.

The modules (or packages) of one package that expose an attribute (``TASK``, ``LAUNCHER``, ``FORMAT``) are found the first time
anything is looked up; a plug-in defined elsewhere (a test, an extension) joins with ``register``. The table is code,
not user state: filled once, then only read (``register`` and ``unregister`` are for start-up and tests).
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import Callable, Iterable


class Plugins:
    def __init__(self, package: str, path: Iterable[str], attr: str, key: str, what: str, *,
                 first: tuple[str, ...] = (), packages: bool = False, skip: tuple[str, ...] = (),
                 accept: Callable[[object], bool] = lambda found: found is not None):
        """``package``/``path``: where to look (a package's ``__name__`` and ``__path__``); ``attr``: the attribute a
        plug-in module exposes; ``key``: the plug-in's attribute that names it; ``what``: the kind, for messages;
        ``first``: names listed first (the built-in ones), the rest follow in name order; ``packages``: look at
        sub-packages (else plain modules); ``skip``: module names that are not plug-ins; ``accept``: whether what a
        module exposes is one."""
        self.package, self.path, self.attr, self.key, self.what = package, list(path), attr, key, what
        self.first, self.packages, self.skip, self.accept = first, packages, skip, accept
        self._table: dict[str, object] = {}
        self._found = False
        self._busy = False  # finding now: a look-up from a module being imported sees the table so far
        self._lock = threading.RLock()

    def name_of(self, plugin) -> str:
        name = getattr(plugin, self.key, "")
        return name if isinstance(name, str) else ""

    def register(self, plugin):
        """Add (or replace) a plug-in; returns it."""
        name = self.name_of(plugin)
        if not name.isidentifier():
            raise ValueError(f"a {self.what} needs a {self.key} that is a Python identifier, not {name!r}")
        self._discover()
        with self._lock:
            self._table[name] = plugin
        return plugin

    def unregister(self, name: str) -> None:
        with self._lock:
            self._table.pop(name, None)

    def find(self, name: str):
        """The plug-in named ``name``, None when it is not installed."""
        self._discover()
        return self._table.get((name or "").strip())

    def names(self) -> list[str]:
        self._discover()
        return list(self._table)

    def all(self) -> list:
        self._discover()
        return list(self._table.values())

    def _discover(self) -> None:
        if self._found:
            return
        with self._lock:
            if self._found or self._busy:
                return
            self._busy = True
            try:
                self._find()
            finally:
                self._busy = False

    def _find(self) -> None:
        found = {}
        for mod in pkgutil.iter_modules(self.path):
            if mod.ispkg != self.packages or mod.name in self.skip:
                continue
            plugin = getattr(importlib.import_module(f"{self.package}.{mod.name}"), self.attr, None)
            if self.accept(plugin) and self.name_of(plugin):
                found[self.name_of(plugin)] = plugin
        order = [n for n in self.first if n in found] + sorted(n for n in found if n not in self.first)
        for name in order:
            self._table.setdefault(name, found[name])
        self._found = True
