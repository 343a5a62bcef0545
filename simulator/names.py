"""Names that become folder names (scenario names, run and sweep ids, training names): one
rule, so a user-given name never escapes its folder."""

from __future__ import annotations

import re

from semsim.simulator.errors import ScenarioError

__all__ = ["MAX_NAME_CHARS", "check_name"]

MAX_NAME_CHARS = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(value: object, path: str) -> str:
    """``value`` if it is a safe folder name (letters, digits, ``_ - .``, not starting with
    ``.`` or ``-``, at most :data:`MAX_NAME_CHARS` characters), else a ScenarioError naming
    ``path`` (e.g. ``--run-id``)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ScenarioError(path, "use letters, digits, '_', '-', '.' only, starting with a "
                            "letter or digit (it names a folder)", value)
    if len(value) > MAX_NAME_CHARS:
        raise ScenarioError(path, f"at most {MAX_NAME_CHARS} characters (got {len(value)})",
                            value)
    return value
