"""diffsem-abstract: a tiny table calibrated from the real networks, its manifest and
determinism, the codec's draws against the table, per-image correlation, errors instead
of extrapolation, and a short seeded validation against the neural codec."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from simhelpers import documented_types

from semsim.models.abstract import effective_snr_db, load_table
from semsim.models.abstract.build import build_diffsem_table
from semsim.models.manifests import CHECKPOINT_DIR, CheckpointError
from semsim.simulator.codecs import diffsem_abstract as da
from semsim.simulator.engine import run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.leakage import summary_table
from semsim.simulator.scenario import parse_scenario

GRID = "-45,-20,-10,-5,0,5,10,max"
NAME = "diffsem-mnist-t180-ediffsem"


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("abstract")
    build_diffsem_table(dataset="mnist", tstar=180, receiver="ediffsem", images=8, draws=2,
                        grid=GRID, seed=3, out_dir=out, data_dir=str(data_dir))
    return out


def _codec(table_dir, **kw):
    opts = da.Options(table_dir=str(table_dir), **kw)
    return da.build(opts, seed_sequence=np.random.SeedSequence(11))


def test_manifest_names_checkpoint_grid_images_seed_and_is_deterministic(
        table_dir, tmp_path, data_dir):
    man = json.loads((table_dir / f"{NAME}.json").read_text())
    shipped = json.loads((CHECKPOINT_DIR / "diffsem-mnist.json").read_text())["sha256"]
    assert man["checkpoints_sha256"]["diffsem-mnist"] == shipped
    assert man["images"] == {**man["images"], "split": "test", "first": 8}
    assert man["seed"] == 3 and man["draws"] == 2 and man["tstar"] == 180
    assert man["grid_db"][:3] == [-45.0, -20.0, -10.0] and len(man["grid_db"]) == 8
    t = load_table(table_dir, NAME)
    assert t.arrays["bob_pred"].shape == (8, 8, 2) and t.arrays["eve_pred"].shape[-1] == 5
    build_diffsem_table(dataset="mnist", tstar=180, receiver="ediffsem", images=8, draws=2,
                        grid=GRID, seed=3, out_dir=tmp_path, data_dir=str(data_dir))
    again = load_table(tmp_path, NAME)
    for k, v in t.arrays.items():
        np.testing.assert_array_equal(v, again.arrays[k], err_msg=k)
    assert again.manifest["sha256"] == man["sha256"]  # same bytes, same seed


def _packets(codec, index: int, g_db: float, n: int, roles=("bob", "eve")):
    """n packets of image ``index`` whose receivers all sit at effective SNR ``g_db``."""
    tx = codec.encode({"index": np.array([index]),
                       "labels": np.array([codec.arrays["labels"][index]])}, np.array([5.0]))
    a, tp, p = codec.abar, tx.header["tprime"], tx.header["power"]
    snr_db = np.full(len(roles), 10 * np.log10(p / (a[180] / 10 ** (g_db / 10) - (1 - a[tp]))))
    assert effective_snr_db(a, 180, tp, p, snr_db[0]) == pytest.approx(g_db)
    rx = np.zeros((len(roles), len(tx.symbols)))
    return [tx] * n, [rx] * n, [np.zeros(len(roles))] * n, list(roles), [snr_db] * n


def _decode(codec, packets):
    """decode_many of ``_packets``, the channel SNRs as the engine gives them."""
    *args, snr_true_db = packets
    return codec.decode_many(*args, snr_true_db=snr_true_db)


def test_draws_reproduce_the_tables_probabilities(table_dir):
    codec = _codec(table_dir)
    arr, n = codec.arrays, 4000
    for index in range(3):
        for gi, g in ((2, -10.0), (3, -5.0)):
            out = _decode(codec, _packets(codec, index, g, n))
            bob = np.mean([o["correct"][0] for o in out])
            want = np.mean(arr["bob_pred"][gi, index] == arr["labels"][index])
            assert bob == pytest.approx(want, abs=0.035), (index, g)
            leak = np.mean([o["correct_direct"][1] for o in out])
            want = np.mean(arr["eve_pred"][gi, index, :, 0] == arr["labels"][index])
            assert leak == pytest.approx(want, abs=0.035), (index, g)
        mid = _decode(codec, _packets(codec, index, -7.5, n))  # halfway: the mean
        want = np.mean(arr["bob_pred"][2:4, index] == arr["labels"][index])
        assert np.mean([o["correct"][0] for o in mid]) == pytest.approx(want, abs=0.035)


def test_same_hard_image_fools_bob_and_eve_together(table_dir, tmp_path):
    """Images 0-3 easy for everyone, 4-7 hard for everyone (right in one draw of two):
    the table's per-image covariance between Bob and Eve, 1/16, must survive the draws
    (independent per-receiver draws from the average would give 0)."""
    t = load_table(table_dir, NAME)
    arrays = dict(t.arrays)
    lab = arrays["labels"]
    wrong = ((lab + 1) % 10).astype(np.uint8)
    pred = np.broadcast_to(lab.astype(np.uint8)[None, :, None], arrays["bob_pred"].shape).copy()
    pred[:, 4:, 0] = wrong[4:]
    arrays["bob_pred"] = pred
    arrays["eve_pred"] = np.repeat(pred[..., None], arrays["eve_pred"].shape[-1], -1)
    man = {k: v for k, v in t.manifest.items() if k not in ("sha256", "file", "name")}
    from semsim.models.abstract import save_table

    save_table(tmp_path, NAME, arrays, man)
    codec = _codec(tmp_path)
    bob_rows, eve_rows = [], []
    for index in range(8):
        out = _decode(codec, _packets(codec, index, -7.5, 1000))
        bob_rows += [o["correct"][0] for o in out]
        eve_rows += [o["correct_direct"][1] for o in out]
    assert np.mean(bob_rows) == pytest.approx(0.75, abs=0.03)
    assert np.cov(bob_rows, eve_rows, bias=True)[0, 1] == pytest.approx(1 / 16, abs=0.01)


def test_receiver_outside_the_grid_and_bad_options_are_errors(table_dir):
    codec = _codec(table_dir)
    txs, rx, est, roles, snr = _packets(codec, 0, 0.0, 1)
    with pytest.raises(ScenarioError, match="outside table") as info:
        codec.decode_many(txs, rx, est, roles, snr_true_db=[snr[0] - 60.0])
    assert info.value.path == "bob"
    with pytest.raises(TypeError, match="snr_true_db"):  # the channel SNR is required
        codec.decode_many(txs, rx, est, roles)
    with pytest.raises(ScenarioError, match="limit"):
        codec.encode({"index": np.array([8]), "labels": np.array([1])}, np.array([5.0]))
    with pytest.raises(ScenarioError, match="send_tprime"):
        da.Options(send_tprime=False)
    with pytest.raises(ScenarioError, match="calibrated for tstar"):
        (table_dir / "other").mkdir()
        for ext in ("json", "npz"):
            (table_dir / "other" / f"diffsem-mnist-t100-ediffsem.{ext}").write_bytes(
                (table_dir / f"{NAME}.{ext}").read_bytes())
        _codec(table_dir / "other", tstar=100)


def test_damaged_table_is_refused(table_dir, tmp_path):
    for ext in ("json", "npz"):
        (tmp_path / f"{NAME}.{ext}").write_bytes((table_dir / f"{NAME}.{ext}").read_bytes())
    raw = bytearray((tmp_path / f"{NAME}.npz").read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (tmp_path / f"{NAME}.npz").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="sha256"):
        _codec(tmp_path)


def _scenario(codec: dict, data_dir) -> dict:
    import yaml

    from semsim.simulator.commands.sim import default_scenario

    data = yaml.safe_load(default_scenario().read_text())
    data["run"] = {"duration_s": 2.0, "seed": 4}
    data["codec"] = codec
    data["source"] = {"kind": "dataset",
                      "options": {"name": "mnist", "limit": 8, "data_dir": str(data_dir)}}
    return data


def test_abstraction_matches_the_neural_codec_on_a_short_run(table_dir, tmp_path, data_dir):
    opts = {"dataset": "mnist", "tstar": 180, "receiver": "ediffsem"}
    neural = parse_scenario(_scenario({"name": "diffsem", "device": "cpu",
                                       "decode_batch_packets": 64, "options": opts}, data_dir))
    abstract = parse_scenario(_scenario({"name": "diffsem-abstract", "options": {
        **opts, "table_dir": str(table_dir)}}, data_dir))
    run_scenario(neural, tmp_path / "n")
    run_scenario(abstract, tmp_path / "a")
    dn, dab = (pd.read_parquet(tmp_path / k / "traces") for k in ("n", "a"))
    assert set(dab.columns) == set(dn.columns) == set(documented_types("DiffSem PHY"))
    assert (dab.codec == "diffsem-abstract").all()
    for col in ("snr_true_db", "h_tprime", "h_source_index"):  # same seeds: same channel
        np.testing.assert_allclose(dab[col], dn[col])
    # tiny table (8 images x 2 draws, 5 dB grid) and 81 packets: the check is coarse; the
    # full-size one is benchmarks/abstraction_validation.py (docs/abstraction.md)
    sn, sa = (summary_table(d).set_index(["node", "metric"]) for d in (dn, dab))
    keys = [k for k in sn.index.unique() if k[1] in ("accuracy", "leakage (worst case)")
            or k[1].startswith(("m_psnr", "m_ssim"))]
    assert len(keys) == 1 + 3 * 5
    for k in keys:
        n, a = sn.loc[[k]].iloc[0], sa.loc[[k]].iloc[0].value
        slack = 0.06 if k[1] in ("accuracy", "leakage (worst case)") else 0.0
        assert n.ci_low - slack <= a <= n.ci_high + slack, (k, a, n.ci_low, n.ci_high)


def test_a_source_beyond_the_tables_images_is_refused_before_the_run(table_dir, data_dir,
                                                                      tmp_path):
    """A source that may draw images the table lacks is a validation error at
    source.options.limit, before any run folder exists."""
    codec = {"name": "diffsem-abstract", "options": {"dataset": "mnist", "tstar": 180,
                                                      "receiver": "ediffsem",
                                                      "table_dir": str(table_dir)}}
    ok = _scenario(codec, data_dir)
    parse_scenario(ok)  # limit 8 = the tiny table's images
    for bad in ({"name": "mnist", "data_dir": str(data_dir)},
                {"name": "mnist", "limit": 9, "data_dir": str(data_dir)},
                {"name": "mnist", "limit": 8, "split": "train", "data_dir": str(data_dir)}):
        with pytest.raises(ScenarioError) as err:
            parse_scenario({**ok, "source": {"kind": "dataset", "options": bad}})
        assert err.value.path == "source.options.limit"
    assert not list(tmp_path.iterdir())


def test_one_packet_decode_is_decode_many_of_one(table_dir):
    """decode (BatchedDecode's) hands its channel SNRs on: the same outcomes as
    decode_many of that one packet, on a codec with the same streams."""
    txs, rx, est, roles, snr = _packets(_codec(table_dir), 1, -7.5, 1)
    one = _codec(table_dir).decode(txs[0], rx[0], est[0], roles, snr_true_db=snr[0])
    many = _decode(_codec(table_dir), (txs, rx, est, roles, snr))[0]
    assert one.keys() == many.keys()
    for k in one:
        np.testing.assert_array_equal(one[k], many[k], err_msg=k)
    with pytest.raises(TypeError, match="snr_true_db"):
        _codec(table_dir).decode(txs[0], rx[0], est[0], roles)
