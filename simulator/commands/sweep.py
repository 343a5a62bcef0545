"""``semsim sweep`` and ``semsim report`` on a sweep folder: plan, run (optionally until a
target interval width), collect, paired contrasts against a baseline point, plots.

The work is in :mod:`semsim.simulator.sweep` and :mod:`semsim.simulator.sweep_stats`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semsim.simulator.commands.progress import Progress
from semsim.simulator.commands.sim import _out_dir, _resume_hint, _seed, default_scenario

__all__ = ["cmd_sweep", "register_sweep", "report_sweep"]


def register_sweep(subparsers, add_common) -> None:
    """Add the ``sweep`` sub-command."""
    sw = subparsers.add_parser("sweep", help="Monte Carlo sweep: scenario x axes x replicas, "
                               "resumable; summary with confidence intervals")
    add_common(sw)
    sw.add_argument("--axis", action="append", default=[], metavar="KEY.PATH=V1,V2,...",
                    help="swept scenario key and its values (YAML each); repeatable: the "
                         "points are the product, e.g. --axis bob.estimator.bias_db=-6,0,6")
    sw.add_argument("--replicas", type=int, default=3,
                    help="replicas per point (default 3; with --target-ci: to start with)")
    sw.add_argument("--baseline", default=None, metavar="KEY.PATH=VALUE",
                    help="reference point for paired contrasts (one axis at one of its "
                         "values): per-replica differences with intervals, contrasts.csv")
    sw.add_argument("--target-ci", type=float, default=None, metavar="W",
                    help="add replicas (doubling) until every proportion's interval "
                         "half-width is <= W (or --plot's column's, when given)")
    sw.add_argument("--max-replicas", type=int, default=None, metavar="N",
                    help="with --target-ci: never more replicas per point (default 8 x "
                         "--replicas); the sweep is planned with N replicas")
    sw.add_argument("--seed", type=int, default=None, help="root seed (default: run.seed)")
    sw.add_argument("--workers", type=int, default=1,
                    help="local worker processes (ray: CPUs of the local cluster it starts)")
    sw.add_argument("--backend", choices=("process", "ray"), default="process",
                    help="process: this process or a local pool (default); ray: one Ray "
                         "task per replica (needs pip install -e '.[ray]')")
    sw.add_argument("--ray-address", default=None, metavar="ADDR",
                    help="join an existing Ray cluster (auto: the one this node is part "
                         "of; or HOST:PORT); default: start a local one")
    sw.add_argument("--gpus-per-task", type=float, default=0.0, metavar="G",
                    help="GPUs per Ray task (a fraction shares a GPU; default 0)")
    sw.add_argument("--out", default="results", metavar="DIR")
    sw.add_argument("--sweep-id", default=None, help="sweep folder name (default: "
                    "<scenario>-sweep-<content hash>, so the same command resumes); an "
                    "existing one with the same content is resumed, another is refused")
    sw.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    sw.add_argument("--plot", default=None, metavar="COLUMN",
                    help="trace column to plot against the first axis (default: a codec "
                         "metric, else secrecy_capacity_bps_hz)")
    sw.add_argument("--no-progress", action="store_true")
    sw.set_defaults(func=cmd_sweep)


def report_sweep(args: argparse.Namespace) -> int:
    """``semsim report`` on a sweep folder: re-collect the summary over the finished
    replicas (of a sweep still running or interrupted, too), re-plot it, and with
    ``--baseline`` recompute the paired contrasts."""
    from semsim.simulator.sweep import collect, load_plan

    plan = load_plan(args.run_dir)
    by = [c for c in args.by.split(",") if c]
    try:
        summary = collect(plan, by=by, level=args.level)
    except (FileNotFoundError, KeyError) as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2
    done = summary["point"].nunique()
    rc = _show_sweep(plan, summary, args.metric, by[0], "--metric")
    if rc == 0:
        print(f"{done} of {len(plan.points)} point(s) have finished replicas")
        if getattr(args, "baseline", None):
            _show_contrasts(plan, args.baseline, args.metric, by, args.level)
    return rc


def _show_contrasts(plan, baseline: str, metric: str | None, by, level: float = 0.95) -> None:
    """Paired contrasts against ``baseline`` (``key=value``): contrasts.csv, printed."""
    from semsim.simulator.sweep_stats import paired_contrasts, parse_baseline

    table = paired_contrasts(plan, parse_baseline(baseline, plan), by=by, level=level)
    if table.empty:
        print("no paired contrast yet (the baseline point has no finished replica)")
        return
    shown = table if metric is None else table[table["column"] == metric]
    if metric is None:
        shown = shown[shown["ci_over"].notna() & shown["column"].str.startswith(
            ("m_correct", "m_leak_any", "secrecy_outage"))]
    cols = [c for c in shown.columns if c not in ("baseline",)]
    print(f"paired contrasts against {baseline} (point minus baseline, same random numbers):")
    print(shown[cols].to_string(index=False, float_format="%.4g"))
    print(f"contrasts: {plan.out_dir / 'contrasts.csv'}")


def _show_sweep(plan, summary, metric: str | None, group: str, flag: str) -> int:
    """Print ``metric``'s rows of a sweep summary and plot it to ``sweep-<metric>.png`` (one
    figure per metric: plotting another never overwrites it)."""
    from semsim.simulator.analysis import default_metric, plot_sweep

    cols = set(summary["column"])
    column = metric or default_metric(summary["column"].unique(),
                                      fallback="secrecy_capacity_bps_hz") or sorted(cols)[0]
    if column not in cols:
        print(f"error: {flag} {column!r} not in the traces; have {sorted(cols)}",
              file=sys.stderr)
        return 2
    png = plot_sweep(summary, [a.key for a in plan.axes], column,
                     plan.out_dir / f"sweep-{column}.png", group=group)
    view = summary[summary["column"] == column]
    print(view.drop(columns=["column"]).to_string(index=False, float_format="%.4g"))
    print(f"sweep folder: {plan.out_dir} (summary.csv, summary.parquet, {png.name})")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Plan (validating every point), run what is not done, collect, plot. The default
    sweep id comes from the sweep's content, so rerunning the same command resumes it."""
    from dataclasses import replace

    from semsim.simulator.errors import ScenarioError
    from semsim.simulator.names import check_name
    from semsim.simulator.sweep import (
        collect,
        count_finished,
        parse_axis,
        plan_sweep,
        run_sweep,
    )

    if not args.axis:
        raise ScenarioError("--axis", "give at least one axis (key.path=v1,v2,...)")
    if args.backend != "ray" and (args.ray_address or args.gpus_per_task):
        raise ScenarioError("--backend", "--ray-address / --gpus-per-task need "
                            "--backend ray", args.backend)
    axes = [parse_axis(a) for a in args.axis]
    out = _out_dir(args.out)
    if args.scenario is None:
        args.scenario = str(default_scenario())
    planned = args.replicas
    if args.target_ci is not None:  # run_to_target checks the target before any run
        planned = args.max_replicas or 8 * args.replicas
        if planned < args.replicas:
            raise ScenarioError("--max-replicas", f"must be >= --replicas ({args.replicas})",
                                planned)
    elif args.max_replicas is not None:
        raise ScenarioError("--max-replicas", "only with --target-ci", args.max_replicas)
    plan = plan_sweep(args.scenario, axes, out, replicas=planned, seed=_seed(args.seed),
                      overrides=args.overrides)
    if args.baseline is not None:
        from semsim.simulator.sweep_stats import parse_baseline

        parse_baseline(args.baseline, plan)  # a bad baseline fails before any run
    sweep_id = (check_name(args.sweep_id, "--sweep-id") if args.sweep_id
                else f"{Path(args.scenario).stem}-sweep-{plan.content_sha256[:10]}")
    plan = replace(plan, out_dir=out / sweep_id)
    total = len(plan.tasks())
    print(f"sweep {sweep_id}: {len(plan.points)} point(s) x {plan.replicas} replica(s) -> "
          f"{plan.out_dir}", flush=True)

    def run(p, limit=None):
        return run_sweep(p, workers=args.workers, device=args.device, progress=bar.update,
                         backend=args.backend, ray_address=args.ray_address,
                         gpus_per_task=args.gpus_per_task, limit_replicas=limit)

    try:
        with Progress(total, sweep_id, "replicas", enabled=not args.no_progress) as bar:
            if args.target_ci is None:
                counts = run(plan)
            else:
                from semsim.simulator.sweep_stats import run_to_target

                stop = run_to_target(plan, start=args.replicas, target=args.target_ci,
                                     columns=[args.plot] if args.plot else None, run=run)
                print(f"stopped at {stop['rounds'][-1]['replicas']} replica(s) per point: "
                      + ("target reached" if stop["reached"] else
                         f"--max-replicas {plan.replicas} reached first"), flush=True)
    except KeyboardInterrupt:
        print(f"interrupted: {count_finished(plan)} of {total} replica(s) finished and kept in "
              f"{plan.out_dir}; {_resume_hint()}", file=sys.stderr, flush=True)
        return 130
    summary = collect(plan)
    if args.target_ci is None:
        print(f"{len(plan.points)} point(s) x {plan.replicas} replica(s): {counts['run']} run, "
              f"{counts['skipped']} already done")
    rc = _show_sweep(plan, summary, args.plot, "node", "--plot")
    if rc == 0 and args.baseline is not None:
        _show_contrasts(plan, args.baseline, args.plot, ["node", "role"])
    return rc
