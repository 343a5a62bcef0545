"""Sweep backends side by side: the same DiffSem sweep (real MNIST, shipped checkpoint) run
in this process, in a local process pool of 1 and of ``--workers`` processes, and as Ray
tasks on a local Ray cluster.

Every backend is warmed the same way before it is timed: one untimed run of the same plan
on that backend (checkpoints, data and Python modules in the page cache; this process's
torch kernels initialised), then ``--repeats`` timed runs, alternated between backends,
best of each. The cold first run in this process is reported too: it is what made the old
README's pool of 2 look more than twice as fast (2.19x). The pool of 1 runs the tasks one at
a time in a fresh worker, as the pool of ``--workers`` does in parallel, so pool(N) / pool(1)
is the parallel speed-up with no difference in how a task runs. Each backend writes its own
folder; the summaries are checked equal (the backends differ only in scheduling). The Ray
rows include the local cluster's start-up (``ray.init``, once per run) and exclude it.

The README's figures come from:

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sweep.py --workers 2 --replicas 4 \\
        --duration-s 10 --repeats 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from semsim.simulator.sweep import collect, parse_axis, plan_sweep, run_sweep

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "diffsem_walk_past.yaml"


def _run(kind: str, workers: int, folder: Path, replicas: int,
         duration_s: float) -> tuple[float, float, pd.DataFrame, int]:
    """(wall s of the sweep, start-up s of its Ray cluster, summary, tasks) of one run."""
    import ray

    axes = [parse_axis("bob.estimator.kind=bias"), parse_axis("bob.estimator.bias_db=-6,0,6")]
    plan = plan_sweep(SCENARIO, axes, folder, replicas=replicas,
                      overrides=[f"run.duration_s={duration_s}"])
    kw = {"backend": "ray", "workers": workers} if kind == "ray" else {"workers": workers}
    startup = 0.0
    if kind == "ray":
        t0 = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        counts = run_sweep(plan, **kw)
        wall = time.perf_counter() - t0
    finally:
        if kind == "ray":
            ray.shutdown()
    return wall, startup, collect(plan), counts["run"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration-s", type=float, default=10.0, help="simulated seconds per run")
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per backend")
    args = ap.parse_args()
    backends = {"in-process": ("process", 1), "process pool (1)": ("process", 1),
                f"process pool ({args.workers})": ("process", args.workers),
                f"ray, local cluster ({args.workers} CPUs)": ("ray", args.workers)}
    best: dict[str, tuple[float, float]] = {}
    summaries: dict[str, pd.DataFrame] = {}
    tasks = 0
    with tempfile.TemporaryDirectory() as tmp:
        runs = iter(range(10**6))

        def once(name: str) -> tuple[float, float]:
            nonlocal tasks
            folder = Path(tmp) / f"run{next(runs)}" / "sw"
            if name == "process pool (1)":
                wall, startup, summary, tasks = _pool_of_one(folder, args)
            else:
                kind, workers = backends[name]
                wall, startup, summary, tasks = _run(kind, workers, folder, args.replicas,
                                                     args.duration_s)
            summaries[name] = summary
            return wall, startup

        cold = once("in-process")[0]  # the very first run of this process: cold caches
        for name in backends:
            if name != "in-process":
                once(name)  # warm-up of that backend, untimed
        for _ in range(args.repeats):
            for name in backends:
                wall, startup = once(name)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, startup)
    first = summaries["in-process"]
    for s in summaries.values():
        pd.testing.assert_frame_equal(s, first)  # same traces whatever the backend
    base = best["in-process"][0]
    pool1 = best["process pool (1)"][0]
    print(f"sweep: {SCENARIO.name}, 3 points x {args.replicas} replicas ({tasks} tasks), "
          f"{args.duration_s:g} s simulated each; summaries equal across backends; best of "
          f"{args.repeats} warm runs per backend")
    print(f"cold first in-process run (untimed warm-up of the others): {cold:.1f} s "
          f"({cold / base:.2f}x the warm in-process run)")
    print("| backend | wall s | speed-up vs in-process | vs pool (1) | incl. Ray start-up |")
    print("|---|---|---|---|---|")
    for name, (wall, startup) in best.items():
        total = wall + startup
        extra = f"{base / total:.2f}x ({total:.1f} s)" if startup else "-"
        print(f"| {name} | {wall:.1f} | {base / wall:.2f}x | {pool1 / wall:.2f}x | {extra} |")


def _pool_of_one(folder: Path, args) -> tuple[float, float, pd.DataFrame, int]:
    """The sweep's tasks on a process pool of one worker, with the task function the pool
    backend uses (``run_sweep`` runs ``workers`` 1 in this process instead)."""
    from concurrent.futures import ProcessPoolExecutor

    from semsim.simulator import sweep_backends
    from semsim.simulator.sweep import _tasks_to_run

    axes = [parse_axis("bob.estimator.kind=bias"), parse_axis("bob.estimator.bias_db=-6,0,6")]
    plan = plan_sweep(SCENARIO, axes, folder, replicas=args.replicas,
                      overrides=[f"run.duration_s={args.duration_s}"])
    todo, _ = _tasks_to_run(plan, None)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1) as pool:
        futures = [pool.submit(sweep_backends._run_task, plan.scenario_path,
                               plan.point_overrides(plan.points[p]),
                               str(plan.out_dir / f"p{p:03d}"), f"{plan.out_dir.name}-p{p:03d}",
                               plan.seed, rs, None) for p, rs in todo]
        for f in futures:
            f.result()
    return time.perf_counter() - t0, 0.0, collect(plan), sum(len(rs) for _, rs in todo)


if __name__ == "__main__":
    main()
