"""Tiny end-to-end DiffSem training on real MNIST (skips without data), resume, loading,
manifest checks and, when shipped, the shipped checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from semsim.models.checkpoint import CHECKPOINT_DIR, CheckpointError
from semsim.models.data import dataset_sha256, load_dataset
from semsim.models.diffsem.config import make_config
from semsim.models.diffsem.loader import load_diffsem
from semsim.models.diffsem.training import STAGES, train_diffsem


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
    from semsim.models.checkpoint import load_training_state

    st = load_training_state(work / "pair_resume.pt")
    assert st["epoch"] == cfg.pair_epochs and "optimizer" in st and "generator" in st


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


def test_manifest_records_judge_strength(tiny_run):
    _, work, _, man, logs = tiny_run
    m = json.loads(Path(man).read_text())
    for k in ("cnn", "mlp"):
        v = m["metrics"][f"judge_{k}_clean_test_full"]
        assert 0.0 <= v <= 1.0
    info = m["extra"]["stages"]["judge"]
    assert {"clean_val_acc_cnn", "clean_val_acc_mlp"} <= set(info)
    assert any("[judge] clean val accuracy" in line for line in logs)


def test_eval_cli_parts_on_tiny_checkpoint(tiny_run, tmp_path, data_dir):
    """`semsim eval diffsem` end to end (tables, levers, headroom probes) on the tiny run."""
    import argparse

    import pandas as pd

    from semsim.simulator.commands.diffsem import add_eval_commands

    _, _, ck, _, _ = tiny_run
    parser = argparse.ArgumentParser()
    add_eval_commands(parser.add_subparsers())
    out = tmp_path / "eval"
    args = parser.parse_args([
        "diffsem", "--dataset", "mnist", "--checkpoint-dir", str(ck), "--out", str(out),
        "--n-test", "16", "--tstars", "0,100", "--parts", "tstar,levers,headroom,judges",
        "--levers-w", "0", "--headroom-epochs", "1", "--threads", "1", "--device", "cpu"]
        + (["--data-dir", str(data_dir)] if data_dir else []))
    assert args.func(args) == 0
    hr = pd.read_csv(out / "headroom.csv")
    assert set(hr.receiver) == {"classifier_only", "probe_small", "probe_mlp", "probe_conv"}
    assert set(hr.tstar) == {0, 100} and hr.accuracy.between(0, 1).all()
    assert (out / "acc_vs_tstar.csv").is_file() and (out / "levers.csv").is_file()
    s = json.loads((out / "summary.json").read_text())
    assert "ediffsem_minus_classifier_max" in s and "bob_best_minus_worst_attacker_pts" in s
    # tables.md is rendered from these CSVs; its gap column agrees with summary.json
    md = (out / "tables.md").read_text()
    for title in ("Accuracy vs t*", "Receivers trained on y alone", "E-DiffSem levers",
                  "Leakage under adapted vs independent judges"):
        assert title in md
    for t, gap in s["bob_best_minus_worst_attacker_pts"].items():
        row = next(r for r in md.splitlines() if r.startswith(f"| {t} | "))
        assert row.split(" | ")[9].startswith(f"{gap:+.1f}")
    # --parts report re-renders without a checkpoint (the folder's CSVs are enough)
    (out / "tables.md").unlink()
    args = parser.parse_args(["diffsem", "--parts", "report", "--out", str(out)])
    assert args.func(args) == 0 and (out / "tables.md").read_text() == md


def test_clean_judges_shipped_and_scored(tiny_run, data_dir):
    """The ship stage ships the clean-phase judges; --parts judges scores both sets."""
    from semsim.models.diffsem.checkpoints import clean_judges_name
    from semsim.models.diffsem.evaluation import eval_judges

    _, work, ck, _, _ = tiny_run
    m = json.loads((Path(ck) / f"{clean_judges_name('mnist')}.json").read_text())
    assert set(m["modules"]) == {"judge_mlp", "judge_cnn"}
    assert 0.0 <= m["metrics"]["judge_cnn_clean_test_full"] <= 1.0
    b = load_diffsem("mnist", ck)
    assert b.clean_judges is not None
    # they are the clean-phase weights, not the shipped (mixed-phase) judges
    assert any(not torch.equal(p, q) for p, q in zip(
        b.clean_judges["judge_cnn"].parameters(), b.system.judge_cnn.parameters(), strict=True))
    test = load_dataset("mnist", "test", data_dir)
    rows = eval_judges(b, test.images[:16], test.labels[:16], 15.0, [0, 200],
                       log=lambda *_: None)
    sets = {(r["judge_set"], r["attacker"]) for r in rows}
    assert ("independent", "attacker_conv") in sets and ("adapted", "clean_images") in sets
    # 4 clean-image rows; per t*: 2 adversaries x 2 judge sets x 2 judges + the direct one
    assert ("none", "attacker_direct") in sets and len(rows) == 4 + 2 * (2 * 2 * 2 + 1)
    b.clean_judges = None
    with pytest.raises(FileNotFoundError, match="judges-clean"):
        eval_judges(b, test.images[:4], test.labels[:4], 15.0, [0])


def test_direct_attacker_stage_shipped(tiny_run, data_dir):
    """The direct stage trains Eve's classifier of y; ship writes it; the loader loads it."""
    from semsim.models.diffsem.checkpoints import direct_attacker_name

    _, work, ck, _, logs = tiny_run
    m = json.loads((Path(ck) / f"{direct_attacker_name('mnist')}.json").read_text())
    assert m["modules"] == ["direct"] and 0.0 <= m["metrics"]["val_acc"] <= 1.0
    assert any("[direct] val accuracy" in line for line in logs)
    b = load_diffsem("mnist", ck)
    x = load_dataset("mnist", "test", data_dir).images[:6]
    t = torch.full((6,), 100)
    y = b.system.link(b.system.encoder(x), t, torch.full((6,), 15.0))
    assert b.direct(y, t).shape == (6, 10)


def test_headroom_adversary_split_is_a_direct_attack(tiny_run, data_dir):
    """Eve's direct probes train on her own split and are named apart from Bob's."""
    _, _, ck, _, _ = tiny_run
    from semsim.models.diffsem.headroom import eval_headroom

    b = load_diffsem("mnist", ck)
    test = load_dataset("mnist", "test", data_dir)
    x, lab = test.images[:16], test.labels[:16]
    rows = eval_headroom(b, x, lab, 15.0, [0, 200], epochs=1, kinds=("small",),
                         data_dir=data_dir, split="adversary", log=lambda *_: None)
    assert {r["receiver"] for r in rows} == {"classifier_only", "eve_direct_small"}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    with pytest.raises(ValueError, match="split"):
        eval_headroom(b, x, lab, 15.0, [0], epochs=1, kinds=("small",), split="bob")


def test_finished_stage_restores_only_its_modules(tiny_run):
    """Rerunning an early stage is not undone by later stages' snapshots."""
    from semsim.models.checkpoint import load_training_state
    from semsim.models.diffsem.checkpoints import load_stage
    from semsim.models.diffsem.system import MODULE_NAMES, DiffSemSystem

    cfg, work, _, _, _ = tiny_run
    sys_ = DiffSemSystem(cfg)
    for p in sys_.clf_e.parameters():
        p.data.zero_()
    load_stage(work, "adversary", {k: getattr(sys_, k) for k in MODULE_NAMES})
    assert all(float(p.detach().abs().sum()) == 0.0 for p in sys_.clf_e.parameters())
    ref = load_training_state(work / "stage_adversary.pt")["modules"]["adv_conv"]
    for k, v in sys_.adv_conv.state_dict().items():
        assert torch.equal(v, ref[k])


def test_finetune_high_tstar_share(tiny_run, tmp_path, data_dir):
    from dataclasses import replace

    from semsim.models.checkpoint import load_training_state
    from semsim.models.diffsem.splits import load_splits
    from semsim.models.diffsem.stages import stage_finetune
    from semsim.models.diffsem.system import DiffSemSystem

    cfg, _, _, _, _ = tiny_run
    cfg = replace(cfg, ft_samples=400, ft_high_frac=1.0, ft_high_min=60, ft_tstar_max=100,
                  ft_epochs=1)
    sys_ = DiffSemSystem(cfg).eval()
    d = load_splits(cfg, data_dir)
    stage_finetune(sys_, d, cfg, tmp_path, lambda m: None)
    data = load_training_state(tmp_path / "finetune_data.pt")
    # more samples than the (tiny) pair split: images repeat with fresh noise
    assert len(data["t"]) == 400 > len(d.pair)
    assert int(data["t"].min()) >= 60 and int(data["t"].max()) <= 100
    assert data["key"]["high_frac"] == 1.0


@pytest.mark.parametrize("dataset,floor", [("mnist", 0.985), ("fashion", 0.87)])
def test_shipped_judges_are_strong(dataset, floor, data_dir):
    """The leakage judges must not understate the attacker: clean test accuracy of the CNN
    judge (first 1,000 test images) matches the manifest and clears the floor."""
    if not (CHECKPOINT_DIR / f"diffsem-{dataset}.json").is_file():
        pytest.skip(f"no shipped diffsem-{dataset} checkpoint")
    b = load_diffsem(dataset, with_baselines=False)
    test = load_dataset(dataset, "test", data_dir)
    x, lab = test.images[:1000], test.labels[:1000]
    acc = float((b.system.strong_classify(x, "cnn").argmax(1) == lab).float().mean())
    assert acc == pytest.approx(b.manifest["metrics"]["judge_cnn_clean"], abs=1e-3)
    assert b.manifest["metrics"]["judge_cnn_clean_test_full"] >= floor
    assert acc >= floor - 0.01


def test_finetune_preserve_init_starts_at_classifier_only(tiny_run, tmp_path, data_dir):
    """ft_init=preserve: Alg. 2 starts from the bypass classifier exactly (x0_hat folded
    onto y) and keeps that start unless fine-tuning lowers the validation loss."""
    from dataclasses import replace

    from semsim.models.diffsem.splits import load_splits
    from semsim.models.diffsem.stages import stage_finetune
    from semsim.models.diffsem.system import DiffSemSystem

    cfg, work, _, _, _ = tiny_run
    cfg = replace(cfg, ft_samples=200, ft_epochs=2, ft_init="preserve")
    sys_ = DiffSemSystem(cfg).eval()
    logs: list[str] = []
    info = stage_finetune(sys_, load_splits(cfg, data_dir), cfg, tmp_path, logs.append)
    assert info["ft_init"] == "preserve"
    starts = [float(m.split()[-1]) for m in logs if "start val" in m]
    assert len(starts) == 2  # ft_diff and ft_e both begin at classifier-only's loss
    assert starts[0] == pytest.approx(starts[1], abs=1e-6)
    for k in ("ft_diff", "ft_e"):
        assert info[k]["best_val"] <= starts[0] + 1e-9
    with pytest.raises(ValueError, match="ft_init"):
        stage_finetune(sys_, load_splits(cfg, data_dir), replace(cfg, ft_init="zero"),
                       tmp_path / "x", logs.append)


def test_eval_from_a_training_work_dir(tiny_run, tmp_path, data_dir):
    """`semsim eval diffsem --work-dir`: an unshipped variant's finished stages, evaluated
    on the same packets as the shipped system; clear errors for a wrong folder. The tiny
    run resumed after its U-Net stage, so the equality also checks that resumed stages run
    the finished U-Net in eval mode (its BatchNorm statistics were once updated by the
    Alg. 2 DDIM passes of a resumed run, and the shipped U-Net then differed from its
    stage file)."""
    import argparse

    import pandas as pd

    from semsim.models.diffsem.loader import load_work_dir
    from semsim.simulator.commands.diffsem import add_eval_commands

    _, work, ck, _, _ = tiny_run
    parser = argparse.ArgumentParser()
    add_eval_commands(parser.add_subparsers())
    common = ["--dataset", "mnist", "--n-test", "16", "--tstars", "0,100", "--parts",
              "levers", "--levers-w", "0", "--threads", "1", "--device", "cpu"] + (
        ["--data-dir", str(data_dir)] if data_dir else [])
    for name, extra in (("work", ["--work-dir", str(work)]),
                        ("shipped", ["--checkpoint-dir", str(ck)])):
        args = parser.parse_args(["diffsem", "--out", str(tmp_path / name), *common, *extra])
        assert args.func(args) == 0
    a, b = (pd.read_csv(tmp_path / n / "levers.csv") for n in ("work", "shipped"))
    pd.testing.assert_frame_equal(a, b)  # the tiny run shipped exactly its work dir's stages
    assert load_work_dir(work, "mnist").manifest["stages"][:3] == ["pair", "unet", "finetune"]
    with pytest.raises(CheckpointError, match="not a training work dir"):
        load_work_dir(tmp_path, "mnist")
    with pytest.raises(CheckpointError, match="trained for dataset 'mnist'"):
        load_work_dir(work, "fashion")


def test_train_cli_pair_tstar_max(tmp_path, data_dir):
    """`--pair-tstar-max` reaches the config: the pair then trains on t* <= that value
    only (the 'classifier-only reference' lever), the adversaries still on the whole grid;
    the work dir records it."""
    import argparse

    from semsim.models.diffsem.loader import load_work_dir
    from semsim.simulator.commands.diffsem import add_train_commands

    parser = argparse.ArgumentParser()
    add_train_commands(parser.add_subparsers())
    work = tmp_path / "w"
    args = parser.parse_args(
        ["diffsem", "--dataset", "mnist", "--preset", "tiny", "--threads", "1",
         "--device", "cpu", "--pair-tstar-max", "0", "--work-dir", str(work),
         "--out", str(tmp_path / "ck"), "--stage", "pair"]
        + (["--data-dir", str(data_dir)] if data_dir else []))
    assert args.func(args) == 0
    cfg = json.loads((work / "config.json").read_text())
    assert cfg["pair_tstar_max"] == 0 and cfg["tstar_train_max"] == 490
    assert (work / "stage_pair.pt").is_file()
    with pytest.raises(CheckpointError, match=r"\['unet', 'finetune'\] not finished"):
        load_work_dir(work, "mnist")  # a pair alone is not an evaluable system
    args = parser.parse_args(
        ["diffsem", "--dataset", "mnist", "--preset", "tiny", "--pair-high-frac", "0.5",
         "--pair-high-min", "60", "--work-dir", str(tmp_path / "w2"), "--stage", "pair",
         "--out", str(tmp_path / "ck2")] + (["--data-dir", str(data_dir)] if data_dir else []))
    assert args.func(args) == 0
    cfg = json.loads((tmp_path / "w2" / "config.json").read_text())
    assert (cfg["pair_high_frac"], cfg["pair_high_min"]) == (0.5, 60)


@pytest.mark.parametrize("key,value,extra", [
    ("pair_tstar_max", -1, {}), ("pair_tstar_max", 500, {}), ("tstar_train_max", 600, {}),
    ("ft_init", "zero", {}), ("pair_high_frac", float("nan"), {}),
    ("pair_high_frac", 1.5, {}), ("ft_high_frac", -0.1, {}),
    ("pair_high_min", 300, {"pair_high_frac": 0.5, "pair_tstar_max": 200}),
    ("ft_high_min", 200, {"ft_high_frac": 0.5})])  # tiny: ft_tstar_max = 100
def test_config_rejects_bad_values_before_training(key, value, extra):
    """Caught when the config is made, not stages later (ft_init was once checked only
    after Alg. 2 had generated its DDIM samples)."""
    with pytest.raises(ValueError, match=f"{key} = {value!r}"):
        make_config("mnist", "tiny", **{key: value}, **extra)
    # a high_min outside the range is harmless while its share is 0 (the defaults)
    assert make_config("mnist", "tiny", pair_tstar_max=0).pair_tmax == 0
    assert make_config("mnist", "tiny").pair_tmax == 490
