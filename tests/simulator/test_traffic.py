import numpy as np
import pytest

from semsim.simulator.traffic import TrafficConfig, TrafficSchedule


def test_periodic_schedule_is_exact_and_stops():
    s = TrafficSchedule(TrafficConfig(interval_s=0.1, start_s=0.05), None, 5, None, chunk=2)
    np.testing.assert_allclose(s.times(0, 10), [0.05, 0.15, 0.25, 0.35, 0.45])
    assert s.time_of(4) == pytest.approx(0.45) and s.time_of(5) is None
    d = TrafficSchedule(TrafficConfig(interval_s=0.1), None, None, 1.0, chunk=3)
    assert len(d.times(0, 100)) == 11 and d.time_of(11) is None


def test_poisson_schedule_independent_of_chunk_size():
    cfg = TrafficConfig(kind="poisson", interval_s=0.5)
    a = TrafficSchedule(cfg, np.random.default_rng(4), 1000, None, chunk=7).times(0, 1000)
    b = TrafficSchedule(cfg, np.random.default_rng(4), 1000, None, chunk=1024).times(0, 1000)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.diff(a) > 0) and abs(np.diff(a).mean() / 0.5 - 1) < 0.1
