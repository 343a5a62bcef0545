"""``semsim map SCENARIO --x a:b:n --y c:d:m``: a spatial leakage map (heatmaps + table).

The grid run is a normal run folder (``<out>/<scenario>-map-<content hash>/``, resumable),
with ``map/cells.parquet`` and one heatmap PNG per metric (Alice and Bob marked, colour bar
with units) under it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["cmd_map", "register"]

#: metric column -> colour-bar label (with units) and colour range
_METRICS = {
    "leakage": ("leakage: worst-case attacker accuracy (proportion)", (0.0, 1.0)),
    "mean_snr_db": ("Eve's mean SNR (dB)", None),
    "secrecy_capacity_bps_hz": ("mean secrecy capacity (bit/s/Hz)", None),
    "secrecy_outage": ("secrecy-outage probability", (0.0, 1.0)),
    "ssim_private": ("Eve's SSIM to the private image", (0.0, 1.0)),
    "ssim_host": ("Eve's SSIM to the host image", (0.0, 1.0)),
}


def register(subparsers) -> None:
    """Add ``semsim map``."""
    p = subparsers.add_parser("map", help="spatial leakage map: static Eves on a grid, one "
                              "run; heatmaps (PNG) and a per-cell table (Parquet)")
    p.add_argument("scenario", help="scenario YAML (its Eves are replaced by the grid)")
    p.add_argument("--x", required=True, metavar="A:B:N", help="x cell centres (m)")
    p.add_argument("--y", required=True, metavar="C:D:M", help="y cell centres (m)")
    p.add_argument("--replicas", type=int, default=1, help="replicas (default 1)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE", help="override a scenario value; repeatable")
    p.add_argument("--out", default="results", metavar="DIR")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_map)


def _heatmap(cells, metric, label, vrange, xs, ys, scenario, out: Path) -> Path:
    import numpy as np

    from semsim.simulator.analysis import _pyplot, _save

    plt = _pyplot()
    grid = cells[metric].to_numpy().reshape(len(ys), len(xs))
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    dx = (xs[1] - xs[0]) / 2 if len(xs) > 1 else 0.5
    dy = (ys[1] - ys[0]) / 2 if len(ys) > 1 else 0.5
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="inferno",
                   extent=(xs[0] - dx, xs[-1] + dx, ys[0] - dy, ys[-1] + dy),
                   vmin=vrange[0] if vrange else None, vmax=vrange[1] if vrange else None)
    fig.colorbar(im, ax=ax, label=label)
    a = scenario.alice.mobility.build(np.random.default_rng(0)).states(np.zeros(1))[0]
    b = scenario.bob.mobility.build(np.random.default_rng(0)).states(np.zeros(1))[0]
    ax.plot(a[0], a[1], "c^", ms=11, mec="k", label="Alice")
    ax.plot(b[0], b[1], "gs", ms=10, mec="k", label="Bob (t = 0)")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, out)


def cmd_map(args: argparse.Namespace) -> int:
    """Run the grid scenario (resuming a finished or partial one), then tabulate and plot."""
    import dataclasses
    import io

    from semsim.models.common.provenance import atomic_write_bytes
    from semsim.simulator.commands.progress import Progress
    from semsim.simulator.commands.sim import _out_dir
    from semsim.simulator.engine import run_replicas
    from semsim.simulator.errors import ScenarioError
    from semsim.simulator.leakage_map import cell_table, grid_axis, grid_scenario
    from semsim.simulator.run_folder import new_run_id, pending_replicas, read_finished
    from semsim.simulator.scenario import load_scenario

    xs, ys = grid_axis(args.x, "--x"), grid_axis(args.y, "--y")
    if args.replicas < 1:
        raise ScenarioError("--replicas", "must be >= 1", args.replicas)
    base = load_scenario(args.scenario, [*args.overrides, f"run.replicas={args.replicas}"])
    scenario = grid_scenario(base, xs, ys)
    scenario = dataclasses.replace(scenario, name=f"{base.name}-map")
    seed = scenario.run.seed
    run_dir = _out_dir(args.out) / new_run_id(scenario, seed)
    todo = pending_replicas(run_dir, scenario, seed)
    print(f"map {len(xs)} x {len(ys)} = {len(xs) * len(ys)} cells, {args.replicas} "
          f"replica(s) -> {run_dir}", flush=True)
    r = scenario.run
    per = r.num_packets or max(1, int(r.duration_s / scenario.alice.traffic.interval_s))
    with Progress(per * len(todo), "map", "pkt", enabled=not args.no_progress) as bar:
        run_replicas(scenario, run_dir, seed, replicas=todo, device=args.device,
                     progress=bar.update)
    df = read_finished(run_dir)[0]
    cells, worst = cell_table(df)
    out = run_dir / "map"
    out.mkdir(exist_ok=True)
    buf = io.BytesIO()
    cells.to_parquet(buf, index=False)
    atomic_write_bytes(out / "cells.parquet", buf.getvalue())
    pngs = [_heatmap(cells, m, label + (f" [{worst}]" if m == "leakage" and worst else ""),
                     rng, xs, ys, scenario, out / f"{m}.png")
            for m, (label, rng) in _METRICS.items() if m in cells]
    print(f"wrote {out / 'cells.parquet'} and {', '.join(p.name for p in pngs)}")
    if "leakage" in cells:
        top = cells.loc[cells.leakage.idxmax()]
        print(f"highest leakage {top.leakage:.3f} [{top.leakage_ci_low:.3f}, "
              f"{top.leakage_ci_high:.3f}] at ({top.x_m:.1f}, {top.y_m:.1f}) m "
              f"(attacker {worst})", file=sys.stdout)
    return 0
