"""``semsim run``, ``semsim validate`` and ``semsim report`` (registered into the CLI
by ``simulator.cli``).

Light at import time: the engine (and anything heavy) is imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semsim.simulator.commands.progress import Progress

__all__ = ["DEFAULT_SCENARIO", "cmd_report", "cmd_run", "cmd_validate", "default_scenario",
           "print_run_summary", "register"]


#: the scenario ``semsim run`` / ``validate`` / ``sweep`` use when none is given
DEFAULT_SCENARIO = Path("scenarios") / "default.yaml"


def default_scenario() -> Path:
    """``scenarios/default.yaml`` of the working directory, else of this source tree."""
    here = Path.cwd() / DEFAULT_SCENARIO
    if here.is_file():
        return here
    tree = Path(__file__).resolve().parents[2] / DEFAULT_SCENARIO
    if tree.is_file():
        return tree
    from semsim.simulator.errors import ScenarioError

    raise ScenarioError("scenario", f"no scenario given and no {DEFAULT_SCENARIO} here or in "
                        f"the source tree ({tree.parent}): pass a scenario file")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", nargs="?", default=None,
                   help="scenario YAML file (default: scenarios/default.yaml, the DiffSem "
                        "mission scenario)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE",
                   help="override a scenario value (YAML syntax), e.g. --set run.seed=3 "
                        "or --set eves[0].mobility.speed_mps=2; repeatable")


def register(subparsers) -> None:
    """Add the ``run`` and ``validate`` sub-commands to ``subparsers``."""
    run = subparsers.add_parser("run", help="run a scenario; traces go to <out>/<run_id>/")
    _add_common(run)
    run.add_argument("--out", default="results", metavar="DIR",
                     help="results folder (default: results)")
    run.add_argument("--seed", type=int, default=None, metavar="N",
                     help="root seed (default: the scenario's run.seed)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                     help="codec device (default: the scenario's codec.device)")
    run.add_argument("--run-id", default=None, help="run folder name (default: "
                     "<scenario>-<content hash>, so the same command resumes); a folder "
                     "holding a run of other content is refused")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)
    val = subparsers.add_parser("validate", help="check a scenario file and print a summary")
    _add_common(val)
    val.set_defaults(func=cmd_validate)
    from semsim.simulator.commands.sweep import register_sweep

    register_sweep(subparsers, _add_common)
    rep = subparsers.add_parser("report", help="summarise a run or sweep folder: means with "
                                "confidence intervals per receiver (CSV) and a plot (PNG)")
    rep.add_argument("run_dir", help="run folder written by semsim run (results/<run_id>), "
                     "or a sweep folder written by semsim sweep (summary + sweep-<metric>.png)")
    rep.add_argument("--by", default="node,role",
                     help="comma-separated group columns (default: node,role)")
    rep.add_argument("--metric", default=None,
                     help="codec metric to plot against time (default: the first m_* column)")
    rep.add_argument("--level", type=float, default=0.95, help="confidence level (0.95)")
    rep.add_argument("--baseline", default=None, metavar="KEY.PATH=VALUE",
                     help="sweep folders: paired contrasts against this point")
    rep.set_defaults(func=cmd_report)


def _load(args):
    from semsim.simulator.scenario import load_scenario

    if args.scenario is None:
        args.scenario = str(default_scenario())
    return load_scenario(args.scenario, args.overrides)


def _summary(scenario, seed: int | None = None) -> str:
    r = scenario.run
    length = f"{r.num_packets} packets" if r.num_packets else f"{r.duration_s} s"
    return (f"{scenario.name}: 1 Bob + {len(scenario.eves)} Eves, {length}, "
            f"{r.replicas} replica(s), seed {r.seed if seed is None else seed}, "
            f"codec {scenario.codec.name}")


def _seed(value: int | None):
    """``--seed``: None or a value in 0 .. 2**63 - 1 (numpy SeedSequence entropy)."""
    from semsim.simulator.errors import ScenarioError

    if value is not None and not 0 <= value < 2**63:
        raise ScenarioError("--seed", "must be in 0 .. 2**63 - 1", value)
    return value


def _out_dir(text: str) -> Path:
    """``--out``: an existing or creatable, writable folder (else a named error)."""
    import os

    from semsim.simulator.errors import ScenarioError

    out = Path(text)
    if out.exists() and not out.is_dir():
        raise ScenarioError("--out", "exists and is not a folder", text)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError("--out", f"cannot create the folder: {exc.strerror}", text) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ScenarioError("--out", "the folder is not writable", text)
    return out


def _resume_hint() -> str:
    import shlex

    return "resume with: " + shlex.join(["semsim", *sys.argv[1:]])


def _warn(lines) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a scenario: exit 0 and a summary (warnings about traps on stderr), or exit 2
    and the named error."""
    from semsim.simulator.traps import scenario_warnings

    scenario = _load(args)
    print(f"ok: {_summary(scenario)}")
    _warn(scenario_warnings(scenario))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the replicas of a scenario not yet finished in <out>/<run_id>/ (the default id
    comes from the run's content, so rerunning the same command resumes it)."""
    from semsim.simulator.engine import run_replicas
    from semsim.simulator.names import check_name
    from semsim.simulator.run_folder import new_run_id, pending_replicas, remove_stale_temps
    from semsim.simulator.traps import scenario_warnings, snr_range_warnings, trained_snr_db

    scenario = _load(args)
    _warn(scenario_warnings(scenario))
    seed = scenario.run.seed if _seed(args.seed) is None else args.seed
    run_id = check_name(args.run_id, "--run-id") if args.run_id else new_run_id(scenario, seed)
    run_dir = _out_dir(args.out) / run_id
    todo = pending_replicas(run_dir, scenario, seed)
    remove_stale_temps(run_dir)  # temp files of writes a kill cut short
    print(f"{_summary(scenario, seed)}\nrun {run_id}: {run_dir}", flush=True)
    r = scenario.run
    if not todo:
        print(f"all {r.replicas} replica(s) already finished in {run_dir}")
        return 0
    if len(todo) < r.replicas:
        print(f"resuming: {r.replicas - len(todo)} of {r.replicas} replica(s) already finished")
    per_replica = r.num_packets or max(1, int(r.duration_s / scenario.alice.traffic.interval_s))
    try:
        with Progress(per_replica * len(todo), scenario.name, "pkt",
                      enabled=not args.no_progress) as bar:
            results = run_replicas(scenario, run_dir, seed, replicas=todo, run_id=run_id,
                                   device=args.device, progress=bar.update)
    except KeyboardInterrupt:
        left = len(pending_replicas(run_dir, scenario, seed))
        print(f"interrupted: {r.replicas - left} of {r.replicas} replica(s) finished and kept "
              f"in {run_dir}; {_resume_hint()}", file=sys.stderr)
        return 130
    rows = sum(x.num_rows for x in results)
    wall = sum(x.wall_s for x in results)
    print(f"{sum(x.num_packets for x in results)} packets, {rows} trace rows in {wall:.2f} s "
          f"({rows / max(wall, 1e-9):,.0f} receiver-packets/s)\nrun folder: {run_dir}")
    from semsim.simulator.run_folder import read_finished

    df = read_finished(run_dir)[0]
    _warn(snr_range_warnings(df, trained_snr_db(scenario)))
    print_run_summary(run_dir, df)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Print per-group means with confidence intervals over the finished replicas; write
    report/summary.csv and report/timeseries.png inside the run folder (a fresh report/)."""
    import shutil

    import pandas as pd

    from semsim.simulator.analysis import default_metric, plot_run, summarize
    from semsim.simulator.commands.report_html import write_report
    from semsim.simulator.run_folder import read_finished

    if not 0 < args.level < 1:
        print(f"error: --level must be in (0, 1) (got {args.level})", file=sys.stderr)
        return 2
    run_dir = Path(args.run_dir)
    if (run_dir / "sweep.json").is_file():
        from semsim.simulator.commands.sweep import report_sweep

        return report_sweep(args)
    df, finished, planned = read_finished(run_dir)
    by = [c for c in args.by.split(",") if c]
    try:
        table = summarize(df, by=by, level=args.level)
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2
    metrics = [c for c in df.columns if c.startswith("m_")]
    metric = args.metric or default_metric(df.columns)
    if metric is not None and metric not in df.columns:
        print(f"error: --metric {metric!r} not in the trace; metrics: {metrics}",
              file=sys.stderr)
        return 2
    out = run_dir / "report"
    shutil.rmtree(out, ignore_errors=True)  # nothing stale from an earlier report survives
    out.mkdir()
    table.to_csv(out / "means.csv", index=False)
    png = plot_run(df, out / "timeseries.png", metric)
    page = write_report(df, out, title=f"semsim run {run_dir.name}")
    wide = table.assign(value=[f"{m:.4g} [{lo:.4g}, {hi:.4g}]" for m, lo, hi in
                               zip(table["mean"], table.ci_low, table.ci_high, strict=True)])
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(wide.pivot(index="column", columns=by, values="value").to_string())
    if len(finished) < planned:
        missing = sorted(set(range(planned)) - set(finished))
        print(f"warning: {len(finished)} of {planned} replicas finished; left out (not "
              f"finished): {', '.join(f'r{r:03d}' for r in missing[:10])}"
              f"{' ...' if len(missing) > 10 else ''}", file=sys.stderr)
    print(f"{len(df)} rows, {len(finished)} of {planned} replica(s); {args.level:.0%} "
          f"intervals over {table.ci_over.iloc[0]}\nwrote {page} (figures embedded), "
          f"{out / 'summary.csv'} and {png}")
    return 0


def print_run_summary(run_dir: Path, df) -> None:
    """The per-receiver summary (accuracy, worst-case leakage naming its attacker, secrecy
    outage, with intervals) on stdout."""
    from semsim.simulator.leakage import summary_table

    table = summary_table(df)
    keep = table[table.metric.isin(["accuracy", "leakage (worst case)", "secrecy outage",
                                    "SSIM to private (worst case)", "m_psnr_db",
                                    "m_ssim_private"])]
    print("receiver      metric                        attacker   value   95 % interval")
    for r in keep.itertuples():
        print(f"{r.node:<13} {r.metric:<29} {r.attacker:<10} {r.value:6.3f}   "
              f"[{r.ci_low:.3f}, {r.ci_high:.3f}] ({r.interval})")
