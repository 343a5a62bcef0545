"""Mobility: static, constant velocity, waypoints, random waypoint, Gauss-Markov (2-D, metres).

Each config is a frozen dataclass with ``build(rng) -> Trajectory``; a trajectory answers
``state(time_s) -> (x_m, y_m, vx_mps, vy_mps)`` at any time >= 0. Bounds: coordinates,
speeds, times and angles as in :mod:`semsim.simulator.errors`; Gauss-Markov ``update_s``
>= 1 ms; bounding rectangles at least 1 cm a side. Random models draw their
legs lazily from their own generator, so a query never changes earlier answers.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from semsim.simulator.errors import (
    MAX_ANGLE_DEG,
    MAX_COORD_M,
    MAX_SPEED_MPS,
    MAX_TIME_S,
    check,
    check_range,
)

__all__ = [
    "ConstantVelocity",
    "GaussMarkov",
    "MobilityConfig",
    "PiecewiseLinear",
    "RandomWaypoint",
    "Static",
    "Trajectory",
    "Waypoints",
    "check_xy",
]

State = tuple[float, float, float, float]


class Trajectory:
    """Position and velocity of a node as a function of time."""

    #: True when the node never moves (the engine then skips its per-event query).
    is_static: bool = False

    def state(self, time_s: float) -> State:
        """(x_m, y_m, vx_mps, vy_mps) at ``time_s``."""
        raise NotImplementedError

    def position(self, time_s: float) -> tuple[float, float]:
        """(x_m, y_m) at ``time_s``."""
        x, y, _, _ = self.state(time_s)
        return x, y

    def states(self, times_s: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`state`: (K,) times -> (K, 4) [x_m, y_m, vx_mps, vy_mps]."""
        return np.array([self.state(float(t)) for t in times_s], dtype=float).reshape(-1, 4)


class _Fixed(Trajectory):
    is_static = True

    def __init__(self, x: float, y: float) -> None:
        self._state = (float(x), float(y), 0.0, 0.0)

    def state(self, time_s: float) -> State:
        return self._state

    def states(self, times_s: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.array(self._state), (len(times_s), 4))


class _Linear(Trajectory):
    def __init__(self, x: float, y: float, vx: float, vy: float) -> None:
        self.x, self.y, self.vx, self.vy = float(x), float(y), float(vx), float(vy)

    def state(self, time_s: float) -> State:
        return (self.x + self.vx * time_s, self.y + self.vy * time_s, self.vx, self.vy)

    def states(self, times_s: np.ndarray) -> np.ndarray:
        t = np.asarray(times_s, dtype=float)
        return np.stack([self.x + self.vx * t, self.y + self.vy * t,
                         np.full_like(t, self.vx), np.full_like(t, self.vy)], axis=1)


class PiecewiseLinear(Trajectory):
    """Segments (start time, start position, velocity), extended lazily by ``extend``.

    ``period_s``: if set, the trajectory repeats with this period (no lazy extension).
    """

    def __init__(self, extend=None, period_s: float | None = None) -> None:
        self.t0: list[float] = []
        self.seg: list[State] = []  # (x0, y0, vx, vy)
        self._extend = extend
        self.period_s = period_s
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, t0: float, x0: float, y0: float, vx: float, vy: float) -> None:
        """Append a segment starting at ``t0`` (must be later than the previous one)."""
        self.t0.append(float(t0))
        self.seg.append((float(x0), float(y0), float(vx), float(vy)))

    def end_state(self, t: float) -> tuple[float, float]:
        """Position at time ``t`` of the last segment (for extenders)."""
        x0, y0, vx, vy = self.seg[-1]
        dt = t - self.t0[-1]
        return x0 + vx * dt, y0 + vy * dt

    def state(self, time_s: float) -> State:
        if time_s < 0:
            raise ValueError(f"time_s must be >= 0, got {time_s}")
        if self.period_s is not None:
            time_s = math.fmod(time_s, self.period_s)
        elif self._extend is not None:
            while self.t0[-1] <= time_s:  # ensure a later segment exists (so t is covered)
                self._extend(self)
        k = bisect.bisect_right(self.t0, time_s) - 1
        x0, y0, vx, vy = self.seg[k]
        dt = time_s - self.t0[k]
        return (x0 + vx * dt, y0 + vy * dt, vx, vy)

    def states(self, times_s: np.ndarray) -> np.ndarray:
        t = np.asarray(times_s, dtype=float)
        if t.size == 0:
            return np.empty((0, 4))
        if t.min() < 0:
            raise ValueError("times_s must be >= 0")
        if self.period_s is not None:
            t = np.fmod(t, self.period_s)
        elif self._extend is not None:
            self.state(float(t.max()))  # extend far enough
        if self._arrays is None or len(self._arrays[0]) != len(self.t0):
            self._arrays = (np.array(self.t0), np.array(self.seg))
        t0, seg = self._arrays
        k = np.searchsorted(t0, t, side="right") - 1
        dt = (t - t0[k])[:, None]
        out = seg[k].copy()
        out[:, :2] += out[:, 2:] * dt
        return out


#: shortest Gauss-Markov update interval, s (each update is one trajectory segment)
MIN_UPDATE_S = 1e-3
#: smallest side of a bounding rectangle, m (random waypoint legs inside a smaller one would
#: be too many to simulate)
MIN_SIDE_M = 0.01


def check_xy(value, field: str) -> tuple[float, float]:
    """``value`` as (x_m, y_m), each coordinate within +-MAX_COORD_M (else ScenarioError)."""
    check(len(value) == 2, field, value, "must be [x_m, y_m]")
    for i, c in enumerate(value):
        check_range(c, f"{field}[{i}]", -MAX_COORD_M, MAX_COORD_M)
    return float(value[0]), float(value[1])


def _check_bounds(bounds, field: str = "bounds_m") -> None:
    check(len(bounds) == 4, field, bounds, "must be [x_min_m, y_min_m, x_max_m, y_max_m]")
    for i, c in enumerate(bounds):
        check_range(c, f"{field}[{i}]", -MAX_COORD_M, MAX_COORD_M)
    check(bounds[2] - bounds[0] >= MIN_SIDE_M and bounds[3] - bounds[1] >= MIN_SIDE_M, field,
          bounds, f"needs x_max > x_min and y_max > y_min (by at least {MIN_SIDE_M} m)")


@dataclass(frozen=True)
class Static:
    """A node that never moves."""

    kind: Literal["static"] = "static"
    position_m: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        check_xy(self.position_m, "position_m")

    def build(self, rng: np.random.Generator | None = None) -> Trajectory:
        return _Fixed(*self.position_m)


@dataclass(frozen=True)
class ConstantVelocity:
    """Straight line from ``position_m`` at t = 0; heading 0 deg = +x, 90 deg = +y."""

    kind: Literal["constant_velocity"] = "constant_velocity"
    position_m: tuple[float, float] = (0.0, 0.0)
    speed_mps: float = 1.0
    heading_deg: float = 0.0

    def __post_init__(self) -> None:
        check_xy(self.position_m, "position_m")
        check_range(self.speed_mps, "speed_mps", 0.0, MAX_SPEED_MPS)
        check_range(self.heading_deg, "heading_deg", -MAX_ANGLE_DEG, MAX_ANGLE_DEG)

    def build(self, rng: np.random.Generator | None = None) -> Trajectory:
        a = math.radians(self.heading_deg)
        return _Linear(*self.position_m, self.speed_mps * math.cos(a),
                       self.speed_mps * math.sin(a))


@dataclass(frozen=True)
class Waypoints:
    """Piecewise-linear path through ``points_m`` at ``speed_mps``, starting at t = 0.

    mode ``stop``: stays at the last point; ``loop``: returns to the first and repeats.
    """

    kind: Literal["waypoints"] = "waypoints"
    points_m: tuple[tuple[float, float], ...] = ((0.0, 0.0), (10.0, 0.0))
    speed_mps: float = 1.0
    mode: Literal["loop", "stop"] = "stop"

    def __post_init__(self) -> None:
        check(len(self.points_m) >= 2, "points_m", self.points_m, "needs at least 2 points")
        for i, p in enumerate(self.points_m):
            check_xy(p, f"points_m[{i}]")
        check_range(self.speed_mps, "speed_mps", 0.0, MAX_SPEED_MPS, lo_open=True)

    def build(self, rng: np.random.Generator | None = None) -> Trajectory:
        pts = [tuple(map(float, p)) for p in self.points_m]
        if self.mode == "loop":
            pts.append(pts[0])
        traj = PiecewiseLinear()
        t = 0.0
        for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
            length = math.hypot(x1 - x0, y1 - y0)
            if length == 0:
                continue
            dur = length / self.speed_mps
            traj.add(t, x0, y0, (x1 - x0) / dur, (y1 - y0) / dur)
            t += dur
        if not traj.t0:  # all points equal
            return _Fixed(*pts[0])
        if self.mode == "loop":
            traj.period_s = t
        else:
            traj.add(t, pts[-1][0], pts[-1][1], 0.0, 0.0)
        return traj


@dataclass(frozen=True)
class RandomWaypoint:
    """Random waypoint in the rectangle ``bounds_m`` = [x_min, y_min, x_max, y_max].

    Each leg: destination uniform in the rectangle, speed uniform in
    [speed_min_mps, speed_max_mps], then a pause of ``pause_s``. ``start_m`` None ->
    uniform start in the rectangle.
    """

    kind: Literal["random_waypoint"] = "random_waypoint"
    bounds_m: tuple[float, float, float, float] = (0.0, 0.0, 100.0, 100.0)
    speed_min_mps: float = 0.5
    speed_max_mps: float = 1.5
    pause_s: float = 0.0
    start_m: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        _check_bounds(self.bounds_m)
        check(self.speed_min_mps > 0, "speed_min_mps", self.speed_min_mps,
              "must be > 0 (a zero minimum speed makes legs last forever)")
        check_range(self.speed_min_mps, "speed_min_mps", 0.0, MAX_SPEED_MPS, lo_open=True)
        check(self.speed_max_mps >= self.speed_min_mps, "speed_max_mps", self.speed_max_mps,
              "must be >= speed_min_mps")
        check_range(self.speed_max_mps, "speed_max_mps", 0.0, MAX_SPEED_MPS)
        check_range(self.pause_s, "pause_s", 0.0, MAX_TIME_S)
        if self.start_m is not None:
            x, y = check_xy(self.start_m, "start_m")
            b = self.bounds_m
            check(b[0] <= x <= b[2] and b[1] <= y <= b[3], "start_m", self.start_m,
                  "must lie inside bounds_m")

    def build(self, rng: np.random.Generator) -> Trajectory:
        x0, y0, x1, y1 = map(float, self.bounds_m)
        lo, hi, pause = self.speed_min_mps, self.speed_max_mps, self.pause_s

        def extend(traj: PiecewiseLinear) -> None:
            # the last segment is a rest at the previous destination; depart after the pause
            t_dep = traj.t0[-1] + pause
            px, py = traj.seg[-1][0], traj.seg[-1][1]
            u = rng.random(3)
            qx, qy = x0 + u[0] * (x1 - x0), y0 + u[1] * (y1 - y0)
            dur = math.hypot(qx - px, qy - py) / (lo + u[2] * (hi - lo))
            if dur > 0:
                traj.add(t_dep, px, py, (qx - px) / dur, (qy - py) / dur)
                traj.add(t_dep + dur, qx, qy, 0.0, 0.0)

        if self.start_m is None:
            u = rng.random(2)
            sx, sy = x0 + u[0] * (x1 - x0), y0 + u[1] * (y1 - y0)
        else:
            sx, sy = map(float, self.start_m)
        traj = PiecewiseLinear(extend=extend)
        traj.add(0.0, sx, sy, 0.0, 0.0)  # pauses ``pause_s`` at the start, then moves
        return traj


@dataclass(frozen=True)
class GaussMarkov:
    """Gauss-Markov mobility: every ``update_s`` the speed and heading are updated as
    v_n = a v_{n-1} + (1 - a) v_mean + sqrt(1 - a^2) sigma z (a = ``alpha``); the node
    moves in straight lines in between. With ``bounds_m`` it bounces off the walls.
    """

    kind: Literal["gauss_markov"] = "gauss_markov"
    position_m: tuple[float, float] = (0.0, 0.0)
    mean_speed_mps: float = 1.0
    mean_heading_deg: float = 0.0
    alpha: float = 0.8
    speed_std_mps: float = 0.3
    heading_std_deg: float = 20.0
    update_s: float = 1.0
    bounds_m: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        check_xy(self.position_m, "position_m")
        check_range(self.mean_speed_mps, "mean_speed_mps", 0.0, MAX_SPEED_MPS)
        check_range(self.mean_heading_deg, "mean_heading_deg", -MAX_ANGLE_DEG, MAX_ANGLE_DEG)
        check(0 <= self.alpha <= 1, "alpha", self.alpha, "must be in [0, 1]")
        check_range(self.speed_std_mps, "speed_std_mps", 0.0, MAX_SPEED_MPS)
        check_range(self.heading_std_deg, "heading_std_deg", 0.0, MAX_ANGLE_DEG)
        check(self.update_s > 0, "update_s", self.update_s, "must be > 0")
        check_range(self.update_s, "update_s", MIN_UPDATE_S, MAX_TIME_S)
        if self.bounds_m is not None:
            _check_bounds(self.bounds_m)
            b, (x, y) = self.bounds_m, self.position_m
            check(b[0] <= x <= b[2] and b[1] <= y <= b[3], "position_m", self.position_m,
                  "must lie inside bounds_m")

    def build(self, rng: np.random.Generator) -> Trajectory:
        a, dt, bounds = self.alpha, self.update_s, self.bounds_m
        k = math.sqrt(max(1.0 - a * a, 0.0))
        s_mean, d_mean = self.mean_speed_mps, math.radians(self.mean_heading_deg)
        s_std, d_std = self.speed_std_mps, math.radians(self.heading_std_deg)
        memory = [s_mean, d_mean]  # speed, heading of the previous step

        def step(traj: PiecewiseLinear, t: float, x: float, y: float) -> None:
            z = rng.standard_normal(2)
            speed = max(0.0, a * memory[0] + (1 - a) * s_mean + k * s_std * z[0])
            heading = a * memory[1] + (1 - a) * d_mean + k * d_std * z[1]
            vx, vy = speed * math.cos(heading), speed * math.sin(heading)
            if bounds is not None:  # bounce: flip the component that would leave the box
                if not bounds[0] <= x + vx * dt <= bounds[2]:
                    vx = -vx
                if not bounds[1] <= y + vy * dt <= bounds[3]:
                    vy = -vy
                heading = math.atan2(vy, vx)
                nx = min(max(x + vx * dt, bounds[0]), bounds[2])
                ny = min(max(y + vy * dt, bounds[1]), bounds[3])
                vx, vy = (nx - x) / dt, (ny - y) / dt
            memory[0], memory[1] = speed, heading
            traj.add(t, x, y, vx, vy)

        def extend(traj: PiecewiseLinear) -> None:
            t = traj.t0[-1] + dt
            step(traj, t, *traj.end_state(t))

        traj = PiecewiseLinear(extend=extend)
        step(traj, 0.0, *map(float, self.position_m))
        return traj


MobilityConfig = Static | ConstantVelocity | Waypoints | RandomWaypoint | GaussMarkov
