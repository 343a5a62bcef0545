"""``semsim report RUN_DIR``: one self-contained ``report.html`` (figures embedded as PNG
data) and the PNGs beside it, for a researcher asking where, when and how much an
eavesdropper learns.

Figures: the trajectories coloured by leakage (Alice and Bob marked); SNR over time per
node; Bob's accuracy and each Eve's worst-case leakage over time (windows, Wilson
intervals); leakage against Eve SNR and against distance (equal-count bins, Wilson);
leakage against secrecy capacity. Table: :func:`semsim.simulator.leakage.summary_table`.
Codecs without a leakage column (reference, stego) get the SNR figures and the table.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from semsim.models.common.stats import wilson_ci
from semsim.simulator.analysis import _pyplot, _save
from semsim.simulator.leakage import (
    attacker_columns,
    binned_leakage,
    summary_table,
    worst_attacker,
)

__all__ = ["write_report"]


def _leak_column(df: pd.DataFrame, attacker: str) -> tuple[str | None, str]:
    attackers = attacker_columns(df.columns, attacker)
    adv = df[df.role != "bob"]
    worst = worst_attacker(adv, attackers) if attackers and len(adv) else None
    return (worst or (None, ""))


def _err(p, lo, hi) -> list[np.ndarray]:
    """Error-bar lengths below and above (never negative from rounding at 0 or 1)."""
    p, lo, hi = (np.asarray(v, dtype=float) for v in (p, lo, hi))
    return [np.maximum(p - lo, 0.0), np.maximum(hi - p, 0.0)]


def _trajectories(df, col, out):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    eves = df[df.role == "eve"]
    if col is not None and len(eves):
        sc = ax.scatter(eves.rx_x_m, eves.rx_y_m, c=eves[col].astype(float)
                        .groupby(eves.node).transform(lambda v: v.rolling(20, 1).mean()),
                        s=6, cmap="inferno", vmin=0, vmax=1)
        fig.colorbar(sc, ax=ax, label="leakage (rolling 20 packets, worst attacker)")
    else:
        ax.scatter(eves.rx_x_m, eves.rx_y_m, s=4, c="tab:gray", label="Eves")
    bob = df[df.role == "bob"]
    ax.plot(bob.rx_x_m, bob.rx_y_m, "b-", lw=1.5, label="Bob")
    ax.plot(bob.rx_x_m.iloc[:1], bob.rx_y_m.iloc[:1], "bs", ms=9)
    ax.plot(df.tx_x_m.iloc[:1], df.tx_y_m.iloc[:1], "r^", ms=11, label="Alice")
    for node, g in eves.groupby("node", sort=False):
        ax.annotate(node, (g.rx_x_m.iloc[0], g.rx_y_m.iloc[0]), fontsize=7)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=7)
    ax.set_title("where: trajectories, coloured by what each Eve learns")
    return _save(fig, out)


def _snr_time(df, out):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for node, g in df[df.replica == df.replica.min()].groupby("node", sort=False):
        ax.plot(g.time_s, g.snr_true_db, lw=0.8, label=node)
    bob = df[(df.role == "bob") & (df.replica == df.replica.min())]
    ax.plot(bob.time_s, bob.snr_est_db, "k--", lw=0.8, label="Alice's estimate of Bob")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("SNR (dB)")
    ax.legend(fontsize=7, ncol=3)
    return _save(fig, out)


def _over_time(df, col, out, num_windows=12):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    edges = np.linspace(df.time_s.min(), df.time_s.max() + 1e-9, num_windows + 1)
    for node, g in df.groupby("node", sort=False):
        metric = "m_correct" if g.role.iloc[0] == "bob" else col
        if metric not in g or g[metric].isna().all():
            continue
        idx = np.clip(np.searchsorted(edges, g.time_s, side="right") - 1, 0, num_windows - 1)
        pts = [(edges[w:w + 2].mean(), *wilson_ci(float(v.sum()), len(v))[:3])
               for w, v in g[metric].dropna().groupby(idx[g[metric].notna().to_numpy()])]
        t, p, lo, hi = map(np.array, zip(*pts, strict=True))
        label = f"{node} ({'accuracy' if metric == 'm_correct' and node == 'bob' else 'leakage'})"
        ax.errorbar(t, p, yerr=_err(p, lo, hi), capsize=2, marker="o", ms=3, label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("proportion correct (95 % Wilson)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("when: Bob's accuracy and each Eve's leakage over time")
    return _save(fig, out)


def _binned(df, col, by, xlabel, out):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for node, g in df[df.role != "bob"].groupby("node", sort=False):
        b = binned_leakage(g, by, col)
        if len(b):
            ax.errorbar(b.center, b.value, yerr=_err(b.value, b.ci_low, b.ci_high),
                        capsize=2, marker="o", ms=3, label=node)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("leakage (95 % Wilson)")
    ax.legend(fontsize=7)
    return _save(fig, out)


def _table_html(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("receiver", "role", "metric", "attacker",
                                             "value", "95 % interval", "n", "interval"))
    rows = []
    for r in table.itertuples():
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r.node, r.role, r.metric, r.attacker, f"{r.value:.4g}",
            f"[{r.ci_low:.4g}, {r.ci_high:.4g}]", r.n, r.interval)) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def write_report(df: pd.DataFrame, out_dir: Path, *, title: str,
                 attacker: str = "attacker") -> Path:
    """Write the figures (PNG) and ``report.html`` for the trace rows ``df`` into
    ``out_dir``; returns the HTML path."""
    col, name = _leak_column(df, attacker)
    figures = [("Trajectories", _trajectories(df, col, out_dir / "trajectories.png")),
               ("SNR over time", _snr_time(df, out_dir / "snr.png"))]
    if col is not None:
        figures += [
            ("Accuracy and leakage over time", _over_time(df, col, out_dir / "over_time.png")),
            ("Leakage against Eve SNR", _binned(df, col, "snr_true_db", "Eve SNR (dB)",
                                                out_dir / "leakage_vs_snr.png")),
            ("Leakage against distance", _binned(df, col, "distance_m", "distance to Alice (m)",
                                                 out_dir / "leakage_vs_distance.png")),
            ("Leakage against secrecy capacity",
             _binned(df, col, "secrecy_capacity_bps_hz", "secrecy capacity (bit/s/Hz)",
                     out_dir / "leakage_vs_secrecy.png"))]
    table = summary_table(df, attacker)
    table.to_csv(out_dir / "summary.csv", index=False)
    imgs = "".join(
        f"<h2>{html.escape(t)}</h2><img alt='{html.escape(t)}' src='data:image/png;base64,"
        f"{base64.b64encode(p.read_bytes()).decode()}'>" for t, p in figures)
    note = (f"Leakage is the worst-case attacker's ({html.escape(name)}) accuracy at each Eve."
            if col else "This codec reports no leakage column (no classification task).")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}img{{max-width:100%}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px}}
</style></head><body><h1>{html.escape(title)}</h1><p>{note} Proportions: Wilson 95 %
intervals; means: moving-block bootstrap over packets (packets are correlated).</p>
<h2>Summary</h2>{_table_html(table)}{imgs}</body></html>"""
    path = out_dir / "report.html"
    path.write_text(page)
    return path
