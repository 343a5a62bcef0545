import math

import numpy as np
import pandas as pd
import pytest

from semsim.models.common.units import SPEED_OF_LIGHT_MPS
from semsim.simulator.codecs.reference import ReferenceCodec
from semsim.simulator.engine import run_replicas, run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.pathloss import free_space_path_loss_db
from semsim.simulator.trace import read_traces


def _run(scenario, tmp_path, name="run", **kw):
    res = run_scenario(scenario, tmp_path / name, **kw)
    return res, read_traces(tmp_path / name)


def test_event_order_two_eves(make_scenario, tmp_path):
    sc = make_scenario(run={"num_packets": 5}, trace={"event_log": True})
    res, _ = _run(sc, tmp_path)
    interval, delay = 1e-3, 2.5e-3
    expected = []
    for k in range(5):
        t = k * interval
        expected += [(t, 0, "alice", "tx", k), (t, 1, "bob", "rx", k),
                     (t, 2, "eve0", "rx", k), (t, 3, "eve1", "rx", k),
                     (t + delay, 0, "alice", "feedback", k)]
    expected.sort(key=lambda e: (round(e[0], 9), e[1]))
    got = res.events
    assert [e[1:] for e in got] == [e[2:] for e in expected]
    np.testing.assert_allclose([e[0] for e in got], [e[0] for e in expected], atol=1e-12)
    # the log is written beside the traces too
    assert (tmp_path / "run" / "events" / "r000.jsonl").read_text().count("\n") == len(got)


def test_every_packet_reaches_every_receiver_once(make_scenario, tmp_path, monkeypatch):
    calls = []
    original = ReferenceCodec.decode_many

    def spy(self, txs, received, snr_est_db, roles):
        assert len(txs) == len(received) == len(snr_est_db) == 1  # decode_batch_packets: 1
        calls.append((received[0].shape, tuple(roles), snr_est_db[0].shape))
        return original(self, txs, received, snr_est_db, roles)

    monkeypatch.setattr(ReferenceCodec, "decode_many", spy)
    sc = make_scenario(run={"num_packets": 120}, alice={"traffic": {"kind": "poisson"}})
    res, df = _run(sc, tmp_path)
    assert res.received == {"bob": 120, "eve0": 120, "eve1": 120}
    counts = df.groupby(["packet_id", "node"]).size()
    assert len(counts) == 120 * 3 and (counts == 1).all()
    # one batched decode per transmission event, covering all receivers
    assert len(calls) == 120
    assert all(c == ((3, 64), ("bob", "eve", "eve"), (3,)) for c in calls)


@pytest.mark.parametrize("delay", [2.5e-3, 2e-3, 0.0])
def test_feedback_delay_observed_in_trace(make_scenario, tmp_path, delay):
    sc = make_scenario(run={"num_packets": 200},
                       bob={"estimator": {"kind": "gaussian", "std_db": 2.0,
                                          "feedback_delay_s": delay}})
    _, df = _run(sc, tmp_path)
    bob = df[df.node == "bob"].set_index("packet_id")
    times = bob.time_s.to_numpy()
    for k, row in bob.iterrows():
        # reports of earlier packets; one due exactly at a transmission is used for it
        arrived = np.flatnonzero(times[:k] + delay <= row.time_s + 1e-12)
        if arrived.size == 0:
            assert row.feedback_packet_id == -1 and math.isnan(row.feedback_age_s)
            assert row.snr_est_db == sc.alice.initial_snr_est_db
            continue
        fb = arrived[-1]
        assert row.feedback_packet_id == fb
        assert row.feedback_age_s >= delay - 1e-12
        # Alice used exactly what Bob estimated for packet fb, not the truth
        assert row.snr_est_db == bob.loc[fb, "snr_rx_est_db"]
        assert row.snr_mismatch_db == pytest.approx(row.snr_est_db - row.snr_true_db)
    lag = max(1, math.ceil(delay / 1e-3 - 1e-9))
    assert (bob.feedback_packet_id == bob.index - lag).iloc[lag:].all()
    assert (bob.snr_est_db != bob.snr_true_db).all()


def test_physics_columns_match_link_budget_and_doppler(make_scenario, tmp_path):
    sc = make_scenario(run={"num_packets": 40})
    _, df = _run(sc, tmp_path)
    bob = df[df.node == "bob"]
    pl = free_space_path_loss_db(1.0, 2.4e9) + 30 * math.log10(40.0)
    noise = -174 + 10 * math.log10(10e6) + 7.0
    np.testing.assert_allclose(bob.path_loss_db, pl)
    np.testing.assert_allclose(bob.mean_snr_db, 10.0 - pl - noise)
    np.testing.assert_allclose(bob.snr_true_db, bob.mean_snr_db
                               + 10 * np.log10(bob.fading_gain))
    walker = df[df.node == "eve1"]
    np.testing.assert_allclose(walker.doppler_hz, 1.5 * 2.4e9 / SPEED_OF_LIGHT_MPS)
    np.testing.assert_allclose(walker.rx_x_m, 1.5 * walker.time_s)
    np.testing.assert_allclose(walker.distance_m, np.hypot(walker.rx_x_m, 30.0))


def test_secrecy_columns(make_scenario, tmp_path):
    indep = {"channel": {"coherence_s": None, "time_correlation": "independent"}}
    sc = make_scenario(run={"num_packets": 60}, secrecy={"target_rate_bps_hz": 1.0},
                       bob=indep, eves=[{"name": "near", "mobility": {"kind": "static",
                                                                      "position_m": [30, 0]},
                                         **indep}, {"name": "far", **indep,
                                                    "mobility": {"kind": "static",
                                                                 "position_m": [80, 0]}}])
    _, df = _run(sc, tmp_path)
    cap = np.log2(1 + 10 ** (df.snr_true_db / 10))
    np.testing.assert_allclose(df.capacity_bps_hz, cap)
    for _, pkt in df.assign(cap=cap).groupby("packet_id"):
        b = pkt[pkt.role == "bob"].cap.iloc[0]
        eves = pkt[pkt.role == "eve"]
        np.testing.assert_allclose(eves.secrecy_capacity_bps_hz,
                                   np.maximum(0, b - eves.cap))
        bob_row = pkt[pkt.role == "bob"].iloc[0]
        assert bob_row.secrecy_capacity_bps_hz == pytest.approx(max(0, b - eves.cap.max()))
    assert (df.secrecy_outage == (df.secrecy_capacity_bps_hz < 1.0)).all()
    assert 0 < df.secrecy_outage.mean() < 1


def test_engine_rayleigh_outage_matches_closed_form(make_scenario, tmp_path):
    sc = make_scenario(run={"num_packets": 20000}, eves=[],
                       bob={"channel": {"coherence_s": None, "time_correlation": "independent"}})
    _, df = _run(sc, tmp_path)
    rel = 10 ** ((df.snr_true_db - df.mean_snr_db) / 10)
    for th in (0.1, 0.5, 1.0, 2.0):
        assert abs(np.mean(rel < th) - (1 - math.exp(-th))) < 0.015


@pytest.mark.parametrize("decoder", ["mf", "lmmse"])
def test_awgn_reference_codec_mse_matches_theory(make_scenario, tmp_path, decoder):
    sc = make_scenario(run={"num_packets": 2000}, eves=[],
                       bob={"mobility": {"position_m": [100.0, 0.0]},
                            "channel": {"fading": "awgn", "coherence_s": None,
                                        "environment_doppler_hz": 0.0},
                            "estimator": {"kind": "perfect"}},
                       codec={"options": {"decoder": decoder, "clip": False}})
    _, df = _run(sc, tmp_path)
    snr = 10 ** (df.snr_true_db.iloc[0] / 10)
    expected = 1 / snr if decoder == "mf" else 1 / (1 + snr)
    assert abs(df.m_feature_mse.mean() / expected - 1) < 0.03
    assert (df.fading_gain == 1).all()


def test_lookahead_never_changes_results(make_scenario, tmp_path):
    patch = {"eves": [{"name": "rw", "mobility": {"kind": "random_waypoint",
                                                  "bounds_m": [0, 0, 50, 50]},
                       "channel": {"coherence_s": 2e-3}},
                      {"name": "gm", "mobility": {"kind": "gauss_markov", "update_s": 0.01}}],
             "propagation": {"shadowing_std_db": 5.0, "shadowing_decorrelation_m": 0.5}}
    frames = []
    for i, k in enumerate((1, 7, 256)):
        sc = make_scenario(run={"num_packets": 150, "lookahead_packets": k}, **patch)
        frames.append(_run(sc, tmp_path, f"k{i}", run_id="same")[1])
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])
    assert frames[0].shadowing_db.std() > 0


@pytest.mark.parametrize("where,spatial", [("last", None), ("middle", False)])
def test_adding_an_eve_does_not_change_bob(make_scenario, tmp_path, where, spatial):
    """An Eve added after the others changes nobody (spatial correlation mixes receivers in
    order, lower-triangular); without spatial correlation, not even one added in between."""
    eve0 = {"name": "eve0", "mobility": {"kind": "static", "position_m": [50.0, 20.0]}}
    eve1 = {"name": "eve1", "mobility": {"kind": "constant_velocity",
                                         "position_m": [0.0, 30.0], "speed_mps": 1.5}}
    extra = {"name": "extra", "mobility": {"kind": "static", "position_m": [49.9, 20.0]}}
    eves = [eve0, eve1, extra] if where == "last" else [eve0, extra, eve1]
    patch = {} if spatial is None else {"spatial": {"shadowing": spatial, "fading": spatial}}
    two = make_scenario(run={"num_packets": 100}, **patch)
    three = make_scenario(run={"num_packets": 100}, eves=eves, **patch)
    a = _run(two, tmp_path, "a", run_id="x")[1]
    b = _run(three, tmp_path, "b", run_id="x")[1]
    cols = [c for c in a.columns if not c.startswith("secrecy")]
    for node in ("bob", "eve0", "eve1"):
        pd.testing.assert_frame_equal(a[a.node == node][cols].reset_index(drop=True),
                                      b[b.node == node][cols].reset_index(drop=True))


def test_duration_and_poisson_traffic(make_scenario, tmp_path):
    res, df = _run(make_scenario(run={"num_packets": None, "duration_s": 0.0495}), tmp_path)
    assert res.num_packets == 50 and df.time_s.max() == pytest.approx(0.049)
    sc = make_scenario(run={"num_packets": 4000}, eves=[],
                       alice={"traffic": {"kind": "poisson", "interval_s": 2e-3}})
    _, df = _run(sc, tmp_path, "poisson")
    gaps = np.diff(np.concatenate([[0.0], df.time_s.to_numpy()]))
    assert abs(gaps.mean() / 2e-3 - 1) < 0.05
    assert abs(gaps.std() / gaps.mean() - 1) < 0.05  # exponential: CV = 1


def test_progress_callback_counts_every_packet(make_scenario, tmp_path):
    ticks = []
    res = run_scenario(make_scenario(run={"num_packets": 250}), tmp_path, progress=ticks.append)
    assert sum(ticks) == res.num_packets == 250 and ticks[0] == 100


def _markers(run_dir):
    import json

    return {int(f.stem[1:]): json.loads(f.read_text())
            for f in sorted((run_dir / "replicas").glob("r*.json"))}


def test_batch_replicas_shares_decode_calls_and_keeps_every_trace(make_scenario, tmp_path):
    """codec.batch_replicas only changes how decodes are grouped: 4 replicas of 5 packets,
    3 run together with 8 packets per decode call, equal replicas run one by one."""
    base = {"run": {"num_packets": 5, "replicas": 4}}
    one = make_scenario(**base, codec={"decode_batch_packets": 8})
    grouped = make_scenario(**base, codec={"decode_batch_packets": 8, "batch_replicas": 3})
    run_replicas(one, tmp_path / "one", run_id="x")
    res = run_replicas(grouped, tmp_path / "grouped", run_id="x")
    assert [r.replica for r in res] == [0, 1, 2, 3] and all(r.num_rows == 15 for r in res)
    a, b = (pd.read_parquet(tmp_path / d / "traces") for d in ("one", "grouped"))
    pd.testing.assert_frame_equal(a, b)
    m1, m3 = _markers(tmp_path / "one"), _markers(tmp_path / "grouped")
    assert [m1[r]["decode_calls"] for r in range(4)] == [1, 1, 1, 1]  # 5 packets each
    # replicas 0-2 share one queue: 15 packets in calls of 8 + 7; replica 3 alone
    assert [m3[r]["run_with"] for r in range(4)] == [[0, 1, 2]] * 3 + [[3]]
    assert [m3[r]["decode_calls"] for r in range(4)] == [2, 2, 2, 1]
    # a subset of replicas (what a resumed sweep runs) gives the same rows for them
    run_replicas(grouped, tmp_path / "sub", run_id="x", replicas=[3, 1])
    c = pd.read_parquet(tmp_path / "sub" / "traces")
    pd.testing.assert_frame_equal(c, a[a.replica.isin([1, 3])].reset_index(drop=True))


def test_batch_replicas_must_be_positive(make_scenario):
    with pytest.raises(ScenarioError, match=r"codec\.batch_replicas"):
        make_scenario(codec={"batch_replicas": 0})
