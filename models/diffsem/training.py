"""DiffSem training driver: runs the stages in order (each resumable from its last
epoch, finished ones reused), ships the checkpoints and their manifests.

Stages (in order): ``pair``, ``unet``, ``finetune``, ``adversary`` (:mod:`.stages`),
``ibal``, ``judge`` (:mod:`.stages_baselines`), ``direct`` and ``ship`` (checkpoints +
manifest). Each finished stage leaves ``<work_dir>/stage_<name>.pt``; an interrupted stage
resumes from ``<name>_resume.pt``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from semsim.models.checkpoint import load_training_state, save_checkpoint
from semsim.models.loop import batched

from .baselines import build_ibal_models
from .checkpoints import (
    checkpoint_names,
    clean_judges_name,
    direct_attacker_name,
    load_stage,
    save_stage,
)
from .config import DiffSemConfig
from .networks import build_judges
from .splits import DataSplits, load_splits
from .stages import (
    stage_adversary,
    stage_direct,
    stage_finetune,
    stage_pair,
    stage_unet,
)
from .stages_baselines import stage_ibal, stage_judge
from .system import MODULE_NAMES, DiffSemSystem, build_direct_attacker

__all__ = ["STAGES", "quick_metrics", "ship_clean_judges", "ship_direct_attacker",
           "train_diffsem"]

STAGES = ("pair", "unet", "finetune", "adversary", "ibal", "judge", "direct", "ship")


@torch.no_grad()
def quick_metrics(sys_: DiffSemSystem, d: DataSplits, cfg, n: int = 1000) -> dict:
    """Small test-set summary for the manifest (the full report is ``semsim eval``)."""
    g = torch.Generator().manual_seed(cfg.seed + 99)
    n = min(n, len(d.test))
    x, lab = d.test.images[:n], d.test.labels[:n]
    x0 = sys_.features(x)
    out = {"n_test": n, "snr_db": 15.0}
    for ts in (0, 100, 200, 300):
        t = torch.full((n,), ts, dtype=torch.long)
        s = torch.full((n,), 15.0)
        y = sys_.link(x0, t, s, generator=g)
        row = {}
        for m in ("classifier", "diffsem", "ediffsem"):
            logits = sys_.receive(y, t, s, method=m, rescaled=True)
            row[m] = round((logits.argmax(1) == lab).float().mean().item(), 4)
        rec = sys_.invert(y, t, s, kind="conv", rescaled=True)
        row["attacker_conv_judge_cnn"] = round(
            (sys_.strong_classify(rec).argmax(1) == lab).float().mean().item(), 4)
        out[f"tstar_{ts}"] = row
    out["judge_cnn_clean"] = round((sys_.strong_classify(x).argmax(1) == lab).float().mean()
                                   .item(), 4)
    # both judges on the whole clean test set (their strength, reported with the leakage)
    for k in ("cnn", "mlp"):
        out[f"judge_{k}_clean_test_full"] = test_accuracy(
            lambda xb, k=k: sys_.strong_classify(xb, k), d.test.images, d.test.labels)
    return out


def test_accuracy(classify: Callable[[Tensor], Tensor], images: Tensor, labels: Tensor,
                   batch: int = 1000) -> float:
    """Accuracy (4 decimals) of ``classify`` (images -> logits) over a whole image set."""
    logits = batched(lambda i: classify(images[i]), len(images), batch)
    return round((logits.argmax(1) == labels).float().mean().item(), 4)


def ship_direct_attacker(cfg: DiffSemConfig, work_dir: str | Path, checkpoint_dir: str | Path,
                         d: DataSplits) -> Path | None:
    """Ship the finished ``direct`` stage as ``diffsem-<ds>-eve-direct`` (None when the
    stage has not run)."""
    st = load_training_state(Path(work_dir) / "stage_direct.pt")
    if st is None:
        return None
    direct = build_direct_attacker(cfg)
    direct.load_state_dict(st["modules"]["direct"])
    return save_checkpoint(checkpoint_dir, direct_attacker_name(cfg.dataset),
                           {"direct": direct}, config=cfg.to_dict(),
                           metrics={"val_acc": st["info"].get("val_acc")}, seed=cfg.seed,
                           data_sha256=d.sha256, extra={"stage": st["info"]})


def ship_clean_judges(cfg: DiffSemConfig, work_dir: str | Path, checkpoint_dir: str | Path,
                      d: DataSplits) -> Path | None:
    """Ship the best clean-phase judges of the judge stage (``judge_clean_resume.pt``) as
    ``diffsem-<ds>-judges-clean``: strong classifiers that never saw a reconstruction, for
    the independent-judge leakage column of ``semsim eval diffsem --parts judges``.
    Returns None when the judge stage had no clean phase."""
    st = load_training_state(Path(work_dir) / "judge_clean_resume.pt")
    if st is None or not st.get("best_state"):
        return None
    judges = build_judges(cfg.dataset)
    metrics = {}
    for k, m in judges.items():
        m.load_state_dict(st["best_state"][k])
        m.eval()
        metrics[f"{k}_clean_test_full"] = test_accuracy(
            m, d.test.images.cpu(), d.test.labels.cpu())
    return save_checkpoint(checkpoint_dir, clean_judges_name(cfg.dataset), judges,
                           config=cfg.to_dict(), metrics=metrics, seed=cfg.seed,
                           data_sha256=d.sha256,
                           extra={"clean_epochs": st["epoch"],
                                  "epoch_s": [h["seconds"] for h in json.loads(st["history"])]})


def train_diffsem(cfg: DiffSemConfig, work_dir: str | Path, checkpoint_dir: str | Path,
                  stages: tuple[str, ...] | None = None, data_dir=None,
                  log: Callable[[str], None] = print, device: str = "cpu") -> Path | None:
    """Run the stages (default all) in order, skipping finished ones; returns the manifest
    path when ``ship`` ran. Random draws use seeded CPU generators on every device."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    stages = tuple(stages or STAGES)
    for st in stages:
        if st not in STAGES:
            raise ValueError(f"unknown stage {st!r}; choose from {STAGES}")
    d = load_splits(cfg, data_dir).to(device)
    log(f"data {cfg.dataset}: pair {len(d.pair)} val {len(d.val)} adversary {len(d.adv)} "
        f"test {len(d.test)}")
    # every module starts in eval mode: _fit switches only the modules it trains to train
    # mode, so a stage resumed in a new process runs the finished ones (the U-Net's
    # BatchNorm above all) as they were trained, not with batch statistics
    sys_ = DiffSemSystem(cfg).to(device).eval()
    mods = {k: m.to(device).eval() for k, m in build_ibal_models(cfg).items()}
    direct = build_direct_attacker(cfg).to(device).eval()
    infos: dict = {}
    t_all = time.time()
    for st in STAGES:
        modules = ({"ibal": nn.ModuleDict(mods)} if st == "ibal"
                   else {"direct": direct} if st == "direct"
                   else {k: getattr(sys_, k) for k in MODULE_NAMES})
        info = load_stage(work_dir, st, modules) if st != "ship" else None
        if info is not None:
            infos[st] = info
            continue
        if st not in stages:
            continue
        t0 = time.time()
        log(f"=== stage {st} ===")
        if st == "pair":
            info = stage_pair(sys_, d, cfg, work_dir, log)
        elif st == "unet":
            info = stage_unet(sys_, d, cfg, work_dir, log)
        elif st == "finetune":
            info = stage_finetune(sys_, d, cfg, work_dir, log)
        elif st == "adversary":
            info = stage_adversary(sys_, d, cfg, work_dir, log)
        elif st == "ibal":
            info = stage_ibal(mods, d, cfg, work_dir, log)
        elif st == "judge":
            info = stage_judge(sys_, mods, d, cfg, work_dir, log)
        elif st == "direct":
            info = stage_direct(sys_, direct, d, cfg, work_dir, log)
        elif st == "ship":
            sys_.eval()
            metrics = quick_metrics(sys_, d, cfg)
            log(f"quick metrics: {json.dumps(metrics)}")
            main_name, base_name = checkpoint_names(cfg.dataset)
            extra = {"stages": {k: v for k, v in infos.items()},
                     "pipeline_wall_s_this_run": round(time.time() - t_all, 1),
                     "threads": torch.get_num_threads()}
            save_checkpoint(checkpoint_dir, base_name, mods, config=cfg.to_dict(),
                            metrics={}, seed=cfg.seed, data_sha256=d.sha256, extra=extra)
            ship_clean_judges(cfg, work_dir, checkpoint_dir, d)
            ship_direct_attacker(cfg, work_dir, checkpoint_dir, d)
            return save_checkpoint(checkpoint_dir, main_name,
                                   {k: getattr(sys_, k) for k in MODULE_NAMES},
                                   config=cfg.to_dict(), metrics=metrics, seed=cfg.seed,
                                   data_sha256=d.sha256, extra=extra)
        info = dict(info or {})
        info["stage_wall_s"] = round(time.time() - t0, 1)
        infos[st] = info
        save_stage(work_dir, st, modules, info)
    return None
