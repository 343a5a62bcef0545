import numpy as np
import pandas as pd
import pytest

from semsim.models.common.seeds import stream
from semsim.simulator.engine import run_replicas, run_scenario
from semsim.simulator.trace import read_traces

MOVING = {"eves": [{"name": "rw", "mobility": {"kind": "random_waypoint",
                                               "bounds_m": [0, 0, 60, 60]}},
                   {"name": "gm", "mobility": {"kind": "gauss_markov"}}],
          "alice": {"traffic": {"kind": "poisson"}},
          "propagation": {"shadowing_std_db": 4.0}}


def _trace(make_scenario, path, seed, replica=0):
    run_scenario(make_scenario(run={"num_packets": 200}, **MOVING), path, seed, replica,
                 run_id="det")
    return read_traces(path)


def test_same_seed_identical_tables(make_scenario, tmp_path):
    a = _trace(make_scenario, tmp_path / "a", 5)
    b = _trace(make_scenario, tmp_path / "b", 5)
    pd.testing.assert_frame_equal(a, b)


def test_different_seeds_and_replicas_differ(make_scenario, tmp_path):
    a = _trace(make_scenario, tmp_path / "a", 5)
    b = _trace(make_scenario, tmp_path / "b", 6)
    c = _trace(make_scenario, tmp_path / "c", 5, replica=1)
    for other in (b, c):
        assert not np.allclose(a.snr_true_db, other.snr_true_db)
        assert not np.allclose(a.time_s, other.time_s)  # Poisson arrivals differ too
        assert not np.allclose(a.m_mse, other.m_mse)


def test_run_replicas_writes_each_replica(make_scenario, tmp_path):
    sc = make_scenario(run={"num_packets": 20, "replicas": 3})
    results = run_replicas(sc, tmp_path)
    df = read_traces(tmp_path)
    assert [r.replica for r in results] == [0, 1, 2]
    assert df.groupby("replica").size().to_dict() == {0: 60, 1: 60, 2: 60}


def test_streams_are_keyed_by_name_not_order():
    a = stream(1, 0, "bob", "channel").standard_normal(4)
    stream(1, 0, "eve7", "channel").standard_normal(4)
    b = stream(1, 0, "bob", "channel").standard_normal(4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, stream(1, 0, "bob", "noise").standard_normal(4))
    assert not np.allclose(a, stream(1, 1, "bob", "channel").standard_normal(4))
    assert not np.allclose(a, stream(2, 0, "bob", "channel").standard_normal(4))


@pytest.mark.parametrize("seed", [0, 123456789])
def test_seed_recorded_in_trace(make_scenario, tmp_path, seed):
    run_scenario(make_scenario(run={"num_packets": 3}), tmp_path, seed)
    assert (read_traces(tmp_path).seed == seed).all()


def test_stream_keys_never_collide():
    """eve36456 and eve90383 had the same 32-bit name hash (identical fading); the whole
    name is in the key now, and name boundaries count (("ab", "c") is not ("a", "bc"))."""
    a = stream(1, 0, "eve36456", "channel").standard_normal(4)
    b = stream(1, 0, "eve90383", "channel").standard_normal(4)
    assert not np.allclose(a, b)
    assert not np.allclose(stream(1, 0, "ab", "c").standard_normal(4),
                           stream(1, 0, "a", "bc").standard_normal(4))
