from pathlib import Path

import numpy as np
import pytest
import simpy
from simhelpers import BASE, merge

from semsim.simulator.errors import ScenarioError
from semsim.simulator.feedback import FeedbackChannel, ForgeConfig, Report
from semsim.simulator.scenario import parse_scenario


def test_feedback_channel_delivers_after_delay_in_order():
    env = simpy.Environment()
    got = []
    fb = FeedbackChannel(env, 0.3, lambda r, due: got.append((env.now, due, r.packet_id)))

    def bob():
        for k in range(3):
            fb.send(Report(k, env.now, float(k)))
            yield env.timeout(0.1)

    env.process(bob())
    env.run()
    assert [g[2] for g in got] == [0, 1, 2]
    np.testing.assert_allclose([g[1] for g in got], [0.3, 0.4, 0.5])
    np.testing.assert_allclose([g[0] for g in got], [0.3, 0.4, 0.5], atol=1e-11)


def test_a_forged_report_arrives_right_after_bobs():
    env = simpy.Environment()
    got = []
    cfg = ForgeConfig(bias_db=-8.0, probability=1.0)
    fb = FeedbackChannel(env, 0.1, lambda r, due: got.append((due, r)),
                         [("mallory", cfg, np.random.default_rng(0))])

    def bob():
        for k in range(3):
            fb.send(Report(k, env.now, 10.0 + k))
            yield env.timeout(1.0)

    env.process(bob())
    env.run()
    assert [(r.sender, r.forged, r.snr_est_db) for _, r in got] == [
        ("bob", False, 10.0), ("mallory", True, 2.0), ("bob", False, 11.0),
        ("mallory", True, 3.0), ("bob", False, 12.0), ("mallory", True, 4.0)]
    assert [d for d, _ in got][:2] == [0.1, 0.1]  # same delay, delivered in this order


def test_active_eve_in_the_engine(tmp_path, data_dir):
    """DiffSem link: a forging Eve makes Alice encode with Bob's SNR - 10 dB (a smaller t');
    with authenticated feedback Alice ignores her."""
    from semsim.simulator.engine import run_scenario
    from semsim.simulator.scenario import load_scenario
    from semsim.simulator.trace import read_traces

    golden = Path(__file__).resolve().parents[1] / "golden" / "diffsem.yaml"
    forge = ["eves[0].forge_feedback={bias_db: -10, probability: 1}", "run.num_packets=12"]
    out = {}
    for auth in (False, True):
        sc = load_scenario(golden, [*forge, f"alice.authenticate_feedback={str(auth).lower()}"])
        run_scenario(sc, tmp_path / str(auth), run_id="x", device="cpu")
        out[auth] = read_traces(tmp_path / str(auth)).query("role == 'bob'")
    bob_est = out[True].snr_rx_est_db.to_numpy()
    forged, honest = out[False], out[True]
    heard = forged.feedback_packet_id >= 0
    assert forged.feedback_forged[heard].all()
    assert set(forged.feedback_sender[heard]) == {"walker_north"}
    np.testing.assert_allclose(forged.snr_est_db[heard],
                               bob_est[forged.feedback_packet_id[heard]] - 10.0)
    assert not honest.feedback_forged.any() and set(honest.feedback_sender[heard]) == {"bob"}
    assert (forged.h_tprime[heard].to_numpy() <= honest.h_tprime[heard].to_numpy()).all()
    assert (forged.h_tprime[heard].to_numpy() < honest.h_tprime[heard].to_numpy()).any()


def test_forging_probability_is_per_report():
    cfg = ForgeConfig(bias_db=-3.0, probability=0.3)
    env = simpy.Environment()
    got = []
    fb = FeedbackChannel(env, 0.0, lambda r, due: got.append(r.forged),
                         [("m", cfg, np.random.default_rng(5))])
    for k in range(4000):
        fb.send(Report(k, 0.0, 0.0))
    env.run()
    assert abs(sum(got) / 4000 - 0.3) < 0.03


@pytest.mark.parametrize("patch,path", [
    ({"eves": [{"name": "m", "forge_feedback": {"bias_db": -5}}]}, "eves[0].forge_feedback"),
    ({"bob": {"forge_feedback": {"bias_db": -5}}}, "bob.forge_feedback"),
    ({"eves": [{"name": "m", "forge_feedback": {"probability": 2}}]},
     "eves[0].forge_feedback.probability"),
])
def test_bad_forgery_is_a_named_error(patch, path):
    """The reference codec ignores Alice's SNR estimate: forging for it is an error."""
    with pytest.raises(ScenarioError) as err:
        parse_scenario(merge(BASE, patch))
    assert err.value.path == path
