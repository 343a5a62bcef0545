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

__all__ = ["CHECKPOINT_DIR", "CheckpointError", "read_manifest"]

#: Where shipped checkpoints live (inside the installed ``models`` package).
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or was trained for another configuration."""


def read_manifest(directory: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """The JSON manifest of checkpoint ``name``; :class:`CheckpointError` if absent or bad."""
    path = Path(directory) / f"{name}.json"
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint manifest {path} not found: train it first (see README, "
            "section Checkpoints: `semsim train ...`) or pass the right --checkpoint-dir"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint manifest {path} is not valid JSON: {exc}") from exc
