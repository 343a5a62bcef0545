"""Stego-family training end to end on real (capped) data: DeepJSCC, Eve's inversion net
and the INN through the one loop, manifests, resume."""

from __future__ import annotations

import pytest

from semsim.models.stego.loader import load_stego


def test_training_commands_end_to_end(tmp_path, data_dir, capsys):
    """DeepJSCC -> Eve's inversion net -> INN on real (capped) data: each writes a
    manifest the loaders accept, training resumes from its epoch state, and a stego
    checkpoint made over another codec is refused by name."""
    from semsim.models.checkpoint import CheckpointError, read_manifest
    from semsim.models.stego.config import JSCCTrainConfig, MIATrainConfig, StegoTrainConfig
    from semsim.models.stego.training import train_jscc, train_mia, train_stego

    ck, state = tmp_path / "ck", tmp_path / "state"
    kw = {"state_dir": state, "data_dir": str(data_dir), "progress": False}
    jcfg = JSCCTrainConfig(epochs=1, max_train=128, max_test=32, eval_snrs_db=(15.0,))
    train_jscc(jcfg, out_dir=ck, **kw)
    man = read_manifest(ck, "jscc-gray28")
    assert set(man["metrics"]) == {f"{d}/awgn15dB/{m}" for d in ("mnist", "fashion")
                                   for m in ("psnr_db", "ssim")}
    train_mia(MIATrainConfig(epochs=1, max_train=128, hidden=32, eval_images=32),
              out_dir=ck, checkpoint_dir=ck, **kw)
    scfg = StegoTrainConfig(epochs=1, max_train=128, hidden=16, blocks=2, eval_pairs=16)
    train_stego(scfg, out_dir=ck, checkpoint_dir=ck, **kw)
    system = load_stego("mnist-in-fashion", ck, name=scfg.checkpoint_name())
    assert system.inversion is not None
    assert read_manifest(ck, scfg.checkpoint_name())["metrics"]["num_pairs"] == 16

    # one more epoch resumes from the saved state instead of starting over
    capsys.readouterr()
    train_jscc(JSCCTrainConfig(epochs=2, max_train=128, max_test=32, eval_snrs_db=(15.0,)),
               out_dir=ck, **kw)
    history = read_manifest(ck, "jscc-gray28")["extra"]["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert "[jscc-gray28] resumed from" in capsys.readouterr().out
    assert history[0] == man["extra"]["history"][0]
    # the stego checkpoint was trained over the previous codec: refused, naming it
    with pytest.raises(CheckpointError, match="trained on another 'jscc-gray28'"):
        load_stego("mnist-in-fashion", ck, name=scfg.checkpoint_name())
