"""Checkpoint manifests: round trip, sha256 checked before load, config mismatch named,
provenance (command, commit, dirty diff), sha256-checked training state."""

from __future__ import annotations

import json

import pytest
import torch

from semsim.models import checkpoint as C


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def test_round_trip_and_manifest(tmp_path):
    net = _net(0)
    man = C.save_checkpoint(
        tmp_path, "tiny", {"net": net}, config={"width": 3}, metrics={"acc": 0.5},
        seed=7, data_sha256={"f": "abc"},
    )
    meta = json.loads(man.read_text())
    assert meta["seed"] == 7 and meta["config"] == {"width": 3} and len(meta["sha256"]) == 64
    other = _net(1)
    C.load_checkpoint(tmp_path, "tiny", {"net": other}, expect_config={"width": 3})
    for a, b in zip(net.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b)


def test_errors_are_named(tmp_path):
    with pytest.raises(C.CheckpointError, match="not found: train it first"):
        C.load_checkpoint(tmp_path, "absent", {"net": _net(0)})
    C.save_checkpoint(tmp_path, "t", {"net": _net(0)}, config={"width": 3}, metrics={},
                      seed=0, data_sha256={})
    with pytest.raises(C.CheckpointError, match="width=3.*but 5 was requested"):
        C.load_checkpoint(tmp_path, "t", {"net": _net(0)}, expect_config={"width": 5})
    raw = (tmp_path / "t.safetensors").read_bytes()
    (tmp_path / "t.safetensors").write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(C.CheckpointError, match="refusing to load a modified file"):
        C.load_checkpoint(tmp_path, "t", {"net": _net(0)})


@pytest.mark.parametrize("text, match", [
    ("[1, 2]", "is a JSON list, not an object"),
    ('{"config": {}}', "'sha256' is missing"),
    ('{"config": {}, "sha256": "abc"}', "not a 64-digit hex digest"),
    ('{"sha256": "' + "0" * 64 + '"}', "'config' is missing"),
    ('{"sha256": "' + "0" * 64 + '", "config": [1]}', "'config' is missing or not an object"),
    ("{not json", "is not valid JSON"),
])
def test_a_damaged_manifest_is_named(tmp_path, text, match):
    (tmp_path / "t.json").write_text(text)
    with pytest.raises(C.CheckpointError, match=match):
        C.read_manifest(tmp_path, "t")
    with pytest.raises(C.CheckpointError, match=match):
        C.load_checkpoint(tmp_path, "t", {"net": _net(0)})


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", ".x", "", "a" * 101])
def test_checkpoint_names_stay_in_their_folder(tmp_path, name):
    with pytest.raises(C.CheckpointError, match="checkpoint name"):
        C.save_checkpoint(tmp_path / "d", name, {"net": _net(0)}, config={}, metrics={},
                          seed=0, data_sha256={})
    with pytest.raises(C.CheckpointError, match="checkpoint name"):
        C.read_manifest(tmp_path, name)
    assert not (tmp_path / "d").exists()


def test_training_state_round_trip(tmp_path):
    net = _net(0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.ones(2, 4)).sum().backward()
    opt.step()
    path = tmp_path / "state.pt"
    assert C.load_training_state(path) is None
    C.save_training_state(path, {"epoch": 3, "model": net.state_dict(), "opt": opt.state_dict(),
                                 "rng": torch.get_rng_state()})
    state = C.load_training_state(path)
    assert state is not None and state["epoch"] == 3
    opt2 = torch.optim.Adam(_net(1).parameters(), lr=1e-3)
    opt2.load_state_dict(state["opt"])
    assert opt2.state_dict()["state"][0]["step"] == 1


def test_training_state_is_refused_when_its_sha256_does_not_match(tmp_path):
    """Resume state is unpickled (weights_only) only after its sha256 sidecar matches."""
    path = tmp_path / "state.pt"
    C.save_training_state(path, {"epoch": 1})
    assert (tmp_path / "state.pt.sha256").read_text().strip() == C.sha256_file(path)
    raw = path.read_bytes()
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(C.CheckpointError, match="does not match its sha256 file"):
        C.load_training_state(path)
    (tmp_path / "state.pt.sha256").unlink()
    with pytest.raises(C.CheckpointError, match="missing"):
        C.load_training_state(path)


def test_manifest_records_command_commit_and_dirty_diff(tmp_path, monkeypatch):
    """The exact command line and the commit go into every manifest; a checkpoint shipped
    from a dirty tree records the sha256 of the uncommitted diff (shipping is not refused)."""
    monkeypatch.setattr("sys.argv", ["semsim", "train", "jscc", "--epochs", "1"])
    dirty = {"commit": "c" * 40, "dirty": True, "diff_sha256": "d" * 64}
    monkeypatch.setattr(C, "git_state", lambda: dirty)
    meta = json.loads(C.save_checkpoint(tmp_path, "t", {"net": _net(0)}, config={},
                                        metrics={}, seed=0, data_sha256={}).read_text())
    assert meta["command"] == ["semsim", "train", "jscc", "--epochs", "1"]
    assert meta["git_state"] == "c" * 40 and meta["git_dirty"] is True
    assert meta["git_diff_sha256"] == "d" * 64
    monkeypatch.setattr(C, "git_state", lambda: {**dirty, "dirty": False, "diff_sha256": None})
    meta = json.loads(C.save_checkpoint(tmp_path, "t", {"net": _net(0)}, config={},
                                        metrics={}, seed=0, data_sha256={}).read_text())
    assert meta["git_dirty"] is False and meta["git_diff_sha256"] is None
