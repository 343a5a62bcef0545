"""Sweep statistics: paired contrasts against a baseline point, and sequential stopping.

Every point of a sweep uses the same root seed, so replica r of every point sees the same
random streams (the same source images, fading and estimator noise where the swept key
leaves them alone): differences between points are best read *paired*. For a point p and
its baseline b (the point with the baseline key at the baseline value and every other axis
as at p), per receiver and metric column:

- with >= 2 replicas finished at both: the per-replica difference of means,
  d_r = mean_p,r - mean_b,r, and its Student-t interval over replicas (``replicas,
  paired``);
- with one: the per-packet difference (packets aligned by ``packet_id``) and a
  moving-block bootstrap interval (packets are correlated; ``packets, paired``).

Sequential stopping (:func:`run_to_target`, like Sionna's ``sim_ber`` stopping rule): run
``start`` replicas per point, then grow (doubling, at most ``max_replicas``) until the
interval half-width of every reported metric is at most ``target``. The sweep is planned
with ``max_replicas`` replicas, so its identity and folder do not depend on when it
stopped, and rerunning the same command resumes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from semsim.models.common.stats import block_bootstrap_ci, mean_ci
from semsim.simulator.analysis import DEFAULT_COLUMNS
from semsim.simulator.errors import ScenarioError
from semsim.simulator.sweep import (
    SweepPlan,
    collect,
    finished_point_parts,
    read_parts,
    run_sweep,
)

__all__ = ["baseline_partner", "half_widths", "paired_contrasts", "parse_baseline",
           "run_to_target"]


def parse_baseline(text: str, plan: SweepPlan) -> tuple[str, Any]:
    """``key=value`` (value YAML) -> (key, value); the key must be an axis of ``plan`` and
    the value one of its values, else a ScenarioError naming ``--baseline``."""
    import yaml

    if "=" not in text:
        raise ScenarioError("--baseline", "use key.path=value (a swept key and one of its "
                            "values)", text)
    key, raw = (s.strip() for s in text.split("=", 1))
    axes = {a.key: a.values for a in plan.axes}
    if key not in axes:
        raise ScenarioError("--baseline", f"{key!r} is not an axis of this sweep (axes: "
                            f"{', '.join(axes)})", text)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    match = [v for v in axes[key] if v == value or repr(v) == repr(value)]
    if not match:
        raise ScenarioError("--baseline", f"{value!r} is not a value of axis {key} "
                            f"({', '.join(map(repr, axes[key]))})", text)
    return key, match[0]


def baseline_partner(plan: SweepPlan, point: int, key: str, value: Any) -> int:
    """Index of the point equal to ``point`` but with ``key`` at ``value``."""
    want = {**plan.points[point], key: value}
    return plan.points.index(want)


def _columns(df: pd.DataFrame, columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return [c for c in columns if c in df.columns]
    return ([c for c in DEFAULT_COLUMNS if c in df.columns]
            + [c for c in df.columns if c.startswith("m_")])


def _contrast(p_rows: pd.DataFrame, b_rows: pd.DataFrame, col: str, level: float):
    common = sorted(set(p_rows.replica) & set(b_rows.replica))
    if len(common) >= 2:
        mp = p_rows.groupby("replica")[col].mean().loc[common]
        mb = b_rows.groupby("replica")[col].mean().loc[common]
        return (*mean_ci((mp - mb).to_numpy(), level), "replicas, paired")
    r = common[0]
    a = p_rows[p_rows.replica == r].set_index("packet_id")[col]
    b = b_rows[b_rows.replica == r].set_index("packet_id")[col]
    both = a.index.intersection(b.index)
    d = (a.loc[both] - b.loc[both]).to_numpy(dtype=float)
    return (*block_bootstrap_ci(d, level), "packets, paired")


def paired_contrasts(plan: SweepPlan, baseline: tuple[str, Any],
                     by: Sequence[str] = ("node", "role"),
                     columns: Sequence[str] | None = None, level: float = 0.95
                     ) -> pd.DataFrame:
    """One row per (point other than its baseline, group, column): ``point``, the axis
    values, the group columns, ``column``, ``difference`` (point minus baseline),
    ``ci_low``, ``ci_high``, ``n`` and ``ci_over``; written to ``contrasts.csv`` and
    ``contrasts.parquet`` in the sweep folder."""
    from semsim.models.common.provenance import atomic_write_text

    key, value = baseline
    frames: dict[int, pd.DataFrame] = {}

    def rows_of(p: int) -> pd.DataFrame | None:
        if p not in frames:
            finished = finished_point_parts(plan, p)
            frames[p] = (read_parts([f for parts in finished.values() for f in parts])
                         if finished else None)
        return frames[p]

    out = []
    for p, point in enumerate(plan.points):
        b = baseline_partner(plan, p, key, value)
        if b == p or rows_of(p) is None or rows_of(b) is None:
            continue
        dp, db = rows_of(p), rows_of(b)
        if not set(dp.replica) & set(db.replica):
            continue
        cols = [c for c in _columns(dp, columns)
                if np.issubdtype(dp[c].dtype, np.number) or dp[c].dtype == bool]
        keep = ["replica", "packet_id", *cols]
        as_float = dict.fromkeys(cols, float)  # booleans (outage) as proportions
        for group, g in dp.groupby(list(by), sort=False):
            group = group if isinstance(group, tuple) else (group,)
            mask = np.logical_and.reduce([db[c] == v for c, v in zip(by, group, strict=True)])
            ga, gb = g[keep].astype(as_float), db.loc[mask, keep].astype(as_float)
            for col in cols:
                if ga[col].isna().all() or gb[col].isna().all():
                    continue
                m, lo, hi, n, over = _contrast(ga, gb, col, level)
                out.append({"point": p, **{k: repr(v) if isinstance(v, (list, dict)) else v
                                           for k, v in point.items()},
                            **dict(zip(by, group, strict=True)), "column": col,
                            "difference": m, "ci_low": lo, "ci_high": hi, "n": n,
                            "ci_over": over, "baseline": f"{key}={value!r}"})
    table = pd.DataFrame(out)
    atomic_write_text(plan.out_dir / "contrasts.csv", table.to_csv(index=False))
    table.to_parquet(plan.out_dir / "contrasts.parquet", index=False)
    return table


def half_widths(summary: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.Series:
    """Interval half-width per summary row of the reported metrics: ``columns``, else the
    proportions (accuracy, leakage per attacker, outage); NaN rows (too few replicas) are
    infinitely wide."""
    if columns is None:  # the proportions: their intervals are Wilson's
        rows = summary[summary["ci_over"].astype(str).str.startswith("packets (Wilson")]
    else:
        rows = summary[summary["column"].isin(list(columns))]
    return ((rows.ci_high - rows.ci_low) / 2).fillna(np.inf)


def run_to_target(plan: SweepPlan, *, start: int, target: float,
                  columns: Sequence[str] | None = None,
                  run: Callable[[SweepPlan, int], Any] | None = None,
                  log: Callable[[str], None] = print) -> dict:
    """Run ``start`` replicas per point, then double (up to ``plan.replicas``) until every
    reported half-width (:func:`half_widths`) is <= ``target``; returns (and writes to
    ``stopping.json``) the rounds with their replicas and widest half-width."""
    from semsim.models.common.provenance import atomic_write_text

    if not target > 0:
        raise ScenarioError("--target-ci", "must be > 0 (the interval half-width to reach)",
                            target)
    if not 1 <= start <= plan.replicas:
        raise ScenarioError("--replicas", f"the starting replicas must be in 1 .. "
                            f"--max-replicas ({plan.replicas})", start)
    run = run or (lambda p, k: run_sweep(p, limit_replicas=k))
    rounds, k = [], start
    while True:
        run(plan, k)
        widest = float(half_widths(collect(plan), columns).max())
        rounds.append({"replicas": k, "widest_half_width": widest})
        log(f"{k} replica(s) per point: widest half-width {widest:.4g} (target {target:g})")
        if widest <= target or k >= plan.replicas:
            break
        k = min(2 * k, plan.replicas)
    result = {"target": target, "max_replicas": plan.replicas, "rounds": rounds,
              "reached": rounds[-1]["widest_half_width"] <= target}
    atomic_write_text(plan.out_dir / "stopping.json", json.dumps(result, indent=2))
    return result
