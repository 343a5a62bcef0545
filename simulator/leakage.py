"""What an eavesdropper learns: per-receiver summaries of a trace with honest intervals.

Proportions (Bob's accuracy, each attacker's leakage, secrecy outage) get Wilson intervals
(always inside [0, 1]); means (SNR, secrecy capacity, image quality) get moving-block
bootstrap intervals over packets in time order (packets are correlated through fading and
mobility), clipped to the metric's range. Leakage is reported against the strongest
attacker by default: for every Eve the attacker with the highest mean leakage is named.

Attackers are found by column: ``m_correct_<attacker>`` per attacker when the codec runs
several, else ``m_correct`` (the one attacker, named by ``attacker``). Image codecs without
a class (stego) leak image quality: their attackers are the columns of
:data:`QUALITY_ATTACKERS` (SSIM to the private image), the worst one the highest mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from semsim.models.common.stats import block_bootstrap_ci, wilson_ci

__all__ = ["QUALITY_ATTACKERS", "attacker_columns", "binned_leakage", "quality_attackers",
           "summary_table", "worst_attacker"]

#: mean metrics reported when present, with their range (None: unbounded)
_MEANS = {"snr_true_db": None, "secrecy_capacity_bps_hz": (0.0, np.inf),
          "m_psnr_db": None, "m_psnr_conv_db": None, "m_ssim_conv": (-1.0, 1.0),
          "m_psnr_mlp_db": None, "m_ssim_mlp": (-1.0, 1.0), "m_psnr_private_db": None,
          "m_ssim_private": (-1.0, 1.0), "m_ssim_host": (-1.0, 1.0),
          "m_mia_ssim_private": (-1.0, 1.0), "m_mia_ssim_host": (-1.0, 1.0)}

#: image-leakage columns of codecs that hide an image (stego): {column: attacker}
QUALITY_ATTACKERS = {"m_ssim_private": "naive", "m_mia_ssim_private": "mia"}


def attacker_columns(columns: Sequence[str], attacker: str = "attacker") -> dict[str, str]:
    """{trace column: attacker name} of the leakage columns present."""
    per = {c: c.removeprefix("m_correct_") for c in columns if c.startswith("m_correct_")}
    if per:
        return per
    return {"m_correct": attacker} if "m_correct" in columns else {}


def quality_attackers(columns: Sequence[str]) -> dict[str, str]:
    """{trace column: attacker name} of the image-quality leakage columns present (stego)."""
    return {c: a for c, a in QUALITY_ATTACKERS.items() if c in columns}


def worst_attacker(rows: pd.DataFrame, attackers: dict[str, str]) -> tuple[str, str] | None:
    """(column, name) of the attacker with the highest mean leakage over ``rows``."""
    means = {c: rows[c].mean() for c in attackers if rows[c].notna().any()}
    if not means:
        return None
    col = max(means, key=lambda c: means[c])
    return col, attackers[col]


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["replica", "packet_id"]) if "replica" in rows else rows


def summary_table(df: pd.DataFrame, attacker: str = "attacker",
                  level: float = 0.95) -> pd.DataFrame:
    """One row per receiver and metric: ``node``, ``role``, ``metric``, ``attacker`` (for
    leakage), ``value``, ``ci_low``, ``ci_high``, ``n``, ``interval`` (wilson / bootstrap).
    Bob: accuracy; an Eve or coalition: the worst-case leakage and every attacker's; all:
    secrecy outage and the mean metrics present. No means of labels or predictions."""
    attackers = attacker_columns(df.columns, attacker)
    quality = quality_attackers(df.columns)
    out = []

    def prop(node, role, metric, values, who=""):
        v = values.dropna().astype(float)
        p, lo, hi = wilson_ci(float(v.sum()), len(v), level)
        out.append((node, role, metric, who, p, lo, hi, len(v), "wilson"))

    for (node, role), rows in df.groupby(["node", "role"], sort=False):
        rows = _ordered(rows)
        if role == "bob" and "m_correct" in rows:
            prop(node, role, "accuracy", rows["m_correct"])
        elif attackers:
            worst = worst_attacker(rows, attackers)
            if worst is not None:
                prop(node, role, "leakage (worst case)", rows[worst[0]], worst[1])
            if len(attackers) > 1:
                for col, name in attackers.items():
                    prop(node, role, "leakage", rows[col], name)
                if "m_leak_any" in rows:
                    prop(node, role, "leakage (any attacker)", rows["m_leak_any"])
        if role != "bob" and quality:
            worst = worst_attacker(rows, quality)
            if worst is not None:
                m, lo, hi, n = block_bootstrap_ci(rows[worst[0]].to_numpy(), level,
                                                  bounds=(-1.0, 1.0))
                out.append((node, role, "SSIM to private (worst case)", worst[1], m, lo, hi,
                            n, "block bootstrap"))
        if "secrecy_outage" in rows:
            prop(node, role, "secrecy outage", rows["secrecy_outage"])
        for col, bounds in _MEANS.items():
            if col in rows and rows[col].notna().any():
                m, lo, hi, n = block_bootstrap_ci(rows[col].to_numpy(), level, bounds=bounds)
                out.append((node, role, col, "", m, lo, hi, n, "block bootstrap"))
    return pd.DataFrame(out, columns=["node", "role", "metric", "attacker", "value", "ci_low",
                                      "ci_high", "n", "interval"])


def binned_leakage(rows: pd.DataFrame, by: str, column: str, num_bins: int = 8,
                   level: float = 0.95) -> pd.DataFrame:
    """Leakage (``column``, 0/1) of ``rows`` in ``num_bins`` equal-count bins of ``by``:
    ``center`` (mean of ``by`` in the bin), ``value``, ``ci_low``, ``ci_high``, ``n``."""
    d = rows[[by, column]].dropna()
    if d.empty:
        return pd.DataFrame(columns=["center", "value", "ci_low", "ci_high", "n"])
    bins = pd.qcut(d[by], q=min(num_bins, d[by].nunique()), duplicates="drop")
    res = []
    for _, g in d.groupby(bins, observed=True):
        p, lo, hi = wilson_ci(float(g[column].sum()), len(g), level)
        res.append((g[by].mean(), p, lo, hi, len(g)))
    return pd.DataFrame(res, columns=["center", "value", "ci_low", "ci_high", "n"])
