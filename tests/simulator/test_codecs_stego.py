"""Stego codec inside the engine: symbol scaling, roles, determinism, named errors."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from simhelpers import BASE, assert_same_trace, documented_types, merge

from semsim.models.common.snr import COMPLEX_UNIT_POWER
from semsim.models.common.units import db_to_lin
from semsim.simulator.channels import apply_one_tap
from semsim.simulator.cli import main
from semsim.simulator.codecs import CODECS
from semsim.simulator.engine import run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import parse_scenario, scenario_to_dict


def stego_scenario(**patch):
    data = merge(BASE, {"run": {"num_packets": 12}, "codec": {"name": "stego", "device": "cpu"}})
    data["source"] = {"kind": "dataset", "options": {"name": "mnist", "limit": 200}}
    return parse_scenario(merge(data, patch))


@pytest.fixture(scope="module")
def codec(data_dir):
    mod = CODECS.module("stego")
    return mod.build(mod.Options(data_dir=str(data_dir)), seed_sequence=np.random.SeedSequence(3),
                     device="cpu")


def test_engine_scaling_matches_the_models_awgn(codec, data_dir):
    """Bob's PSNR through the engine's channel convention (noise power_per_real / snr per
    real; the container states power 1/2 per real) equals the model's own AWGN path at the
    same SNR: a sqrt(2) slip would show."""
    from semsim.models.data import load_dataset
    from semsim.models.metrics import psnr
    from semsim.models.stego.jscc import apply_channel, complex_to_real

    images = load_dataset("mnist", "test", data_dir).images[:4]
    snr_db, n = 10.0, 128
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    engine_psnr, model_psnr = [], []
    for i in range(len(images)):
        tx = codec.encode({"images": images[i:i + 1].numpy()}, np.array([snr_db]))
        z = rng.standard_normal((n, tx.symbols.size))
        noise_var = np.full(n, tx.power_per_real / db_to_lin(snr_db))
        rx = apply_one_tap(tx.symbols, np.ones(n, complex), noise_var, z)
        out = codec.decode(tx, rx, np.full(n, snr_db), ["bob"] * n)
        engine_psnr.append(out["psnr_private_db"].mean())
        zc = complex_to_real(codec.system.hide(images[i:i + 1], tx.truth["host"]))
        y = apply_channel(zc.expand(n, -1), snr_db, "awgn", gen)
        model_psnr.append(psnr(codec.system.reveal(y), images[i:i + 1].expand(n, -1, -1, -1))
                          .mean().item())
    np.testing.assert_allclose(engine_psnr, model_psnr, atol=0.25)
    assert tx.power_per_real == COMPLEX_UNIT_POWER
    assert np.linalg.norm(tx.symbols) ** 2 / tx.symbols.size == pytest.approx(0.5, rel=1e-4)


def test_run_bob_reveals_private_eves_see_host(tmp_path, data_dir):
    sc = stego_scenario(bob={"channel": {"fading": "awgn"}, "estimator": {"kind": "perfect"}},
                        codec={"options": {"data_dir": str(data_dir)}},
                        source={"options": {"data_dir": str(data_dir)}})
    res = run_scenario(sc, tmp_path / "a")
    df = pd.read_parquet(tmp_path / "a" / "traces")
    assert len(df) == 3 * 12 == res.num_rows
    doc = documented_types("Steganography codec")
    assert set(df.columns) == set(doc)  # every column documented with its type
    assert all(df[c].dtype == doc[c] for c in df.columns if doc[c] != "string")
    bob, eve = df[df.role == "bob"], df[df.role == "eve"]
    assert bob.m_ssim_private.mean() > 0.6 > bob.m_ssim_host.mean()
    assert eve.m_ssim_host.mean() > 0.5 and eve.m_ssim_private.mean() < 0.3
    assert bob.m_mia_ssim_private.isna().all() and eve.m_mia_ssim_private.notna().all()
    assert (df.h_source_index >= 0).all() and (df.h_host_index >= 0).all()
    # same seed -> same trace, bit for bit
    run_scenario(sc, tmp_path / "b", run_id=res.run_id)
    pd.testing.assert_frame_equal(df, pd.read_parquet(tmp_path / "b" / "traces"))


@pytest.mark.parametrize("patch, path", [
    ({"setting": "mnist-in-fashon"}, "codec.options.setting"),
    ({"l_hat": "ones"}, "codec.options.l_hat"),
    ({"threads": -1}, "codec.options.threads"),
    ({"chekpoint": "x"}, "codec.options.chekpoint"),
])
def test_bad_options_name_the_key(patch, path):
    with pytest.raises(ScenarioError) as err:
        stego_scenario(codec={"options": patch})
    assert path in str(err.value)


def test_wrong_image_shape_is_named(codec):
    with pytest.raises(ScenarioError, match="source"):
        codec.encode({"images": np.zeros((1, 3, 32, 32))}, np.array([10.0]))


def test_batched_decoding_gives_the_same_trace(tmp_path, data_dir):
    """decode_batch_packets only changes speed: 12 packets decoded 5 at a time (the last 2
    at the end of the run) give the trace of one decode per transmission event."""
    opts = {"options": {"data_dir": str(data_dir)}}
    src = {"options": {"data_dir": str(data_dir)}}
    one = stego_scenario(codec=opts, source=src)
    many = stego_scenario(codec={**opts, "decode_batch_packets": 5}, source=src)
    assert_same_trace(one, many, tmp_path)


def test_batched_encoding_gives_the_same_trace(tmp_path, data_dir):
    """encode_batch_packets only changes speed: hosts are drawn per packet in the same
    order and the hide runs 5 packets per call (12 packets: the last block runs past the
    end); equal to per-packet encodes up to float rounding."""
    opts = {"options": {"data_dir": str(data_dir)}}
    src = {"options": {"data_dir": str(data_dir)}}
    one = stego_scenario(codec=opts, source=src)
    many = stego_scenario(codec={**opts, "encode_batch_packets": 5}, source=src)
    assert_same_trace(one, many, tmp_path)


@pytest.mark.parametrize("replicas", [1, 3])
def test_decoding_behind_gives_the_same_trace(tmp_path, data_dir, replicas):
    """codec.decode_behind only changes speed: decodes on the worker thread (5 packets per
    call, hides 4 per call on this thread meanwhile; with 3 replicas sharing the calls)
    give every value of decoding in place."""
    opts = {"options": {"data_dir": str(data_dir)}, "decode_batch_packets": 5,
            "encode_batch_packets": 4, "batch_replicas": replicas}
    src = {"options": {"data_dir": str(data_dir)}}
    run = {"num_packets": 12, "replicas": replicas}
    here = stego_scenario(codec=opts, source=src, run=run)
    behind = stego_scenario(codec={**opts, "decode_behind": True}, source=src, run=run)
    assert_same_trace(here, behind, tmp_path, exact=True)


def test_missing_checkpoint_is_a_named_error_and_writes_nothing(tmp_path, capsys):
    sc = stego_scenario(codec={"options": {"checkpoint_dir": str(tmp_path / "none")}})
    with pytest.raises(ScenarioError, match=r"^codec.options.checkpoint_dir: cannot build "
                       r"codec 'stego'.*not found"):
        run_scenario(sc, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # a failed start leaves no half run folder
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_to_dict(sc)))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "jscc-gray28.json not found" in capsys.readouterr().err
    err = ScenarioError("codec", "x", 3, "y")  # crosses process boundaries (sweep workers)
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


def test_mia_without_its_checkpoint_is_a_named_error(tmp_path, data_dir, capsys):
    """The mia attacker with Eve's inversion checkpoint missing would write all-NaN MIA
    columns (rc 0, secrecy overstated): a named error instead; attackers: [naive] runs."""
    from semsim.models.checkpoint import CHECKPOINT_DIR
    from semsim.models.stego.config import SETTINGS

    setting = SETTINGS["mnist-in-fashion"]
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    for name in (setting.jscc, setting.default):
        for ext in (".json", ".safetensors"):
            (ckpt / f"{name}{ext}").symlink_to(CHECKPOINT_DIR / f"{name}{ext}")
    opts = {"checkpoint_dir": str(ckpt), "data_dir": str(data_dir)}
    sc = stego_scenario(codec={"options": opts}, source={"options": {"data_dir": str(data_dir)}},
                        run={"num_packets": 2})
    with pytest.raises(ScenarioError) as err:
        run_scenario(sc, tmp_path / "run")
    assert err.value.path == "codec.options.attackers" and setting.mia in err.value.message
    assert not (tmp_path / "run").exists()
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_to_dict(sc)))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "codec.options.attackers" in capsys.readouterr().err
    sc = stego_scenario(codec={"options": {**opts, "attackers": ["naive"]}},
                        source={"options": {"data_dir": str(data_dir)}}, run={"num_packets": 2})
    df = pd.read_parquet(run_scenario(sc, tmp_path / "nomia").run_dir / "traces")
    assert df.m_mia_ssim_private.isna().all() and df.m_ssim_private.notna().all()


def test_data_errors_name_the_data_dir_key(tmp_path, data_dir):
    sc = stego_scenario(codec={"options": {"data_dir": str(tmp_path / "nodata")}},
                        source={"options": {"data_dir": str(data_dir)}})
    with pytest.raises(ScenarioError) as err:
        run_scenario(sc, tmp_path / "a")
    assert err.value.path == "codec.options.data_dir"
    sc = stego_scenario(source={"options": {"data_dir": str(tmp_path / "nodata")}})
    with pytest.raises(ScenarioError) as err:
        run_scenario(sc, tmp_path / "b")
    assert err.value.path == "source.options.data_dir"


@pytest.mark.parametrize("name", ["../x", "/abs/x", ".hidden", "a" * 101])
def test_unsafe_checkpoint_names_are_refused(name):
    with pytest.raises(ScenarioError) as err:
        stego_scenario(codec={"options": {"checkpoint": name}})
    assert err.value.path == "codec.options.checkpoint"


def test_batch_replicas_shares_deterministic_stego_decodes_only(tmp_path, data_dir):
    """With l_hat: zeros the decode is deterministic, so replicas share decode calls (the
    one-by-one traces to float rounding); with gaussian Bob's reveal draws from the
    replica's own generator, so batch_replicas > 1 keeps replicas apart (exactly equal)."""
    src = {"options": {"data_dir": str(data_dir)}}
    run = {"num_packets": 4, "replicas": 2}
    for l_hat, together in (("zeros", [0, 1]), ("gaussian", [1])):
        opts = {"options": {"data_dir": str(data_dir), "l_hat": l_hat},
                "decode_batch_packets": 8}
        one = stego_scenario(run=run, codec=opts, source=src)
        grouped = stego_scenario(run=run, codec={**opts, "batch_replicas": 2}, source=src)
        assert_same_trace(one, grouped, tmp_path / l_hat, exact=l_hat == "gaussian")
        marker = json.loads((tmp_path / l_hat / "many" / "replicas" / "r001.json").read_text())
        assert marker["run_with"] == together
