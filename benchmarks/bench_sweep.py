"""Sweep backends side by side: the same DiffSem sweep (real MNIST, shipped checkpoint) run
in this process, in a local process pool and as Ray tasks on a local Ray cluster.

Each backend runs the same plan into its own folder; the traces are checked equal, so the
backends differ only in how the (point, replica) tasks are scheduled. Reported: wall time
per backend and the ratio to the in-process run. The Ray row is given with and without the
local cluster's start-up (``ray.init``), which a long sweep pays once.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sweep.py [--workers 2] [--duration-s 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from semsim.simulator.sweep import collect, parse_axis, plan_sweep, run_sweep

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "diffsem_walk_past.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration-s", type=float, default=10.0, help="simulated seconds per run")
    ap.add_argument("--replicas", type=int, default=2)
    args = ap.parse_args()
    import ray

    axes = [parse_axis("bob.estimator.kind=bias"), parse_axis("bob.estimator.bias_db=-6,0,6")]
    over = [f"run.duration_s={args.duration_s}"]
    rows, summaries = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, kw in (("in-process", {"workers": 1}),
                         (f"process pool ({args.workers})", {"workers": args.workers}),
                         (f"ray, local cluster ({args.workers} CPUs)",
                          {"backend": "ray", "workers": args.workers})):
            plan = plan_sweep(SCENARIO, axes, Path(tmp) / name.split()[0] / "sw",
                              replicas=args.replicas, overrides=over)
            startup = 0.0
            if kw.get("backend") == "ray":
                t0 = time.perf_counter()
                ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
                startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            counts = run_sweep(plan, **kw)
            wall = time.perf_counter() - t0
            if kw.get("backend") == "ray":
                ray.shutdown()
            summaries[name] = collect(plan)
            rows.append({"backend": name, "tasks": counts["run"], "wall_s": wall,
                         "startup_s": startup})
    base = rows[0]["wall_s"]
    first = next(iter(summaries.values()))
    for s in summaries.values():
        pd.testing.assert_frame_equal(s, first)  # same traces whatever the backend
    print(f"sweep: {SCENARIO.name}, 3 points x {args.replicas} replicas, "
          f"{args.duration_s:g} s simulated each; summaries equal across backends")
    print("| backend | tasks | wall s | speed-up vs in-process | incl. start-up |")
    print("|---|---|---|---|---|")
    for r in rows:
        total = r["wall_s"] + r["startup_s"]
        print(f"| {r['backend']} | {r['tasks']} | {r['wall_s']:.1f} | "
              f"{base / r['wall_s']:.2f}x | {base / total:.2f}x ({total:.1f} s) |")


if __name__ == "__main__":
    main()
