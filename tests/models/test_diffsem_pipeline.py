"""Tiny end-to-end DiffSem training on real MNIST (skips without data), resume, loading,
manifest checks and, when shipped, the shipped checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models.checkpoint import CHECKPOINT_DIR, CheckpointError
from models.data import dataset_sha256, load_dataset
from models.diffsem.config import make_config
from models.diffsem.loader import load_diffsem
from models.diffsem.training import STAGES, train_diffsem


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, data_dir):
    work = tmp_path_factory.mktemp("work")
    ck = tmp_path_factory.mktemp("ck")
    cfg = make_config("mnist", "tiny", threads=1)
    logs: list[str] = []
    # stop after two stages, then resume the rest: finished stages are reused
    assert train_diffsem(cfg, work, ck, ("pair", "unet"), data_dir, logs.append) is None
    assert (work / "stage_unet.pt").is_file() and not (work / "stage_finetune.pt").exists()
    man = train_diffsem(cfg, work, ck, None, data_dir, logs.append)
    return cfg, work, ck, man, logs


def test_tiny_pipeline_ships_manifest(tiny_run, data_dir):
    cfg, work, ck, man, logs = tiny_run
    assert man is not None and Path(man).is_file()
    m = json.loads(Path(man).read_text())
    assert m["config"]["dataset"] == "mnist" and m["config"]["n_feat"] == 16
    assert m["data_sha256"] == dataset_sha256("mnist", data_dir)
    assert set(m["modules"]) >= {"encoder", "unet", "clf0", "clf_e", "adv_conv", "judge_cnn"}
    assert "tstar_0" in m["metrics"]
    assert not any("=== stage pair" in line for line in logs[logs.index(
        next(x for x in logs if "stage unet" in x)) + 1:])
    for st in STAGES[:-1]:
        assert (work / f"stage_{st}.pt").is_file()


def test_epoch_resume_continues(tiny_run, data_dir):
    cfg, work, ck, _, _ = tiny_run
    from models.checkpoint import load_training_state

    st = load_training_state(work / "pair_resume.pt")
    assert st["epoch"] == cfg.pair_epochs and "opt" in st and "gen" in st


def test_load_and_run_receivers(tiny_run, data_dir):
    _, _, ck, _, _ = tiny_run
    b = load_diffsem("mnist", ck)
    assert b.baselines is not None and "ibald_l1" in b.baselines
    x = load_dataset("mnist", "test", data_dir).images[:8]
    t = torch.full((8,), 120)
    snr = torch.full((8,), 15.0)
    sym, hdr = b.system.encode(x, t, snr)
    for m in ("classifier", "diffsem", "ediffsem"):
        assert b.system.receive(sym, t, snr, method=m, tprime=hdr["tprime"]).shape == (8, 10)


def test_loader_errors(tiny_run, tmp_path):
    _, _, ck, _, _ = tiny_run
    with pytest.raises(CheckpointError, match="not found"):
        load_diffsem("fashion", ck)
    # a modified weight file is refused
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in Path(ck).iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    w = bad / "diffsem-mnist.safetensors"
    w.write_bytes(w.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(CheckpointError, match="sha256"):
        load_diffsem("mnist", bad)


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_shipped_checkpoint(dataset, data_dir):
    if not (CHECKPOINT_DIR / f"diffsem-{dataset}.json").is_file():
        pytest.skip(f"no shipped diffsem-{dataset} checkpoint")
    b = load_diffsem(dataset)
    assert b.manifest["data_sha256"] == dataset_sha256(dataset, data_dir)
    test = load_dataset(dataset, "test", data_dir)
    x, lab = test.images[:300], test.labels[:300]
    t = torch.zeros(300, dtype=torch.long)
    snr = torch.full((300,), 20.0)
    sym, hdr = b.system.encode(x, t, snr, torch.Generator().manual_seed(0))
    acc = float((b.system.receive(sym, t, snr, method="classifier").argmax(1) == lab)
                .float().mean())
    assert acc > (0.9 if dataset == "mnist" else 0.75)
