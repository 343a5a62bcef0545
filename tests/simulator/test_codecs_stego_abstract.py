"""stego-abstract: a tiny table calibrated from the real networks, its manifest and
determinism, the codec's draws against the table, the packet's host shared by every
receiver, errors instead of extrapolation, and a short seeded run against ``stego``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from simhelpers import documented_types

from semsim.models.abstract.stego_calibration import build_stego_table
from semsim.models.manifests import CHECKPOINT_DIR, CheckpointError
from semsim.simulator.codecs import stego_abstract as sa
from semsim.simulator.engine import run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import parse_scenario

NAME = "stego-mnist-in-fashion-lam3-4-lam1-0.2-test-zeros"
GRID = np.array([-30.0, 0.0, 10.0, 20.0, 60.0])


def _build(out, data_dir):
    return build_stego_table(setting="mnist-in-fashion", checkpoint=None, host_split="test",
                             l_hat="zeros", images=6, hosts=2, draws=2, grid_db=GRID, seed=1,
                             out_dir=out, data_dir=str(data_dir))


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("stego-abstract")
    _build(out, data_dir)
    return out


def _codec(table_dir, **kw):
    return sa.build(sa.Options(table_dir=str(table_dir), **kw),
                    seed_sequence=np.random.SeedSequence(5))


def test_manifest_and_determinism(table_dir, tmp_path, data_dir):
    man = json.loads((table_dir / f"{NAME}.json").read_text())
    for name in ("stego-mnist-in-fashion-lam3-4-lam1-0.2", "jscc-gray28", "stego-mia-gray28"):
        shipped = json.loads((CHECKPOINT_DIR / f"{name}.json").read_text())["sha256"]
        assert man["checkpoints_sha256"][name] == shipped
    assert man["images"]["first"] == 6 and man["hosts"] == 2 and man["draws"] == 2
    assert man["seed"] == 1 and man["grid_db"] == GRID.tolist()
    _build(tmp_path, data_dir)
    assert json.loads((tmp_path / f"{NAME}.json").read_text())["sha256"] == man["sha256"]


def _packets(codec, index: int, snr_db: float, n: int, roles=("bob", "eve")):
    txs = [codec.encode({"index": np.array([index])}, np.array([0.0])) for _ in range(n)]
    rx = np.zeros((len(roles), len(txs[0].symbols)))
    snr = [np.full(len(roles), snr_db)] * n  # the channel SNRs, as the engine gives them
    return txs, [rx] * n, [np.zeros(len(roles))] * n, list(roles), snr


def _decode(codec, txs, rx, est, roles, snr):
    return codec.decode_many(txs, rx, est, roles, snr_true_db=snr)


def test_draws_reproduce_the_table_and_share_the_packets_host(table_dir):
    codec = _codec(table_dir)
    arr = codec.arrays
    for index in range(3):
        txs, *rest = _packets(codec, index, 10.0, 2000)
        out = _decode(codec, txs, *rest)
        hosts = np.array([t.truth["host_draw"] for t in txs])
        assert set(hosts) == {0, 1}
        assert all(t.header["host_index"] == arr["host_index"][index, h]
                   for t, h in zip(txs, hosts, strict=True))
        for h in (0, 1):  # every value comes from the packet's own host
            rows = [o for o, hh in zip(out, hosts, strict=True) if hh == h]
            bob = {round(float(o["ssim_private"][0]), 5) for o in rows}
            assert bob <= {round(float(v), 5) for v in arr["bob"][2, index, h, :, 1]}
            mia = np.mean([o["mia_ssim_private"][1] for o in rows])
            assert mia == pytest.approx(arr["mia"][2, index, h, :, 1].mean(), abs=0.01)
        assert np.isnan([o["mia_ssim_private"][0] for o in out]).all()  # Bob has no MIA
        mid = _decode(codec, *_packets(codec, index, 15.0, 4000))  # halfway in dB
        want = arr["bob"][2:4, index, :, :, 0].mean()
        got = np.mean([o["psnr_private_db"][0] for o in mid])
        assert got == pytest.approx(want, abs=0.25)


def test_errors(table_dir, tmp_path):
    codec = _codec(table_dir)
    packets = _packets(codec, 0, 65.0, 1)
    with pytest.raises(ScenarioError, match="outside table") as info:
        _decode(codec, *packets)
    assert info.value.path == "bob"
    with pytest.raises(ScenarioError, match="limit"):
        codec.encode({"index": np.array([6])}, np.array([0.0]))
    with pytest.raises(CheckpointError, match="semsim calibrate"):
        _codec(table_dir, l_hat="gaussian")  # no such table
    for ext in ("json", "npz"):
        (tmp_path / f"{NAME}.{ext}").write_bytes((table_dir / f"{NAME}.{ext}").read_bytes())
    raw = bytearray((tmp_path / f"{NAME}.npz").read_bytes())
    raw[len(raw) // 3] ^= 0x01
    (tmp_path / f"{NAME}.npz").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="sha256"):
        _codec(tmp_path)


def test_short_run_matches_stego(table_dir, tmp_path, data_dir):
    import yaml

    from semsim.simulator.commands.sim import default_scenario

    data = yaml.safe_load(default_scenario().read_text())
    data["run"] = {"duration_s": 3.0, "seed": 8}
    data["link"]["tx_power_dbm"] = 7.0
    data["source"] = {"kind": "dataset",
                      "options": {"name": "mnist", "limit": 6, "data_dir": str(data_dir)}}
    neural = {**data, "codec": {"name": "stego", "device": "cpu", "decode_batch_packets": 50,
                                "options": {"data_dir": str(data_dir)}}}
    abstract = {**data, "codec": {"name": "stego-abstract",
                                  "options": {"table_dir": str(table_dir)}}}
    run_scenario(parse_scenario(neural), tmp_path / "n")
    run_scenario(parse_scenario(abstract), tmp_path / "a")
    dn, dab = (pd.read_parquet(tmp_path / k / "traces") for k in ("n", "a"))
    assert set(dab.columns) == set(dn.columns) == set(documented_types("Steganography PHY"))
    np.testing.assert_allclose(dab.snr_true_db, dn.snr_true_db)  # same seeds: same channel
    # tiny table (6 images x 2 hosts x 2 draws, 10 dB grid): a coarse check of the
    # private-image quality that Bob recovers and each attacker leaks
    for col in ("m_ssim_private", "m_mia_ssim_private"):
        for node, g in dn.groupby("node"):
            if g[col].notna().any():
                a = dab[dab.node == node][col].mean()
                assert a == pytest.approx(g[col].mean(), abs=0.06), (node, col)
    # host_pool: table: the neural codec draws the abstraction's host packet by packet
    # (batched and per-packet encodes alike), so the two differ only by the abstraction
    hosts = dab.groupby("packet_id").h_host_index.first()
    assert not (dn.groupby("packet_id").h_host_index.first() == hosts).all()
    for batch in (1, 50):
        paired = {**neural, "codec": {**neural["codec"], "encode_batch_packets": batch,
                                      "options": {"data_dir": str(data_dir),
                                                  "host_pool": "table",
                                                  "table_dir": str(table_dir)}}}
        run_scenario(parse_scenario(paired), tmp_path / f"p{batch}")
        dp = pd.read_parquet(tmp_path / f"p{batch}" / "traces")
        pd.testing.assert_series_equal(dp.groupby("packet_id").h_host_index.first(), hosts)


def test_host_pool_errors(table_dir, data_dir):
    from semsim.simulator.codecs import stego

    with pytest.raises(ScenarioError, match="host_pool: table") as info:
        stego.Options(table_dir=str(table_dir))
    assert info.value.path == "table_dir"
    assert stego.source_images(stego.Options()) is None
    assert stego.source_images(stego.Options(host_pool="table",
                                             table_dir=str(table_dir))) == 6
    data = {"name": "t", "run": {"num_packets": 3, "seed": 1},
            "codec": {"name": "stego", "options": {"host_pool": "table",
                                                    "table_dir": str(table_dir)}},
            "source": {"kind": "dataset", "options": {"name": "mnist", "limit": 7}}}
    with pytest.raises(ScenarioError, match="first 6 test images") as info:
        parse_scenario(data)
    assert info.value.path == "source.options.limit"
