"""Run-folder metadata: package versions, git state, atomic file writes.

The logic lives once in :mod:`models.provenance` (checkpoint manifests use it too); this
module names it for the engine and adds the command line.
"""

from __future__ import annotations

import sys

from models.provenance import atomic_write_bytes, atomic_write_text, package_versions
from models.provenance import git_state as git_commit

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "command_line",
    "git_commit",
    "package_versions",
]


def command_line() -> list[str]:
    """The command line of this process (recorded in run.json)."""
    return list(sys.argv)
