"""Names that become file or folder names (scenario names, run and sweep ids, checkpoint
names): one rule, so a user-given name never escapes its folder."""

from __future__ import annotations

import re

__all__ = ["MAX_NAME_CHARS", "name_problem"]

MAX_NAME_CHARS = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def name_problem(value: object) -> str | None:
    """Why ``value`` is not a safe name (letters, digits, ``_ - .``, starting with a letter
    or digit, at most :data:`MAX_NAME_CHARS` characters), or None when it is one."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        return ("use letters, digits, '_', '-', '.' only, starting with a letter or digit "
                "(it names a file or folder)")
    if len(value) > MAX_NAME_CHARS:
        return f"at most {MAX_NAME_CHARS} characters (got {len(value)})"
    return None
