"""Monte Carlo sweeps: a scenario over the product of parameter axes x replicas, resumable.

A sweep folder ``<out>/<sweep_id>/`` holds ``sweep.json`` (scenario, base overrides, axes,
points, replicas, seed, versions, git commit), one run folder per point (``pNNN/``, a normal
run folder: ``config.yaml``, ``run.json``, ``traces/``, ``replicas/``) and, after
:func:`collect`, ``summary.csv`` / ``summary.parquet``: per point and receiver group, the
mean of every trace column with a Student-t interval over replicas.

Every point uses the same root seed, so replica r of every point sees the same random
streams (common random numbers: differences between points are not masked by different
fading draws). A replica is done when its ``replicas/rNNN.json`` and the parts it lists
exist; rerunning the sweep skips done replicas, so an interrupted sweep resumes where it
stopped. A task is a point and up to ``codec.batch_replicas`` of its replicas (run
together, sharing decode calls); tasks run in this process (``workers=1``), in a local
process pool, or as Ray tasks (``backend="ray"``: a local Ray cluster, or an existing
cluster by address). A Ray task runs in a scratch folder on whichever node it lands and
returns the files; the driver alone writes the sweep folder (replica markers last), so a
cluster needs no shared results filesystem and a failed task loses nothing already done.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from semsim.simulator.errors import ScenarioError
from semsim.simulator.run_folder import (
    check_identity,
    content_sha256,
    finished_parts,
    read_parts,
    remove_stale_temps,
    run_identity,
)
from semsim.simulator.sweep_backends import ray_session, run_local, run_ray

__all__ = ["BACKENDS", "Axis", "SweepPlan", "collect", "count_finished", "finished_point_parts",
           "load_plan", "read_parts",
           "parse_axis", "plan_sweep", "read_sweep", "run_sweep", "sweep_identity"]

BACKENDS = ("process", "ray")


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
    #: the sweep's content (every point's run identity, axes, replicas, seed); see
    #: :func:`sweep_identity`. Empty for a plan read back by :func:`load_plan`.
    identity: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def content_sha256(self) -> str:
        """Hash of :attr:`identity`: the default sweep id is derived from it, so rerunning
        the same command resumes the same folder."""
        return content_sha256(self.identity)

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


#: at most this many values on one axis (a range a:b:step included)
MAX_AXIS_VALUES = 1000


def _range(key: str, text: str) -> tuple[float | int, ...] | None:
    """``a:b:step`` -> a, a + step, ... up to b inclusive (ints when all three are), else
    None when ``text`` is not three numbers joined by ':'."""
    parts = text.split(":")
    if len(parts) != 3:
        return None
    try:
        nums = [yaml.safe_load(p) for p in parts]
    except yaml.YAMLError:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in nums):
        return None
    a, b, step = nums
    if not all(np.isfinite(float(v)) for v in nums) or not step > 0 or b < a:
        raise ScenarioError(key, "a range a:b:step needs a <= b and step > 0", text)
    count = int(np.floor((b - a) / step + 1e-9)) + 1
    if count > MAX_AXIS_VALUES:
        raise ScenarioError(key, f"a range of {count} values; at most {MAX_AXIS_VALUES}", text)
    if all(isinstance(v, int) for v in nums):
        return tuple(int(a + i * step) for i in range(count))
    return tuple(round(float(a + i * step), 12) for i in range(count))


def parse_axis(text: str) -> Axis:
    """``key.path=v1,v2,...`` (each value YAML) or ``key.path=a:b:step`` (numbers from a to
    b inclusive) -> :class:`Axis`; errors name the text."""
    if "=" not in text:
        raise ScenarioError(text, "an axis must look like key.path=v1,v2,... or a:b:step", text)
    key, values = text.split("=", 1)
    key = key.strip()
    try:
        ranged = _range(key, values.strip())
        parsed = ranged if ranged is not None else tuple(
            yaml.safe_load(v) for v in values.split(",") if v.strip())
    except yaml.YAMLError as exc:
        raise ScenarioError(key, f"axis values are not valid YAML: {exc}", values) from None
    if len(parsed) > MAX_AXIS_VALUES:
        raise ScenarioError(key, f"{len(parsed)} values; at most {MAX_AXIS_VALUES}", values)
    if not parsed:
        raise ScenarioError(key, "an axis needs at least one value", values)
    for v in parsed:
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError):
            raise ScenarioError(key, "axis values must be finite numbers, strings, booleans "
                                "or lists of them", v) from None
    if len(set(map(repr, parsed))) != len(parsed):
        raise ScenarioError(key, "axis values repeat", values)
    if key == "run.seed":
        raise ScenarioError(key, "the root seed is not an axis: every point shares it "
                            "(common random numbers); replicas give independent streams "
                            "(--replicas), --seed sets the root", values)
    return Axis(key, parsed)


def sweep_identity(plan: SweepPlan, scenarios: Sequence) -> dict:
    """What makes two sweeps the same: every point's run identity (its resolved scenario
    and checkpoints), the axes, the replicas and the root seed."""
    return {"axes": [{"key": a.key, "values": list(a.values)} for a in plan.axes],
            "replicas": plan.replicas, "seed": plan.seed,
            "points": [run_identity(sc, plan.seed) for sc in scenarios]}


def plan_sweep(scenario_path: str | Path, axes: Sequence[Axis], out_dir: str | Path, *,
               replicas: int, seed: int | None = None,
               overrides: Sequence[str] = ()) -> SweepPlan:
    """Validate every point's scenario up front (a typo fails before any run) and return
    the plan with its identity. ``seed`` None -> the scenario's ``run.seed`` (of the first
    point)."""
    from semsim.simulator.scenario import load_scenario

    if replicas < 1:
        raise ScenarioError("--replicas", "must be >= 1", replicas)
    if seed is not None and not 0 <= seed < 2**63:
        raise ScenarioError("--seed", "must be in 0 .. 2**63 - 1", seed)
    plan = SweepPlan(str(scenario_path), tuple(overrides), tuple(axes), int(replicas),
                     0 if seed is None else int(seed), Path(out_dir))
    scenarios = [load_scenario(scenario_path, plan.point_overrides(p)) for p in plan.points]
    if seed is None:
        plan = replace(plan, seed=scenarios[0].run.seed)
    return replace(plan, identity=sweep_identity(plan, scenarios))


def _write_plan(plan: SweepPlan) -> None:
    """Write ``sweep.json``, after refusing a folder that holds a sweep of other content."""
    from semsim.models.common.provenance import (
        atomic_write_text,
        command_line,
        git_state,
        package_versions,
    )

    path = plan.out_dir / "sweep.json"
    check_identity(path, plan.identity, "sweep")
    meta = {
        "scenario": plan.scenario_path, "overrides": list(plan.overrides),
        "axes": [{"key": a.key, "values": list(a.values)} for a in plan.axes],
        "points": plan.points, "replicas": plan.replicas, "seed": plan.seed,
        "command": command_line(), "git": git_state(), "versions": package_versions(),
        "content_sha256": plan.content_sha256, "content": plan.identity,
    }
    atomic_write_text(path, json.dumps(meta, indent=2, default=str))


def run_sweep(plan: SweepPlan, *, workers: int = 1, device: str | None = None,
              progress: Callable[[int], None] | None = None, backend: str = "process",
              ray_address: str | None = None, gpus_per_task: float = 0.0,
              limit_replicas: int | None = None) -> dict[str, int]:
    """Run the tasks of ``plan`` that are not done yet (of replicas below
    ``limit_replicas`` only, when given); returns {"run", "skipped"} counts.

    A task is a point and up to its ``codec.batch_replicas`` not-done replicas (run
    together, sharing decode calls; 1 by default). backend ``process``: ``workers`` 1
    runs the tasks in this process, more in a local process pool. backend ``ray``: one
    Ray task each, with 1 CPU and ``gpus_per_task`` GPUs (a fraction lets several tasks
    share a GPU); ``ray_address`` None starts a local cluster of ``workers`` CPUs (or
    reuses the one this process already joined), ``"auto"`` (the cluster of this node) or
    ``"host:port"`` joins an existing one. Every finished task is kept; the first failure
    is raised at the end as a ScenarioError naming its point.
    """
    if backend not in BACKENDS:
        raise ScenarioError("--backend", f"choose one of {', '.join(BACKENDS)}", backend)
    if workers < 1:
        raise ScenarioError("--workers", "must be >= 1", workers)
    if gpus_per_task < 0:
        raise ScenarioError("--gpus-per-task", "must be >= 0", gpus_per_task)
    if backend == "ray" and device == "cuda" and gpus_per_task == 0:
        raise ScenarioError("--gpus-per-task", "Ray hands GPUs only to tasks that ask for "
                            "them: give a share per task with --device cuda, e.g. 0.25",
                            gpus_per_task)
    # join Ray before writing anything: a bad address leaves no folder
    started_ray = backend == "ray" and ray_session(ray_address, workers)
    try:
        plan.out_dir.mkdir(parents=True, exist_ok=True)
        _write_plan(plan)
        remove_stale_temps(plan.out_dir)  # temp files of writes a kill cut short
        for p in range(len(plan.points)):
            remove_stale_temps(plan.out_dir / f"p{p:03d}")
        todo, skipped = _tasks_to_run(plan, limit_replicas)
        if progress and skipped:
            progress(skipped)
        if backend == "ray":
            run_ray(plan, todo, device=device, progress=progress,
                    gpus_per_task=gpus_per_task)
        else:
            run_local(plan, todo, workers=workers, device=device, progress=progress)
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    return {"run": sum(len(rs) for _, rs in todo), "skipped": skipped}


def count_finished(plan: SweepPlan) -> int:
    """Replicas of ``plan`` finished on disk (over every point)."""
    return sum(finished_parts(plan.out_dir / f"p{p:03d}", r) is not None
               for p, r in plan.tasks())


def _tasks_to_run(plan: SweepPlan, limit: int | None = None
                  ) -> tuple[list[tuple[int, list[int]]], int]:
    """(tasks, number of replicas already done): a task is a point and up to its
    ``codec.batch_replicas`` not-done replicas (below ``limit``), run together."""
    from semsim.simulator.scenario import load_scenario

    todo, skipped = [], 0
    wanted = plan.replicas if limit is None else min(limit, plan.replicas)
    for p, point in enumerate(plan.points):
        run_dir = plan.out_dir / f"p{p:03d}"
        left = [r for r in range(wanted) if finished_parts(run_dir, r) is None]
        skipped += wanted - len(left)
        if not left:
            continue
        k = load_scenario(plan.scenario_path, plan.point_overrides(point)).codec.batch_replicas
        todo += [(p, left[i:i + k]) for i in range(0, len(left), k)]
    return todo, skipped


def load_plan(sweep_dir: str | Path) -> SweepPlan:
    """The plan of an existing sweep folder (from its ``sweep.json``)."""
    path = Path(sweep_dir) / "sweep.json"
    if not path.is_file():
        raise FileNotFoundError(f"no sweep.json in {sweep_dir} (not a sweep folder)")
    try:
        meta = json.loads(path.read_text())
        axes = tuple(Axis(a["key"], tuple(a["values"])) for a in meta["axes"])
        return SweepPlan(meta["scenario"], tuple(meta["overrides"]), axes,
                         int(meta["replicas"]), int(meta["seed"]), Path(sweep_dir),
                         meta.get("content") or {})
    except (ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(str(path), f"damaged sweep.json ({type(exc).__name__}: {exc}); "
                            "rerun the sweep command to rewrite it") from None


def _cell(value: Any) -> Any:
    return repr(value) if isinstance(value, (list, dict)) else value


def finished_point_parts(plan: SweepPlan, point: int) -> dict[int, list[Path]]:
    """{replica: its trace parts} of the finished replicas of ``point`` (a replica still
    running, cut off mid-write or with a damaged part is left out)."""
    run_dir = plan.out_dir / f"p{point:03d}"
    return {r: parts for r in range(plan.replicas)
            if (parts := finished_parts(run_dir, r)) is not None}


def _per_point(plan: SweepPlan, fn: Callable):
    """``fn(point index, {replica: parts})`` for every point with a finished replica, each
    result prefixed with ``point`` and one column per axis key; concatenated."""
    import pandas as pd

    frames = []
    for p, point in enumerate(plan.points):
        finished = finished_point_parts(plan, p)
        if not finished:
            continue
        table = fn(p, finished)
        for key, value in reversed(point.items()):
            table.insert(0, key, _cell(value))
        table.insert(0, "point", p)
        frames.append(table)
    if not frames:
        raise FileNotFoundError(f"no finished replica in {plan.out_dir}")
    return pd.concat(frames, ignore_index=True)


#: bump when ``summarize``'s output changes, so cached point summaries are recomputed
_SUMMARY_FORMAT = 1


def _point_summary(plan: SweepPlan, point: int, finished: dict[int, list[Path]],
                   by: Sequence[str], level: float):
    """``summarize`` of one point's finished replicas, cached in ``pNNN/summary.parquet``
    under a key of (group columns, level, each finished replica's parts and sizes and its
    marker's mtime): a resume that changed nothing reads one small file per point."""
    import pandas as pd

    from semsim.models.common.provenance import atomic_write_bytes, atomic_write_text
    from semsim.simulator.analysis import summarize

    run_dir = plan.out_dir / f"p{point:03d}"
    key = {"format": _SUMMARY_FORMAT, "by": list(by), "level": level, "replicas": {
        str(r): [(run_dir / "replicas" / f"r{r:03d}.json").stat().st_mtime_ns,
                 [[f.name, f.stat().st_size] for f in parts]]
        for r, parts in finished.items()}}
    cache, key_file = run_dir / "summary.parquet", run_dir / "summary.json"
    try:
        if json.loads(key_file.read_text()) == key:
            return pd.read_parquet(cache)
    except (OSError, ValueError):
        pass  # no cache yet, or a damaged one: recompute
    table = summarize(read_parts([f for parts in finished.values() for f in parts]),
                      by=by, level=level)
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    atomic_write_bytes(cache, buf.getvalue())
    atomic_write_text(key_file, json.dumps(key))  # key last: a cut write leaves no key
    return table


def read_sweep(sweep: str | Path | SweepPlan):
    """All trace rows of a sweep's finished replicas in one DataFrame, with a ``point``
    column and one column per axis key in front (e.g. for
    ``df.groupby(["bob.estimator.bias_db", "role"]).m_correct.mean()``)."""
    plan = sweep if isinstance(sweep, SweepPlan) else load_plan(sweep)
    return _per_point(plan, lambda p, finished: read_parts(
        [f for parts in finished.values() for f in parts]))


def collect(plan: SweepPlan, by: Sequence[str] = ("node", "role"), level: float = 0.95):
    """Summary table over all points with a finished replica (columns: ``point``, one per
    axis key, the group columns, ``column``, ``mean``, ``ci_low``, ``ci_high``, ``n``,
    ``ci_over``); also written to ``summary.csv`` and ``summary.parquet`` in the sweep
    folder. Per-point summaries are cached (see :func:`_point_summary`)."""
    from semsim.models.common.provenance import atomic_write_bytes, atomic_write_text

    out = _per_point(plan, lambda p, finished: _point_summary(plan, p, finished, by, level))
    buf = io.BytesIO()
    out.to_parquet(buf, index=False)
    atomic_write_bytes(plan.out_dir / "summary.parquet", buf.getvalue())
    atomic_write_text(plan.out_dir / "summary.csv", out.to_csv(index=False))
    return out
