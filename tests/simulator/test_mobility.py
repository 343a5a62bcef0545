import math

import numpy as np
import pytest

from semsim.simulator.errors import ScenarioError
from semsim.simulator.mobility import (
    ConstantVelocity,
    GaussMarkov,
    RandomWaypoint,
    Static,
    Waypoints,
)


def test_static():
    t = Static(position_m=(3.0, -4.0)).build()
    assert t.state(0.0) == t.state(123.4) == (3.0, -4.0, 0.0, 0.0)
    assert t.is_static


def test_constant_velocity_positions():
    t = ConstantVelocity(position_m=(1.0, 2.0), speed_mps=2.0, heading_deg=90.0).build()
    x, y, vx, vy = t.state(5.0)
    assert (x, y) == pytest.approx((1.0, 12.0))
    assert (vx, vy) == pytest.approx((0.0, 2.0))


def test_waypoints_stop_and_loop():
    pts = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0))
    stop = Waypoints(points_m=pts, speed_mps=2.0, mode="stop").build()
    assert stop.position(2.5) == pytest.approx((5.0, 0.0))
    assert stop.position(7.5) == pytest.approx((10.0, 5.0))
    assert stop.state(100.0) == pytest.approx((10.0, 10.0, 0.0, 0.0))
    loop = Waypoints(points_m=pts, speed_mps=2.0, mode="loop").build()
    period = (10 + 10 + math.hypot(10, 10)) / 2.0
    for t in (1.0, 6.0, 11.0):
        assert loop.position(t + 3 * period) == pytest.approx(loop.position(t))
    # halfway along the closing leg back to the start
    assert loop.position(10.0 + math.hypot(10, 10) / 4.0) == pytest.approx((5.0, 5.0))


def test_random_waypoint_stays_in_bounds_and_respects_speeds():
    cfg = RandomWaypoint(bounds_m=(-5.0, 10.0, 20.0, 30.0), speed_min_mps=1.0,
                         speed_max_mps=3.0, pause_s=2.0)
    traj = cfg.build(np.random.default_rng(3))
    times = np.linspace(0.0, 2000.0, 20001)
    s = traj.states(times)
    assert np.all((s[:, 0] >= -5.0) & (s[:, 0] <= 20.0))
    assert np.all((s[:, 1] >= 10.0) & (s[:, 1] <= 30.0))
    speed = np.hypot(s[:, 2], s[:, 3])
    moving = speed > 0
    assert moving.mean() > 0.3 and (~moving).mean() > 0.02  # it both moves and pauses
    assert speed[moving].min() >= 1.0 - 1e-9 and speed[moving].max() <= 3.0 + 1e-9
    # positions are continuous: no step longer than max speed * dt
    step = np.hypot(*np.diff(s[:, :2], axis=0).T)
    assert step.max() <= 3.0 * 0.1 + 1e-9
    # the node covers the rectangle, not one corner
    assert np.ptp(s[:, 0]) > 15 and np.ptp(s[:, 1]) > 12


def test_random_waypoint_is_reproducible_and_query_order_free():
    cfg = RandomWaypoint(bounds_m=(0.0, 0.0, 50.0, 50.0), start_m=(25.0, 25.0))
    a = cfg.build(np.random.default_rng(9))
    b = cfg.build(np.random.default_rng(9))
    late = a.state(500.0)
    assert a.state(10.0) == b.state(10.0)
    assert b.state(500.0) == late
    assert a.state(0.0)[:2] == (25.0, 25.0)


def test_gauss_markov_deterministic_limit():
    cfg = GaussMarkov(position_m=(1.0, 1.0), mean_speed_mps=2.0, mean_heading_deg=45.0,
                      speed_std_mps=0.0, heading_std_deg=0.0, alpha=0.7, update_s=0.5)
    t = cfg.build(np.random.default_rng(0))
    d = 2.0 * 10.3 / math.sqrt(2)
    assert t.position(10.3) == pytest.approx((1.0 + d, 1.0 + d))


def test_gauss_markov_memory_and_bounds():
    cfg = GaussMarkov(position_m=(0.0, 0.0), mean_speed_mps=1.5, alpha=0.9,
                      speed_std_mps=0.5, heading_std_deg=30.0, update_s=1.0,
                      bounds_m=(-20.0, -20.0, 20.0, 20.0))
    t = cfg.build(np.random.default_rng(4))
    s = t.states(np.arange(0.0, 5000.0, 0.5))
    assert np.all(np.abs(s[:, :2]) <= 20.0 + 1e-9)
    speed = np.hypot(s[:, 2], s[:, 3])
    assert 1.0 < speed.mean() < 2.0
    # velocity is correlated from one update to the next (alpha = 0.9)
    v = s[::2, 2]
    assert np.corrcoef(v[:-1], v[1:])[0, 1] > 0.5


@pytest.mark.parametrize("cfg", [
    Static(position_m=(1.0, 2.0)),
    ConstantVelocity(speed_mps=3.0, heading_deg=30.0),
    Waypoints(points_m=((0.0, 0.0), (3.0, 4.0), (0.0, 8.0)), mode="loop"),
    RandomWaypoint(pause_s=1.0),
    GaussMarkov(bounds_m=(-5.0, -5.0, 5.0, 5.0)),
])
def test_vectorised_states_equal_scalar_state(cfg):
    times = np.sort(np.random.default_rng(0).uniform(0, 100, 200))
    a, b = cfg.build(np.random.default_rng(1)), cfg.build(np.random.default_rng(1))
    np.testing.assert_allclose(a.states(times), [b.state(t) for t in times], atol=1e-12)


def test_mobility_validation():
    with pytest.raises(ScenarioError, match="speed_mps"):
        ConstantVelocity(speed_mps=-1.0)
    with pytest.raises(ScenarioError, match="bounds_m"):
        RandomWaypoint(bounds_m=(0.0, 0.0, -1.0, 5.0))
    with pytest.raises(ScenarioError, match="speed_max_mps"):
        RandomWaypoint(speed_min_mps=2.0, speed_max_mps=1.0)
