"""Checkpoint manifests without torch: where shipped checkpoints live, reading a manifest,
and the error every checkpoint problem raises (``models.checkpoint`` re-exports them).

Light on purpose: validating a scenario reads a checkpoint's config (e.g. DiffSem's T)
without importing torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from semsim.models.common.names import name_problem

__all__ = ["CHECKPOINT_DIR", "CheckpointError", "check_checkpoint_name", "read_manifest"]

#: Where shipped checkpoints live (inside the installed ``models`` package).
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or was trained for another configuration."""


def check_checkpoint_name(name: object) -> str:
    """``name`` if it is a safe checkpoint file stem, else :class:`CheckpointError` (a name
    such as ``../x`` or ``/abs`` would read or write outside the checkpoint folder)."""
    problem = name_problem(name)
    if problem is not None:
        raise CheckpointError(f"checkpoint name {str(name)[:120]!r}: {problem}")
    return name  # type: ignore[return-value]


def read_manifest(directory: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """The JSON manifest of checkpoint ``name``; :class:`CheckpointError` if absent or bad."""
    check_checkpoint_name(name)
    path = Path(directory) / f"{name}.json"
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint manifest {path} not found: train it first (see README, "
            "section Checkpoints: `semsim train ...`) or pass the right --checkpoint-dir"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise CheckpointError(f"checkpoint manifest {path} is a JSON {type(manifest).__name__}"
                              ", not an object: the file is damaged; retrain or restore it")
    sha = manifest.get("sha256")
    if not (isinstance(sha, str) and len(sha) == 64
            and all(c in "0123456789abcdef" for c in sha)):
        raise CheckpointError(f"checkpoint manifest {path}: 'sha256' is missing or not a "
                              f"64-digit hex digest ({str(sha)[:80]!r}): the file is damaged")
    if not isinstance(manifest.get("config"), dict):
        raise CheckpointError(f"checkpoint manifest {path}: 'config' is missing or not an "
                              "object: the file is damaged; retrain or restore it")
    return manifest
