"""Monte Carlo sweeps: a scenario over the product of parameter axes x replicas, resumable.

A sweep folder ``<out>/<sweep_id>/`` holds ``sweep.json`` (scenario, base overrides, axes,
points, replicas, seed, versions, git commit), one run folder per point (``pNNN/``, a normal
run folder: ``config.yaml``, ``run.json``, ``traces/``, ``replicas/``) and, after
:func:`collect`, ``summary.csv`` / ``summary.parquet``: per point and receiver group, the
mean of every trace column with a Student-t interval over replicas.

Every point uses the same root seed, so replica r of every point sees the same random
streams (common random numbers: differences between points are not masked by different
fading draws). A task (point, replica) is done when its ``replicas/rNNN.json`` and the
parts it lists exist; rerunning the sweep skips done tasks, so an interrupted sweep
resumes where it stopped. Tasks run in this process (``workers=1``) or in a local process
pool.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import ScenarioError

__all__ = ["Axis", "SweepPlan", "collect", "parse_axis", "plan_sweep", "run_sweep"]


@dataclass(frozen=True)
class Axis:
    """One swept scenario key (YAML path as in ``--set``) and its values."""

    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SweepPlan:
    """Everything needed to run or resume a sweep."""

    scenario_path: str
    overrides: tuple[str, ...]
    axes: tuple[Axis, ...]
    replicas: int
    seed: int
    out_dir: Path

    @property
    def points(self) -> list[dict[str, Any]]:
        """Axis assignments, one dict per point, in product order."""
        keys = [a.key for a in self.axes]
        return [dict(zip(keys, combo, strict=True))
                for combo in itertools.product(*(a.values for a in self.axes))]

    def point_overrides(self, point: dict[str, Any]) -> list[str]:
        """Base overrides, then this point's assignments (JSON-encoded: valid YAML)."""
        return [*self.overrides, *(f"{k}={json.dumps(v)}" for k, v in point.items())]

    def tasks(self) -> list[tuple[int, int]]:
        """(point index, replica) pairs."""
        return [(p, r) for p in range(len(self.points)) for r in range(self.replicas)]


def parse_axis(text: str) -> Axis:
    """``key.path=v1,v2,...`` (each value YAML) -> :class:`Axis`; errors name the text."""
    if "=" not in text:
        raise ScenarioError(text, "an axis must look like key.path=v1,v2,...", text)
    key, values = text.split("=", 1)
    try:
        parsed = tuple(yaml.safe_load(v) for v in values.split(",") if v.strip())
    except yaml.YAMLError as exc:
        raise ScenarioError(key, f"axis values are not valid YAML: {exc}", values) from None
    if not parsed:
        raise ScenarioError(key, "an axis needs at least one value", values)
    if len(set(map(repr, parsed))) != len(parsed):
        raise ScenarioError(key, "axis values repeat", values)
    return Axis(key.strip(), parsed)


def plan_sweep(scenario_path: str | Path, axes: Sequence[Axis], out_dir: str | Path, *,
               replicas: int, seed: int | None = None,
               overrides: Sequence[str] = ()) -> SweepPlan:
    """Validate every point's scenario up front (a typo fails before any run) and return
    the plan. ``seed`` None -> the scenario's ``run.seed`` (of the first point)."""
    from simulator.scenario import load_scenario

    if replicas < 1:
        raise ScenarioError("--replicas", "must be >= 1", replicas)
    plan = SweepPlan(str(scenario_path), tuple(overrides), tuple(axes), int(replicas),
                     0 if seed is None else int(seed), Path(out_dir))
    scenarios = [load_scenario(scenario_path, plan.point_overrides(p)) for p in plan.points]
    if seed is None:
        plan = replace(plan, seed=scenarios[0].run.seed)
    return plan


def _done(run_dir: Path, replica: int) -> bool:
    marker = run_dir / "replicas" / f"r{replica:03d}.json"
    if not marker.is_file():
        return False
    try:
        parts = json.loads(marker.read_text())["parts"]
    except (ValueError, KeyError):
        return False
    return all((run_dir / "traces" / p).is_file() for p in parts)


def _run_task(scenario_path: str, overrides: list[str], run_dir: str, run_id: str, seed: int,
              replica: int, device: str | None) -> int:
    from simulator.engine import run_scenario
    from simulator.scenario import load_scenario

    scenario = load_scenario(scenario_path, overrides)
    res = run_scenario(scenario, run_dir, seed, replica, run_id=run_id, device=device)
    return res.num_rows


def _write_plan(plan: SweepPlan) -> None:
    from simulator.runinfo import atomic_write_text, command_line, git_commit, package_versions

    meta = {
        "scenario": plan.scenario_path, "overrides": list(plan.overrides),
        "axes": [{"key": a.key, "values": list(a.values)} for a in plan.axes],
        "points": plan.points, "replicas": plan.replicas, "seed": plan.seed,
        "command": command_line(), "git": git_commit(), "versions": package_versions(),
    }
    path = plan.out_dir / "sweep.json"
    if path.is_file():
        old = json.loads(path.read_text())
        keep = ("scenario", "overrides", "axes", "replicas", "seed")
        if any(old.get(k) != meta[k] for k in keep):
            raise ScenarioError(str(path), "a different sweep already lives in this folder "
                                "(scenario, overrides, axes, replicas or seed differ); "
                                "choose another --sweep-id")
    atomic_write_text(path, json.dumps(meta, indent=2, default=str))


def run_sweep(plan: SweepPlan, *, workers: int = 1, device: str | None = None,
              progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Run the tasks of ``plan`` that are not done yet; returns {"run", "skipped"} counts."""
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    _write_plan(plan)
    points = plan.points
    todo, skipped = [], 0
    for p, r in plan.tasks():
        run_dir = plan.out_dir / f"p{p:03d}"
        if _done(run_dir, r):
            skipped += 1
            if progress:
                progress(1)
            continue
        todo.append((plan.scenario_path, plan.point_overrides(points[p]), str(run_dir),
                     f"{plan.out_dir.name}-p{p:03d}", plan.seed, r, device))
    if workers <= 1:
        for task in todo:
            _run_task(*task)
            if progress:
                progress(1)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for fut in as_completed([pool.submit(_run_task, *t) for t in todo]):
                fut.result()  # re-raise a task's error here
                if progress:
                    progress(1)
    return {"run": len(todo), "skipped": skipped}


def collect(plan: SweepPlan, by: Sequence[str] = ("node", "role"), level: float = 0.95):
    """Summary table over all points (columns: ``point``, one per axis key, the group
    columns, ``column``, ``mean``, ``ci_low``, ``ci_high``, ``n``, ``ci_over``); also
    written to ``summary.csv`` and ``summary.parquet`` in the sweep folder."""
    import pandas as pd

    from simulator.analysis import summarize
    from simulator.runinfo import atomic_write_bytes, atomic_write_text
    from simulator.trace import read_traces

    frames = []
    for p, point in enumerate(plan.points):
        table = summarize(read_traces(plan.out_dir / f"p{p:03d}"), by=by, level=level)
        for key, value in reversed(point.items()):
            table.insert(0, key, value if not isinstance(value, (list, dict)) else repr(value))
        table.insert(0, "point", p)
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    buf = io.BytesIO()
    out.to_parquet(buf, index=False)
    atomic_write_bytes(plan.out_dir / "summary.parquet", buf.getvalue())
    atomic_write_text(plan.out_dir / "summary.csv", out.to_csv(index=False))
    return out
