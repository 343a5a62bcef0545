"""Sweep statistics (issue 16 item 4): axis ranges, paired contrasts against a baseline
(common random numbers), sequential stopping on interval width, named errors."""

import json
from pathlib import Path

import pandas as pd
import pytest
from simhelpers import write_scenario

from semsim.simulator.cli import main
from semsim.simulator.errors import ScenarioError
from semsim.simulator.sweep import collect, count_finished, parse_axis, plan_sweep, run_sweep
from semsim.simulator.sweep_stats import (
    half_widths,
    paired_contrasts,
    parse_baseline,
    run_to_target,
)


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    return write_scenario(tmp_path / "s.yaml", {"run": {"num_packets": 20, "seed": 3},
                                                 "bob": {"estimator": {"kind": "bias"}}})


def test_axis_ranges():
    assert parse_axis("bob.estimator.bias_db=-6:6:3").values == (-6, -3, 0, 3, 6)
    assert parse_axis("a.b=0:1:0.25").values == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert parse_axis("a.b=0.1:0.3:0.1").values == (0.1, 0.2, 0.3)  # b inclusive, no drift
    assert parse_axis("a.b=x:y:z").values == ("x:y:z",)  # not numbers: one YAML value
    for bad in ("a.b=0:1:0", "a.b=0:1:-1", "a.b=2:1:1", "a.b=0:5000:1"):
        with pytest.raises(ScenarioError) as err:
            parse_axis(bad)
        assert err.value.path == "a.b"


def _swept(scenario_file, tmp_path, replicas):
    plan = plan_sweep(scenario_file, [parse_axis("bob.estimator.bias_db=-6:6:6")],
                      tmp_path / f"sw{replicas}", replicas=replicas)
    run_sweep(plan)
    return plan


@pytest.mark.parametrize("replicas, over", [(3, "replicas, paired"), (1, "packets, paired")])
def test_paired_contrasts_see_exactly_what_the_axis_changes(scenario_file, tmp_path,
                                                            replicas, over):
    """The estimator's bias moves Bob's estimate by exactly the bias and leaves his true SNR
    alone (common random numbers): paired contrasts give 6 and 0 with no spread, while the
    unpaired summary intervals of the true SNR are wide."""
    plan = _swept(scenario_file, tmp_path, replicas)
    table = paired_contrasts(plan, parse_baseline("bob.estimator.bias_db=0", plan),
                             columns=["snr_rx_est_db", "snr_true_db"])
    assert set(table.point) == {0, 2} and set(table.ci_over) == {over}
    bob = table[table.node == "bob"].set_index(["bob.estimator.bias_db", "column"])
    est = bob.loc[(6, "snr_rx_est_db")]
    assert est.difference == pytest.approx(6.0) and est.ci_low == pytest.approx(6.0)
    assert est.ci_high == pytest.approx(6.0)
    true = bob.loc[(-6, "snr_true_db")]
    assert true.difference == 0 and true.ci_low == 0 and true.ci_high == 0
    summary = collect(plan)
    row = summary[(summary.node == "bob") & (summary.column == "snr_true_db")].iloc[0]
    if replicas > 1:
        assert row.ci_high - row.ci_low > 0.1  # unpaired: the fading spread remains
    assert (plan.out_dir / "contrasts.csv").is_file()


def test_bad_baselines_are_named(scenario_file, tmp_path, capsys):
    plan = plan_sweep(scenario_file, [parse_axis("bob.estimator.bias_db=0,3")],
                      tmp_path / "x", replicas=1)
    for bad, what in (("bob.estimator.bias_db=5", "is not a value of axis"),
                      ("run.seed=0", "is not an axis"), ("nokey", "key.path=value")):
        with pytest.raises(ScenarioError, match=what) as err:
            parse_baseline(bad, plan)
        assert err.value.path == "--baseline"
    args = ["sweep", str(scenario_file), "--axis", "bob.estimator.bias_db=0,3", "--out",
            str(tmp_path), "--no-progress"]
    assert main([*args, "--baseline", "bob.estimator.bias_db=4"]) == 2
    assert "--baseline" in capsys.readouterr().err
    for extra, key in ((["--target-ci", "0"], "--target-ci"),
                       (["--target-ci", "-1"], "--target-ci"),
                       (["--target-ci", "0.1", "--replicas", "4", "--max-replicas", "2"],
                        "--max-replicas"),
                       (["--max-replicas", "4"], "--max-replicas")):
        assert main([*args, *extra]) == 2
        assert key in capsys.readouterr().err
    assert not list(tmp_path.glob("s-sweep-*"))  # refused before anything was written


def test_the_stopping_rule_stops_at_the_width_and_never_past_the_maximum(scenario_file,
                                                                         tmp_path):
    axes = [parse_axis("bob.estimator.bias_db=0,3")]
    full = plan_sweep(scenario_file, axes, tmp_path / "full", replicas=8)
    res = run_to_target(full, start=1, target=1e-9, log=lambda _: None)
    ks = [r["replicas"] for r in res["rounds"]]
    assert ks == [1, 2, 4, 8] and not res["reached"]  # doubling, capped at the maximum
    assert count_finished(full) == 2 * 8
    widths = [r["widest_half_width"] for r in res["rounds"]]
    assert widths[2] < widths[1]  # more replicas, narrower
    # a target between the widths of rounds 2 and 4 replicas stops at 4, exactly there
    target = (widths[1] + widths[2]) / 2
    part = plan_sweep(scenario_file, axes, tmp_path / "part", replicas=8)
    res = run_to_target(part, start=1, target=target, log=lambda _: None)
    assert [r["replicas"] for r in res["rounds"]] == [1, 2, 4] and res["reached"]
    assert count_finished(part) == 2 * 4
    assert half_widths(collect(part)).max() <= target
    assert json.loads((part.out_dir / "stopping.json").read_text())["reached"]
    # resumable: the same call again runs nothing new and stops at once
    runs = []
    run_to_target(part, start=4, target=target, log=lambda _: None,
                  run=lambda p, k: runs.append(run_sweep(p, limit_replicas=k)))
    assert runs == [{"run": 0, "skipped": 8}]


def test_cli_target_ci_and_baseline(scenario_file, tmp_path, capsys):
    args = ["sweep", str(scenario_file), "--axis", "bob.estimator.bias_db=-6,0,6",
            "--replicas", "1", "--target-ci", "0.2", "--max-replicas", "4",
            "--baseline", "bob.estimator.bias_db=0", "--out", str(tmp_path),
            "--sweep-id", "t", "--no-progress", "--plot", "snr_mismatch_db"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "stopped at" in out and "paired contrasts against bob.estimator.bias_db=0" in out
    stop = json.loads((tmp_path / "t" / "stopping.json").read_text())
    assert stop["rounds"][-1]["replicas"] <= 4
    assert (tmp_path / "t" / "sweep-snr_mismatch_db.png").is_file()
    table = pd.read_csv(tmp_path / "t" / "contrasts.csv")
    bob = table[(table.node == "bob") & (table.column == "snr_true_db")]
    assert set(bob["bob.estimator.bias_db"]) == {-6, 6} and (bob.difference == 0).all()
