"""DiffSem checkpoint names and the stage snapshots of a training work dir: the one home
that both training (writes) and the loader (reads) use.

Light at import (no torch), so scenario validation can read a checkpoint's config. A
finished stage leaves ``<work_dir>/stage_<name>.pt`` (its modules' state dicts and its
info); loading restores only the modules that stage trains (:data:`STAGE_MODULES`), so
rerunning an earlier stage is not undone by later stages' snapshots.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semsim.models.manifests import CHECKPOINT_DIR, CheckpointError, read_manifest

if TYPE_CHECKING:
    from torch import nn

__all__ = ["STAGE_MODULES", "checkpoint_names", "clean_judges_name", "direct_attacker_name",
           "load_stage", "save_stage", "shipped_config"]

#: the modules each stage trains (stages not listed restore every module they saved)
STAGE_MODULES = {
    "pair": ("encoder", "clf0", "clf_diff", "clf_e"),
    "unet": ("unet",),
    "finetune": ("clf_diff", "clf_e"),
    "adversary": ("adv_mlp", "adv_conv"),
    "judge": ("judge_mlp", "judge_cnn"),
}


def checkpoint_names(dataset: str) -> tuple[str, str]:
    """(main system, IBAL baselines) checkpoint names of ``dataset``."""
    return f"diffsem-{dataset}", f"diffsem-{dataset}-baselines"


def direct_attacker_name(dataset: str) -> str:
    """Checkpoint of Eve's direct attacker (a classifier of y)."""
    return f"diffsem-{dataset}-eve-direct"


def clean_judges_name(dataset: str) -> str:
    """Checkpoint of the judges after their clean phase only ("independent" judges)."""
    return f"diffsem-{dataset}-judges-clean"


def shipped_config(dataset: str, checkpoint_dir: str | os.PathLike[str] | None = None
                   ) -> dict[str, Any] | None:
    """The training config in the manifest of ``diffsem-<dataset>`` (None when absent)."""
    try:
        man = read_manifest(checkpoint_dir or CHECKPOINT_DIR, checkpoint_names(dataset)[0])
    except CheckpointError:
        return None
    return man.get("config")


def save_stage(work_dir: Path, stage: str, modules: dict[str, nn.Module], info: dict) -> None:
    """Snapshot a finished stage: ``<work_dir>/stage_<stage>.pt``."""
    from semsim.models.checkpoint import save_training_state

    save_training_state(Path(work_dir) / f"stage_{stage}.pt", {
        "modules": {k: m.state_dict() for k, m in modules.items()}, "info": info})


def load_stage(work_dir: Path, stage: str, modules: dict[str, nn.Module]) -> dict | None:
    """Restore a finished stage's own modules into ``modules``; its info, or None when the
    stage has not finished."""
    from semsim.models.checkpoint import load_training_state

    st = load_training_state(Path(work_dir) / f"stage_{stage}.pt")
    if st is None:
        return None
    own = STAGE_MODULES.get(stage)
    for k, m in modules.items():
        if k in st["modules"] and (own is None or k in own):
            m.load_state_dict(st["modules"][k])
    return st["info"]
