"""Spatial leakage maps: static Eves on a grid, all in one run, summarised per cell.

:func:`grid_scenario` replaces a scenario's Eves by one static Eve per cell centre (each
with the first Eve's channel, estimator and propagation, or the defaults), dropping the
scenario's coalitions (their members are gone). Every Eve is decoded in the same batched
calls as the others. :func:`cell_table` gives per cell: the worst-case leakage (the attacker
with the highest mean over the whole grid, named) with a Wilson interval, Eve's mean SNR,
mean secrecy capacity, the secrecy-outage probability (Wilson), with an ensemble the share
of packets any attacker got right (``leakage_any``, an upper bound), and for image codecs
the mean SSIM to the private and the host image. One attacker per map (not the best per
cell, whose maximum over noisy estimates would be biased upwards).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from semsim.models.common.stats import wilson_ci
from semsim.simulator.errors import ScenarioError
from semsim.simulator.leakage import attacker_columns, worst_attacker
from semsim.simulator.mobility import Static
from semsim.simulator.scenario import ReceiverConfig, Scenario

__all__ = ["MAX_CELLS", "cell_table", "grid_axis", "grid_scenario"]

#: cells of one map (each a receiver of one run)
MAX_CELLS = 10_000


def grid_axis(text: str, flag: str) -> np.ndarray:
    """``a:b:n`` -> n cell centres from a to b (m), ends included; n >= 1."""
    parts = text.split(":")
    try:
        a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise ScenarioError(flag, "expected start:stop:count, e.g. -50:50:20", text) from None
    if n < 1:
        raise ScenarioError(flag, "the count must be >= 1", text)
    if not (np.isfinite(a) and np.isfinite(b)) or max(abs(a), abs(b)) > 1e6:
        raise ScenarioError(flag, "start and stop must be finite, within 1000 km", text)
    return np.linspace(a, b, n)


def grid_scenario(scenario: Scenario, xs: np.ndarray, ys: np.ndarray) -> Scenario:
    """``scenario`` with one static Eve per cell (``cell_<ix>_<iy>``), row-major in y."""
    if len(xs) * len(ys) > MAX_CELLS:
        raise ScenarioError("--x/--y", f"at most {MAX_CELLS} cells", len(xs) * len(ys))
    proto = scenario.eves[0] if scenario.eves else ReceiverConfig()
    proto = dataclasses.replace(proto, forge_feedback=None)
    eves = tuple(dataclasses.replace(proto, name=f"cell_{ix:03d}_{iy:03d}",
                                     mobility=Static(position_m=(float(x), float(y))))
                 for iy, y in enumerate(ys) for ix, x in enumerate(xs))
    return dataclasses.replace(scenario, eves=eves, coalitions=())


def cell_table(df: pd.DataFrame, attacker: str = "attacker",
               level: float = 0.95) -> tuple[pd.DataFrame, str | None]:
    """(per-cell table, worst attacker's name) of a grid run's trace rows."""
    eves = df[df.role == "eve"]
    attackers = attacker_columns(df.columns, attacker)
    worst = worst_attacker(eves, attackers) if attackers else None
    rows = []
    for node, g in eves.groupby("node", sort=False):
        cell = {"node": node, "x_m": g.rx_x_m.iloc[0], "y_m": g.rx_y_m.iloc[0],
                "num_packets": len(g), "mean_snr_db": g.snr_true_db.mean(),
                "secrecy_capacity_bps_hz": g.secrecy_capacity_bps_hz.mean()}
        p, lo, hi = wilson_ci(float(g.secrecy_outage.sum()), len(g), level)
        cell |= {"secrecy_outage": p, "secrecy_outage_ci_low": lo,
                 "secrecy_outage_ci_high": hi}
        if worst is not None:
            v = g[worst[0]].dropna()
            p, lo, hi = wilson_ci(float(v.sum()), len(v), level)
            cell |= {"leakage": p, "leakage_ci_low": lo, "leakage_ci_high": hi}
        if "m_leak_any" in g and g.m_leak_any.notna().any():  # any attacker right: a bound
            cell["leakage_any"] = float(g.m_leak_any.mean())
        for col in ("m_ssim_private", "m_ssim_host", "m_mia_ssim_private", "m_mia_ssim_host"):
            if col in g:
                cell[col.removeprefix("m_")] = g[col].mean()
        rows.append(cell)
    return pd.DataFrame(rows), (worst[1] if worst else None)
