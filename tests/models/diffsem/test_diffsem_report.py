"""Report tables and the Bob - attacker gap with its paired interval."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from semsim.models.diffsem.summary import gap_row
from semsim.simulator.commands.tables import render_tables


def test_gap_row_picks_best_bob_and_worst_attacker():
    t = torch.tensor
    bob = {"classifier": t([1, 1, 0, 0]).bool(), "ediffsem": t([1, 1, 1, 0]).bool()}
    att = {"attacker_mlp/cnn": t([1, 0, 0, 0]).bool(), "attacker_mlp/mlp": t([1, 1, 0, 0]).bool()}
    r = gap_row(bob, att)
    assert r["bob_method"] == "ediffsem" and r["attacker_method"] == "attacker_mlp/mlp"
    assert r["accuracy"] == pytest.approx(0.25)
    d = torch.tensor([0.0, 0.0, 1.0, 0.0])
    half = 1.96 * float(d.std()) / 2.0
    assert (r["ci95_lo"], r["ci95_hi"]) == pytest.approx((0.25 - half, 0.25 + half))


def _rows(snr, tstar, accs):
    return [{"dataset": "mnist", "snr_db": snr, "tstar": tstar, "tprime": tstar // 2, "n": 500,
             "role": role, "method": m, "accuracy": a, "iterations": 1.0,
             "accuracy_judge_mlp": a - 0.01, "psnr": 12.0, "ssim": 0.2, "ms_ssim": 0.5}
            for (role, m), a in accs.items()]


def test_fig8_table_comes_from_fig8_csv(tmp_path):
    """Regression: the Fig. 8 table once showed the IBAL rows."""
    acc = {("bob", "classifier"): 0.9, ("bob", "diffsem"): 0.91, ("bob", "ediffsem"): 0.92,
           ("attacker", "attacker_mlp"): 0.8, ("attacker", "attacker_conv"): 0.7,
           ("baseline", "direct"): 0.6, ("baseline", "permutation"): 0.3}
    pd.DataFrame(_rows(5.0, 240, acc) + _rows(20.0, 240, acc)).to_csv(
        tmp_path / "fig8_snr.csv", index=False)
    pd.DataFrame([{"dataset": "mnist", "model": "ibal_l0", "tstar_equiv": 0, "snr_db": 36.2,
                   "role": r, "accuracy": 0.95, "accuracy_judge_mlp": 0.94, "ssim": 0.6,
                   "psnr": 17.0} for r in ("bob", "attacker")]).to_csv(
        tmp_path / "ibal.csv", index=False)
    md = render_tables(tmp_path)
    fig8 = md[md.index("#### Fig. 8"):]
    assert "ibal_l0" not in fig8
    rows = [r for r in fig8.splitlines() if r.startswith("| 5 |") or r.startswith("| 20 |")]
    # worst attacker 0.8 (CNN judge) vs Bob's best 0.92
    assert len(rows) == 2 and all(r.endswith("| +12.0 |") for r in rows)
    assert "ibal_l0" in md[: md.index("#### Fig. 8")]


def test_empty_folder_renders_nothing(tmp_path):
    assert render_tables(tmp_path) == ""
