"""Name -> module registries for pluggable parts (codecs, image sources).

A plugin module defines ``Options`` (a frozen dataclass parsed from the scenario, with the
same named errors as the rest of the scenario) and ``build(options, **context)``. Modules
are imported lazily, so naming a plugin that needs torch costs nothing until it is used.
"""

from __future__ import annotations

import difflib
import importlib
from types import ModuleType

from semsim.simulator.errors import ScenarioError

__all__ = ["Registry"]


class Registry:
    """Maps plugin names to importable module paths."""

    def __init__(self, what: str, entries: dict[str, str]) -> None:
        self.what = what
        self._entries = dict(entries)

    def register(self, name: str, module: str) -> None:
        """Add (or replace) plugin ``name`` implemented by ``module``."""
        self._entries[name] = module

    def names(self) -> list[str]:
        """Registered plugin names, sorted."""
        return sorted(self._entries)

    def module(self, name: str, path: str = "name") -> ModuleType:
        """Import the module of ``name``; unknown names raise ScenarioError at ``path``."""
        if name not in self._entries:
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            raise ScenarioError(path, f"unknown {self.what}; known: {', '.join(self.names())}",
                                name, close[0] if close else None)
        return importlib.import_module(self._entries[name])
