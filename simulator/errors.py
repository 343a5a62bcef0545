"""ScenarioError: the one error bad scenario input raises, naming the YAML path and value."""

from __future__ import annotations

from typing import Any

__all__ = ["ScenarioError", "check"]

_MISSING = object()


class ScenarioError(ValueError):
    """Invalid scenario input.

    ``path`` is the YAML path (``eves[2].mobility.speed_mps``), ``value`` the offending
    value, ``hint`` an optional suggestion (the closest known key for a typo), ``source``
    the file the scenario came from.
    """

    def __init__(
        self,
        path: str,
        message: str,
        value: Any = _MISSING,
        hint: str | None = None,
        source: str | None = None,
    ) -> None:
        self.path = path
        self.message = message
        self.value = value
        self.hint = hint
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.source}: " if self.source else ""
        text = f"{where}{self.path or '<root>'}: {self.message}"
        if self.value is not _MISSING:
            text += f" (got {self.value!r})"
        if self.hint:
            text += f"; did you mean {self.hint!r}?"
        return text

    def under(self, prefix: str) -> ScenarioError:
        """The same error with ``prefix`` prepended to its path."""
        if not prefix:
            return self
        if not self.path:
            path = prefix
        elif self.path.startswith("["):
            path = prefix + self.path
        else:
            path = f"{prefix}.{self.path}"
        return ScenarioError(path, self.message, self.value, self.hint, self.source)

    def __reduce__(self):
        """Pickle by constructor arguments, so the error crosses process boundaries (sweep
        workers) intact."""
        has_value = self.value is not _MISSING
        return (_restore, (self.path, self.message, has_value,
                           self.value if has_value else None, self.hint, self.source))

    def in_file(self, source: str) -> ScenarioError:
        """The same error attributed to file ``source``."""
        return ScenarioError(self.path, self.message, self.value, self.hint, source)


def _restore(path: str, message: str, has_value: bool, value: Any, hint: str | None,
             source: str | None) -> ScenarioError:
    return ScenarioError(path, message, value if has_value else _MISSING, hint, source)


def check(ok: bool, field: str, value: Any, message: str) -> None:
    """Raise ScenarioError(field, message, value) unless ``ok``; for ``__post_init__``."""
    if not ok:
        raise ScenarioError(field, message, value)
