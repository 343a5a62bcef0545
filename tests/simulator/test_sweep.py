from pathlib import Path

import pandas as pd
import pytest
from simhelpers import write_scenario

from semsim.simulator.cli import main
from semsim.simulator.engine import run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import load_scenario
from semsim.simulator.sweep import collect, parse_axis, plan_sweep, run_sweep


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    return write_scenario(tmp_path / "s.yaml", {"run": {"num_packets": 25, "seed": 11},
                                                 "bob": {"estimator": {"kind": "bias"}}})


def test_parse_axis_and_named_errors():
    ax = parse_axis("bob.estimator.bias_db=-3, 0,3.5")
    assert ax.key == "bob.estimator.bias_db" and ax.values == (-3, 0, 3.5)
    for bad in ("nokey", "a.b=", "a.b=1,1"):
        with pytest.raises(ScenarioError):
            parse_axis(bad)


def test_every_point_is_validated_before_running(scenario_file, tmp_path):
    with pytest.raises(ScenarioError, match=r"bob\.estimator\.std_db"):
        plan_sweep(scenario_file, [parse_axis("bob.estimator.std_db=1,-2")], tmp_path / "x",
                   replicas=1)
    assert not (tmp_path / "x").exists()  # nothing written


def test_sweep_resumes_and_matches_single_runs(scenario_file, tmp_path):
    axes = [parse_axis("bob.estimator.bias_db=-6,6")]
    plan = plan_sweep(scenario_file, axes, tmp_path / "sw", replicas=2)
    assert plan.seed == 11 and len(plan.tasks()) == 4
    assert run_sweep(plan) == {"run": 4, "skipped": 0}
    assert run_sweep(plan) == {"run": 0, "skipped": 4}  # everything done
    (tmp_path / "sw" / "p001" / "replicas" / "r001.json").unlink()  # "crashed" task
    assert run_sweep(plan) == {"run": 1, "skipped": 3}
    summary = collect(plan)
    means = summary[summary.column != "secrecy_outage"]
    assert set(means.n) == {2} and set(means.ci_over) == {"replicas"}
    outage = summary[summary.column == "secrecy_outage"]
    assert set(outage.n) == {50} and set(outage.ci_over) == {"packets (Wilson)"}
    assert (tmp_path / "sw" / "summary.parquet").is_file()
    # point 1, replica 1 equals a plain run of the same scenario, seed and replica
    sc = load_scenario(scenario_file, ["bob.estimator.bias_db=6"])
    run_scenario(sc, tmp_path / "single", 11, 1, run_id="sw-p001")
    got = pd.read_parquet(tmp_path / "sw" / "p001" / "traces" / "r001-p00000.parquet")
    want = pd.read_parquet(tmp_path / "single" / "traces" / "r001-p00000.parquet")
    pd.testing.assert_frame_equal(got, want)
    # common random numbers: the bias moves Alice's estimate, not the true SNR draws
    true = summary[(summary.node == "bob") & (summary.column == "snr_true_db")]
    assert true["mean"].iloc[0] == pytest.approx(true["mean"].iloc[1])
    lo, hi = (pd.read_parquet(tmp_path / "sw" / f"p00{p}" / "traces") for p in (0, 1))
    fed = (lo.role == "bob") & (lo.feedback_packet_id >= 0)  # Alice has heard from Bob
    diff = hi.snr_mismatch_db[fed].to_numpy() - lo.snr_mismatch_db[fed].to_numpy()
    assert fed.sum() > 15 and diff == pytest.approx(12.0)


def test_process_pool_gives_the_same_summary(scenario_file, tmp_path):
    axes = [parse_axis("propagation.exponent=2.5,3.5")]
    a = plan_sweep(scenario_file, axes, tmp_path / "a", replicas=2)
    b = plan_sweep(scenario_file, axes, tmp_path / "b", replicas=2)
    run_sweep(a, workers=1)
    run_sweep(b, workers=2)
    pd.testing.assert_frame_equal(collect(a), collect(b))


def test_cli_sweep_and_guard_against_reusing_a_folder(scenario_file, tmp_path, capsys):
    args = ["sweep", str(scenario_file), "--axis", "bob.estimator.bias_db=0,3",
            "--replicas", "2", "--out", str(tmp_path), "--sweep-id", "s", "--no-progress"]
    assert main(args) == 0
    assert (tmp_path / "s" / "sweep-m_psnr_db.png").stat().st_size > 5_000
    assert "4 run, 0 already done" in capsys.readouterr().out
    assert main(args) == 0 and "0 run, 4 already done" in capsys.readouterr().out
    args[3] = "bob.estimator.bias_db=0,4"
    assert main(args) == 2 and "different sweep" in capsys.readouterr().err


def test_read_sweep_load_plan_and_report_on_a_sweep_folder(scenario_file, tmp_path, capsys):
    from semsim.simulator.analysis import sweep_plot_axes
    from semsim.simulator.sweep import load_plan, read_sweep

    axes = [parse_axis("bob.estimator.kind=bias"), parse_axis("bob.estimator.bias_db=-3,3"),
            parse_axis("propagation.exponent=2.5,3.5")]
    plan = plan_sweep(scenario_file, axes, tmp_path / "sw", replicas=2)
    run_sweep(plan)
    assert load_plan(tmp_path / "sw") == plan
    df = read_sweep(tmp_path / "sw")
    assert list(df.columns[:4]) == ["point", "bob.estimator.kind", "bob.estimator.bias_db",
                                    "propagation.exponent"]
    assert len(df) == 4 * 2 * 25 * 3  # points x replicas x packets x receivers
    assert set(df["bob.estimator.kind"]) == {"bias"}
    mism = df[(df.role == "bob") & (df.feedback_packet_id >= 0)].groupby(
        "bob.estimator.bias_db").snr_mismatch_db.mean()
    assert mism[3] - mism[-3] == pytest.approx(6.0)
    # the fixed kind is not a plot axis; the second varying axis splits the lines
    assert sweep_plot_axes(collect(plan), [a.key for a in axes]) == (
        "bob.estimator.bias_db", ["propagation.exponent"])
    # a replica cut off after writing its parts (no marker) is left out everywhere
    (tmp_path / "sw" / "p003" / "replicas" / "r001.json").unlink()
    assert len(read_sweep(plan)) == len(df) - 25 * 3
    summary = collect(plan)
    means = summary[summary.column != "secrecy_outage"]
    assert set(means[means.point < 3].n) == {2}  # replicas
    assert set(means[means.point == 3].ci_over) == {"packets"}  # one replica left
    assert main(["report", str(tmp_path / "sw"), "--metric", "snr_mismatch_db"]) == 0
    out = capsys.readouterr().out
    assert "4 of 4 point(s) have finished replicas" in out and "bob.estimator.bias_db" in out
    assert (tmp_path / "sw" / "sweep-snr_mismatch_db.png").stat().st_size > 5_000
    assert main(["report", str(tmp_path / "sw"), "--metric", "snr_true_db"]) == 0
    assert (tmp_path / "sw" / "sweep-snr_mismatch_db.png").is_file()  # not overwritten
    assert (tmp_path / "sw" / "sweep-snr_true_db.png").is_file()
    assert main(["report", str(tmp_path / "sw"), "--metric", "m_nope"]) == 2
    assert "'m_nope' not in the traces" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="sweep.json"):
        load_plan(tmp_path)


def test_batch_replicas_groups_tasks_and_resumes_per_replica(scenario_file, tmp_path):
    from semsim.simulator.sweep import _tasks_to_run

    axes = [parse_axis("bob.estimator.bias_db=0,2")]
    one = plan_sweep(scenario_file, axes, tmp_path / "one" / "sw", replicas=3)
    two = plan_sweep(scenario_file, axes, tmp_path / "two" / "sw", replicas=3,
                     overrides=["codec.batch_replicas=2", "codec.decode_batch_packets=10"])
    assert _tasks_to_run(two) == ([(0, [0, 1]), (0, [2]), (1, [0, 1]), (1, [2])], 0)
    assert run_sweep(one) == run_sweep(two, workers=2) == {"run": 6, "skipped": 0}
    pd.testing.assert_frame_equal(collect(one).drop(columns="point"),
                                  collect(two).drop(columns="point"))
    (two.out_dir / "p001" / "replicas" / "r001.json").unlink()
    assert _tasks_to_run(two) == ([(1, [1])], 5)
    assert run_sweep(two) == {"run": 1, "skipped": 5}
    pd.testing.assert_frame_equal(collect(one).drop(columns="point"),
                                  collect(two).drop(columns="point"))
