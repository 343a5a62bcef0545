"""Colluding Eves: maximum-ratio combining reaches the sum of its members' SNRs (closed
form; the combined noise really has that variance), selection takes the best member, and a
coalition leaks no less than its best member."""

import numpy as np
import pytest
from simhelpers import BASE, merge

from semsim.models.common.stats import mean_ci
from semsim.simulator.engine import run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import parse_scenario
from semsim.simulator.trace import read_traces

PERFECT = {"kind": "perfect"}


def _trace(tmp_path, num_packets=2000, **patch):
    eves = [{"name": f"e{i}", "estimator": PERFECT,
             "mobility": {"kind": "static", "position_m": [45.0 + 5 * i, 10.0 * i]}}
            for i in range(3)]
    sc = parse_scenario(merge(BASE, {
        "run": {"num_packets": num_packets}, "bob": {"estimator": PERFECT}, "eves": eves,
        "codec": {"name": "reference", "options": {"decoder": "mf"}},
        "coalitions": [{"name": "mrc", "members": ["e0", "e1", "e2"]},
                       {"name": "sel", "members": ["e0", "e2"], "combining": "selection"}],
        **patch}))
    run_scenario(sc, tmp_path, run_id="x")
    df = read_traces(tmp_path)
    return {n: g.reset_index(drop=True) for n, g in df.groupby("node")}


def test_mrc_output_snr_is_the_sum_of_the_members(tmp_path):
    t = _trace(tmp_path)
    lin = {n: 10 ** (g.snr_true_db / 10) for n, g in t.items()}
    np.testing.assert_allclose(lin["mrc"], lin["e0"] + lin["e1"] + lin["e2"], rtol=1e-9)
    # the combined reception really has noise variance 1 / SNR_out per real (mf: feature MSE)
    ratio = (t["mrc"].m_feature_mse * lin["mrc"]).mean()
    assert abs(ratio - 1.0) < 0.03, ratio
    assert (t["mrc"].role == "coalition").all() and t["mrc"].distance_m.isna().all()


def test_selection_takes_the_best_member(tmp_path):
    t = _trace(tmp_path, num_packets=300)
    np.testing.assert_allclose(t["sel"].snr_true_db,
                               np.maximum(t["e0"].snr_true_db, t["e2"].snr_true_db))


def test_coalition_leaks_no_less_than_its_best_member(tmp_path):
    t = _trace(tmp_path)
    best = max(t[n].m_psnr_db.mean() for n in ("e0", "e1", "e2"))
    m, lo, hi, _ = mean_ci(t["mrc"].m_psnr_db - best)
    assert hi >= 0 and m > 0  # better than the best member on average
    bob_cap = t["bob"].secrecy_capacity_bps_hz
    worst = np.maximum.reduce([np.log2(1 + 10 ** (t[n].snr_true_db / 10))
                               for n in ("e0", "e1", "e2", "mrc", "sel")])
    np.testing.assert_allclose(bob_cap, np.maximum(0, t["bob"].capacity_bps_hz - worst))


@pytest.mark.parametrize("coalitions,path", [
    ([{"name": "c", "members": ["nobody"]}], "coalitions[0].members[0]"),
    ([{"name": "c", "members": ["eve0", "eve0"]}], "coalitions[0].members[1]"),
    ([{"name": "bob", "members": ["eve0"]}], "coalitions[0].name"),
    ([{"name": "c", "members": []}], "coalitions[0].members"),
    ([{"name": "c", "members": ["eve0"], "combining": "egc"}], "coalitions[0].combining"),
])
def test_bad_coalitions_are_named_errors(coalitions, path):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(merge(BASE, {"coalitions": coalitions}))
    assert err.value.path == path
