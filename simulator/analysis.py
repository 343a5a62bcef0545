"""pandas helpers for trace tables: grouped means with confidence intervals, and plots.

``summarize`` turns a trace DataFrame (``simulator.trace.read_traces``) into one row per
group (default: per receiver) with, for each numeric column, the mean and a two-sided
Student-t confidence interval over *replicas* when there are several (replicas are
independent; packets within a replica are not), else over packets (then the interval
understates the uncertainty of correlated fading and says so in ``ci_over``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from semsim.models.common.stats import mean_ci, wilson_ci

__all__ = ["DEFAULT_COLUMNS", "PREFERRED_METRICS", "default_metric", "is_proportion",
           "plot_run",
           "plot_sweep", "summarize", "sweep_plot_axes"]

#: Columns summarised by default (plus every codec metric ``m_*``), when present.
DEFAULT_COLUMNS = ("snr_true_db", "snr_est_db", "snr_mismatch_db", "fading_gain",
                   "distance_m", "capacity_bps_hz", "secrecy_capacity_bps_hz",
                   "secrecy_outage")


#: What ``semsim report`` / ``semsim sweep`` plot when no column is named, first present wins.
PREFERRED_METRICS = ("m_correct", "m_psnr_private_db", "m_psnr_db")


def default_metric(columns: Sequence[str], fallback: str | None = None) -> str | None:
    """The first of :data:`PREFERRED_METRICS` in ``columns``, else ``fallback`` when
    present, else the first codec metric (``m_*``), else None."""
    present = list(columns)
    for name in (*PREFERRED_METRICS, fallback):
        if name is not None and name in present:
            return name
    return next((c for c in present if c.startswith("m_")), None)


def _pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_path: str | Path) -> Path:
    """Lay out, write ``fig`` as PNG (creating the folder) and release it."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    _pyplot().close(fig)
    return out


def summarize(df: pd.DataFrame, by: Sequence[str] = ("node", "role"),
              columns: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Long table: one row per (group, column) with mean, ci_low, ci_high, n, ci_over.

    Columns default to :data:`DEFAULT_COLUMNS` and every ``m_*`` column present; booleans
    (e.g. ``secrecy_outage``) become probabilities. Proportions (:func:`is_proportion`) get
    a Wilson interval over the pooled packets (inside [0, 1]); for other columns, with
    several replicas each replica's mean is one sample (``ci_over = "replicas"``), with one
    every packet is (``ci_over = "packets"``).
    """
    by = list(by)
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise KeyError(f"group column(s) {missing} not in the trace; have {list(df.columns)}")
    if columns is None:
        columns = [c for c in DEFAULT_COLUMNS if c in df.columns]
        columns += [c for c in df.columns if c.startswith("m_")]
    else:
        bad = [c for c in columns if c not in df.columns]
        if bad:
            raise KeyError(f"column(s) {bad} not in the trace")
    replicas = df["replica"].nunique() if "replica" in df.columns else 1
    rows = []
    for key, group in df.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for col in columns:
            values = group[col].astype(float)
            if is_proportion(col, group[col]):  # bounded: Wilson over the pooled packets
                v = values.dropna()
                m, lo, hi = wilson_ci(float(v.sum()), len(v), level)
                n, over = len(v), "packets (Wilson)"
            else:
                if replicas > 1:
                    values = values.groupby(group["replica"]).mean()
                m, lo, hi, n = mean_ci(values.to_numpy(), level)
                over = "replicas" if replicas > 1 else "packets"
            rows.append({**dict(zip(by, key, strict=True)), "column": col, "mean": m,
                         "ci_low": lo, "ci_high": hi, "n": n, "ci_over": over})
    return pd.DataFrame(rows)


def is_proportion(column: str, values: pd.Series) -> bool:
    """A 0/1 outcome per packet (accuracy, leakage, outage): summarised as a proportion."""
    return (values.dtype == bool or column in ("m_correct", "m_leak_any")
            or column.startswith("m_correct_"))


def plot_run(df: pd.DataFrame, out_path: str | Path, metric: str | None = None,
             window: int = 20) -> Path:
    """PNG of SNR (true and Alice's estimate) and, if given, a codec metric (rolling mean
    over ``window`` packets) against time for every receiver of replica 0."""
    plt = _pyplot()
    d = df[df["replica"] == df["replica"].min()] if "replica" in df.columns else df
    panels = 2 if metric else 1
    fig, axes = plt.subplots(panels, 1, figsize=(8, 3.2 * panels), sharex=True, squeeze=False)
    ax = axes[0, 0]
    for node, g in d.groupby("node", sort=False):
        ax.plot(g["time_s"], g["snr_true_db"], lw=0.8, label=f"{node} true")
    bob = d[d["role"] == "bob"]
    ax.plot(bob["time_s"], bob["snr_est_db"], "k--", lw=0.8, label="Alice's estimate (Bob)")
    ax.set_ylabel("SNR (dB)")
    ax.legend(fontsize=7, ncol=2)
    if metric:
        ax = axes[1, 0]
        for node, g in d.groupby("node", sort=False):
            ax.plot(g["time_s"], g[metric].astype(float).rolling(window, min_periods=1).mean(),
                    lw=0.9, label=node)
        ax.set_ylabel(f"{metric} (rolling {window})")
        ax.legend(fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("time (s)")
    return _save(fig, out_path)


def sweep_plot_axes(summary: pd.DataFrame, axes: str | Sequence[str]) -> tuple[str, list[str]]:
    """(x axis, other axes that split lines) for a sweep plot: the axes that take more than
    one value in ``summary``, in order (a single-valued axis, such as a fixed estimator
    kind next to its swept bias, is left out); all single-valued -> the first axis."""
    keys = [axes] if isinstance(axes, str) else list(axes)
    varying = [k for k in keys if summary[k].nunique() > 1] or keys[:1]
    return varying[0], varying[1:]


def plot_sweep(summary: pd.DataFrame, axes: str | Sequence[str], column: str,
               out_path: str | Path, group: str = "node") -> Path:
    """PNG of ``column``'s mean (with its interval as error bars) against the first of the
    sweep ``axes`` that takes more than one value in ``summary`` (else the first), one line
    per ``group`` value and per combination of the other varying axes; ``summary`` is
    :func:`simulator.sweep.collect`'s table."""
    plt = _pyplot()
    d = summary[summary["column"] == column]
    if d.empty:
        raise KeyError(f"column {column!r} not in the sweep summary")
    x, others = sweep_plot_axes(d, axes)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, g in d.groupby([group, *others], sort=False):
        g = g.sort_values(x)
        err = np.vstack([g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]])
        label = ", ".join([str(name[0]), *(f"{k}={v}" for k, v in zip(others, name[1:],
                                                                       strict=True))])
        ax.errorbar(g[x], g["mean"], yerr=np.nan_to_num(err), marker="o", ms=3,
                    capsize=3, label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(f"{column} (mean, {d['ci_over'].iloc[0]} CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out_path)
