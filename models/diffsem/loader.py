"""Load shipped DiffSem checkpoints (manifest-checked) into a ready system."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from semsim.models.checkpoint import CHECKPOINT_DIR, CheckpointError, load_checkpoint, read_manifest

from .baselines import build_ibal_models
from .checkpoints import (
    STAGE_MODULES,
    checkpoint_names,
    clean_judges_name,
    direct_attacker_name,
    load_stage,
)
from .config import DiffSemConfig
from .networks import build_judges
from .system import MODULE_NAMES, DiffSemSystem, build_direct_attacker

__all__ = ["LoadedDiffSem", "load_diffsem", "load_work_dir"]


@dataclass
class LoadedDiffSem:
    """Everything a simulator or evaluation needs for one dataset.

    ``system.encode`` (Alice), ``system.receive`` / ``receive_ediffsem`` (Bob),
    ``system.invert`` (Eve), ``system.strong_classify`` (judge); ``baselines`` holds the
    IBAL / IBAL-D pairs and their fresh adversaries; ``clean_judges`` the judges after
    their clean phase only (``judge_mlp``, ``judge_cnn``), for the independent-judge
    leakage column; ``direct`` Eve's direct attacker, a classifier of (y, t*) trained on
    her own split (each None when not shipped).
    """

    system: DiffSemSystem
    config: DiffSemConfig
    manifest: dict[str, Any]
    baselines: nn.ModuleDict | None = None
    baselines_manifest: dict[str, Any] | None = field(default=None)
    clean_judges: nn.ModuleDict | None = None
    direct: nn.Module | None = None


def load_diffsem(dataset: str, checkpoint_dir: str | os.PathLike[str] | None = None,
                 device: str | torch.device = "cpu", with_baselines: bool = True,
                 ) -> LoadedDiffSem:
    """Load ``diffsem-<dataset>`` (and its baselines) from ``checkpoint_dir``.

    Raises :class:`models.checkpoint.CheckpointError` naming the problem when weights are
    missing, modified, or were trained for another dataset/config.
    """
    directory = Path(checkpoint_dir) if checkpoint_dir else CHECKPOINT_DIR
    main_name, base_name = checkpoint_names(dataset)
    manifest = read_manifest(directory, main_name)
    if manifest.get("config", {}).get("dataset") != dataset:
        raise CheckpointError(f"{main_name} was trained for dataset "
                              f"{manifest.get('config', {}).get('dataset')!r}, not {dataset!r}")
    cfg = DiffSemConfig.from_dict(manifest["config"])
    system = DiffSemSystem(cfg)
    load_checkpoint(directory, main_name, {k: getattr(system, k) for k in MODULE_NAMES},
                    expect_config={"dataset": dataset, "n_feat": cfg.n_feat})
    system.to(device).eval()
    baselines = bman = None
    if with_baselines and (directory / f"{base_name}.json").is_file():
        mods = nn.ModuleDict(build_ibal_models(cfg))
        bman = load_checkpoint(directory, base_name, dict(mods.items()),
                               expect_config={"dataset": dataset})
        baselines = mods.to(device).eval()
    clean = None
    if with_baselines and (directory / f"{clean_judges_name(dataset)}.json").is_file():
        clean = nn.ModuleDict(build_judges(dataset))
        load_checkpoint(directory, clean_judges_name(dataset), dict(clean.items()),
                        expect_config={"dataset": dataset})
        clean = clean.to(device).eval()
    direct = None
    if (directory / f"{direct_attacker_name(dataset)}.json").is_file():
        direct = build_direct_attacker(cfg)
        load_checkpoint(directory, direct_attacker_name(dataset), {"direct": direct},
                        expect_config={"dataset": dataset, "direct_kind": cfg.direct_kind})
        direct = direct.to(device).eval()
    return LoadedDiffSem(system, cfg, manifest, baselines, bman, clean, direct)


def load_work_dir(work_dir: str | os.PathLike[str], dataset: str,
                  device: str | torch.device = "cpu") -> LoadedDiffSem:
    """The DiffSem system of an (unshipped) training work dir: its ``config.json`` and the
    modules of every finished stage (``stage_<name>.pt``, weights-only load), for evaluating
    a training variant before shipping it. No baselines, clean judges or direct attacker.

    Raises :class:`models.checkpoint.CheckpointError` when the folder has no config, was
    trained for another dataset, or lacks the stages Bob's receivers need.
    """
    import json

    work = Path(work_dir)
    if not (work / "config.json").is_file():
        raise CheckpointError(f"--work-dir {work}: no config.json (not a training work dir)")
    cfg = DiffSemConfig.from_dict(json.loads((work / "config.json").read_text()))
    if cfg.dataset != dataset:
        raise CheckpointError(f"--work-dir {work} was trained for dataset {cfg.dataset!r}, "
                              f"not {dataset!r}")
    system = DiffSemSystem(cfg)
    modules = {k: getattr(system, k) for k in MODULE_NAMES}
    found = [st for st in STAGE_MODULES if load_stage(work, st, modules) is not None]
    missing = [s for s in ("pair", "unet", "finetune") if s not in found]
    if missing:
        raise CheckpointError(f"--work-dir {work}: stages {missing} not finished "
                              f"(no stage_<name>.pt)")
    manifest = {"work_dir": str(work), "stages": found, "config": cfg.to_dict()}
    return LoadedDiffSem(system.to(device).eval(), cfg, manifest)
