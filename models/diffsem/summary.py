"""Summaries of a DiffSem evaluation: the paired Bob-minus-attacker gap, the worst-case
attacker and the acceptance numbers (receiver gains, gaps, matched-SSIM leakage)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

__all__ = ["ATTACKER_METHODS", "BOB_METHODS", "gap_row", "summarize", "worst_attacker"]

BOB_METHODS = ("classifier", "diffsem", "ediffsem")
ATTACKER_METHODS = ("attacker_mlp", "attacker_conv")


def worst_attacker(d: pd.DataFrame) -> pd.Series:
    """Per (snr_db, tstar): the largest attacker accuracy over both adversaries and both
    judges (CNN ``accuracy``, MLP ``accuracy_judge_mlp``)."""
    a = d[d.method.isin(ATTACKER_METHODS)]
    return a[["accuracy", "accuracy_judge_mlp"]].max(axis=1).groupby(
        [a.snr_db, a.tstar]).max()


def gap_row(bob_hits: dict[str, torch.Tensor], att_hits: dict[str, torch.Tensor]) -> dict:
    """Bob's best receiver minus the worst-case attacker (highest accuracy over adversaries
    and judges), in accuracy units, with a paired 95 % normal interval over the test
    images (per-image hit vectors, shape (n,) bool). The interval does not include the
    selection of the best receiver / worst attacker on the same images."""
    bm = max(bob_hits, key=lambda k: float(bob_hits[k].float().mean()))
    am = max(att_hits, key=lambda k: float(att_hits[k].float().mean()))
    d = bob_hits[bm].float() - att_hits[am].float()
    half = 1.96 * float(d.std()) / len(d) ** 0.5 if len(d) > 1 else float("nan")
    g = float(d.mean())
    return {"role": "gap", "method": "bob_minus_worst_attacker", "accuracy": g,
            "ci95_lo": g - half, "ci95_hi": g + half, "bob_method": bm, "attacker_method": am}



def _interp_at(xs, ys, at):
    order = np.argsort(xs)
    xs, ys = np.asarray(xs)[order], np.asarray(ys)[order]
    if len(xs) == 0 or at < xs[0] or at > xs[-1]:
        return None
    return float(np.interp(at, xs, ys))


def summarize(df, ib, snr_db: float) -> dict:
    """Acceptance numbers: receiver gains, Bob - attacker gaps, matched-SSIM leakage."""

    d = df[df.snr_db == snr_db]
    piv = d.pivot_table(index="tstar", columns="method", values="accuracy")
    out: dict = {"snr_db": snr_db}
    gain_e = piv["ediffsem"] - piv["classifier"]
    gain_d = piv["diffsem"] - piv["classifier"]
    out["ediffsem_minus_classifier_max"] = round(float(gain_e.max()) * 100, 2)
    out["ediffsem_gain_at_tstar"] = int(gain_e.idxmax())
    out["diffsem_minus_classifier_max"] = round(float(gain_d.max()) * 100, 2)
    out["diffsem_gain_at_tstar"] = int(gain_d.idxmax())
    worst = worst_attacker(d).droplevel(0)
    out["bob_best_minus_worst_attacker_pts"] = {
        int(k): round(float(v) * 100, 2)
        for k, v in (piv[list(BOB_METHODS)].max(axis=1) - worst).items()}
    gp = d[d.method == "bob_minus_worst_attacker"]
    if len(gp) and "ci95_lo" in gp:
        out["bob_best_minus_worst_attacker_ci95_pts"] = {
            int(r.tstar): [round(100 * r.ci95_lo, 2), round(100 * r.ci95_hi, 2)]
            for r in gp.itertuples()}
    att = d[d.method == "attacker_mlp"]
    out["matched_ssim"] = {}
    if ib is not None and len(ib):
        iba = ib[ib.role == "attacker"]
        for target in (0.1, 0.2, 0.3):
            entry = {"diffsem_attacker_mlp": _interp_at(att.ssim, att.accuracy, target)}
            for meth in ("ibal", "ibald"):
                sub = iba[iba.method == meth]
                for lam in sorted(sub["lambda"].unique()):
                    ss = sub[sub["lambda"] == lam]
                    entry[f"{meth}_l{lam:g}"] = _interp_at(ss.ssim, ss.accuracy, target)
            out["matched_ssim"][str(target)] = entry
    return out
