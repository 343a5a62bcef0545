import numpy as np
import pandas as pd
import pytest

from semsim.simulator.analysis import mean_ci, summarize
from semsim.simulator.cli import main
from semsim.simulator.engine import run_replicas


def test_mean_ci_known_values():
    m, lo, hi, n = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    half = 2.7764451 * np.std([1, 2, 3, 4, 5], ddof=1) / np.sqrt(5)
    assert (m, n) == (3.0, 5)
    assert lo == pytest.approx(3 - half) and hi == pytest.approx(3 + half)
    assert np.isnan(mean_ci([2.0])[1]) and mean_ci([])[3] == 0


def test_interval_coverage_is_nominal():
    rng = np.random.default_rng(0)
    hits = [lo <= 0.0 <= hi for lo, hi in
            (mean_ci(rng.standard_normal(8))[1:3] for _ in range(2000))]
    assert np.mean(hits) == pytest.approx(0.95, abs=0.015)


def test_summarize_over_replicas_and_report_command(make_scenario, tmp_path, capsys):
    sc = make_scenario(run={"num_packets": 40, "replicas": 3})
    run_replicas(sc, tmp_path / "run")
    from semsim.simulator.trace import read_traces

    df = read_traces(tmp_path / "run")
    table = summarize(df)
    means = table[table.column != "secrecy_outage"]
    assert set(means.ci_over) == {"replicas"} and set(means.n) == {3}
    row = table[(table.node == "bob") & (table.column == "snr_true_db")].iloc[0]
    per_rep = df[df.node == "bob"].groupby("replica").snr_true_db.mean()
    assert row["mean"] == pytest.approx(per_rep.mean())
    assert row.ci_low < row["mean"] < row.ci_high
    out = table[(table.node == "eve0") & (table.column == "secrecy_outage")].iloc[0]
    assert out["mean"] == pytest.approx(df[df.node == "eve0"].secrecy_outage.mean())
    assert out.ci_over == "packets (Wilson)" and out.n == 120  # a proportion: Wilson
    assert 0 <= out.ci_low <= out["mean"] <= out.ci_high <= 1
    with pytest.raises(KeyError, match="nodee"):
        summarize(df, by=["nodee"])

    assert main(["report", str(tmp_path / "run")]) == 0
    csv = pd.read_csv(tmp_path / "run" / "report" / "means.csv")
    assert len(csv) == len(table)
    assert (tmp_path / "run" / "report" / "timeseries.png").stat().st_size > 10_000
    assert "m_psnr_db" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert main(["report", str(tmp_path / "run"), "--metric", "m_nope"]) == 2
    assert "m_nope" in capsys.readouterr().err
