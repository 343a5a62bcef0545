"""Nothing lost, nothing mixed (issue 14 items 1-4, 6-9, 11, 12, 14): content-checked
resumes, verified parts, named errors for bad command-line input, Ctrl-C and SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from simhelpers import BASE, merge, write_scenario

from semsim.simulator.cli import main
from semsim.simulator.errors import ScenarioError
from semsim.simulator.run_folder import finished_parts
from semsim.simulator.sweep import collect, load_plan, parse_axis, plan_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    return write_scenario(tmp_path / "s.yaml", {"run": {"num_packets": 20, "seed": 3}})


def _sweep_args(scenario, out, *extra):
    return ["sweep", str(scenario), "--axis", "bob.estimator.num_pilots=4,16", "--replicas",
            "2", "--out", str(out), "--no-progress", *extra]


def _only_folder(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def test_rerunning_the_same_sweep_resumes_and_an_edited_one_is_refused(
        scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_sweep_args(scenario_file, out)) == 0
    folder = _only_folder(out)
    assert main(_sweep_args(scenario_file, out)) == 0  # default id from content: resumes
    assert "0 run, 4 already done" in capsys.readouterr().out
    assert _only_folder(out) == folder
    data = yaml.safe_load(scenario_file.read_text())
    data["bob"]["mobility"]["position_m"] = [400.0, 0.0]  # Bob at 400 m instead of 40 m
    scenario_file.write_text(yaml.safe_dump(data))
    assert main(_sweep_args(scenario_file, out, "--sweep-id", folder.name)) == 2
    err = capsys.readouterr().err
    assert "different sweep" in err and "bob.mobility.position_m[0]: 40.0 -> 400.0" in err
    assert sorted(p.name for p in out.iterdir()) == [folder.name]  # nothing mixed in
    assert main(_sweep_args(scenario_file, out)) == 0  # the edited one: its own folder
    assert len([p for p in out.iterdir() if p.is_dir()]) == 2


def test_speed_only_keys_do_not_change_identity(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_sweep_args(scenario_file, out)) == 0
    assert main(_sweep_args(scenario_file, out, "--set", "codec.decode_batch_packets=8",
                            "--set", "trace.part_rows=7")) == 0
    assert "0 run, 4 already done" in capsys.readouterr().out


def test_reused_run_id_for_another_run_is_refused(scenario_file, tmp_path, capsys):
    args = ["run", str(scenario_file), "--out", str(tmp_path), "--run-id", "x",
            "--no-progress"]
    assert main(args) == 0
    assert main([*args, "--set", "run.replicas=2"]) == 2
    assert "run.replicas: 1 -> 2" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "x" / "replicas").iterdir()) == ["r000.json"]


def test_report_on_a_killed_run_uses_finished_replicas_and_no_stale_report(
        scenario_file, tmp_path, capsys):
    args = ["run", str(scenario_file), "--out", str(tmp_path), "--run-id", "k",
            "--set", "run.replicas=3", "--no-progress"]
    assert main(args) == 0
    run_dir = tmp_path / "k"
    assert main(["report", str(run_dir)]) == 0
    (run_dir / "report" / "stale.txt").write_text("old")
    (run_dir / "replicas" / "r001.json").unlink()  # as if killed while writing r001
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 0
    cap = capsys.readouterr()
    assert "2 of 3 replica(s)" in cap.out and "r001" in cap.err
    assert not (run_dir / "report" / "stale.txt").exists()
    table = pd.read_csv(run_dir / "report" / "means.csv")
    assert set(table[table.column == "snr_true_db"].n) == {2}  # the two finished replicas
    assert main(args) == 0  # the same command resumes: only r001 runs again
    assert "2 of 3 replica(s) already finished" in capsys.readouterr().out
    assert not (run_dir / "report").exists()  # a rerun removes the stale report


def test_damaged_parts_are_redone_and_damaged_files_named(scenario_file, tmp_path, capsys):
    plan = plan_sweep(scenario_file, [parse_axis("bob.estimator.num_pilots=4,16")],
                      tmp_path / "sw", replicas=2)
    run_sweep(plan)
    want = collect(plan)
    part = finished_parts(tmp_path / "sw" / "p001", 1)[0]
    part.write_bytes(part.read_bytes()[:100])  # truncated
    stale = [part.parent / ".r001-p00000.parquet.abc.tmp",
             tmp_path / "sw" / "p001" / ".run.json.abc.tmp",  # a kill inside run.json's write
             tmp_path / "sw" / ".sweep.json.abc.tmp"]
    for f in stale:
        f.write_bytes(b"x")
    assert finished_parts(tmp_path / "sw" / "p001", 1) is None
    assert run_sweep(plan) == {"run": 1, "skipped": 3}
    assert not any(f.exists() for f in stale)
    pd.testing.assert_frame_equal(collect(plan), want)
    (tmp_path / "sw" / "sweep.json").write_text('{"axes": [')  # truncated
    with pytest.raises(ScenarioError, match="damaged sweep.json"):
        load_plan(tmp_path / "sw")
    assert main(["report", str(tmp_path / "sw")]) == 2
    assert "damaged sweep.json" in capsys.readouterr().err


@pytest.mark.parametrize("extra,message", [
    (["--axis", "run.seed=1,2,3"], "root seed is not an axis"),
    (["--axis", "run.num_packets=2001-01-01"], "axis values must be"),
    (["--seed", "-1"], "--seed"),
    (["--sweep-id", "../x"], "--sweep-id"),
    (["--sweep-id", "/abs"], "--sweep-id"),
    (["--sweep-id", "a" * 300], "at most 100"),
])
def test_bad_sweep_input_is_one_named_error(scenario_file, tmp_path, capsys, extra, message):
    assert main(_sweep_args(scenario_file, tmp_path / "out", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists() and not list((tmp_path / "out").glob("*/sweep.json"))


@pytest.mark.parametrize("extra,message", [
    (["--run-id", "../x"], "--run-id"), (["--run-id", "/abs"], "--run-id"),
    (["--run-id", "r" * 300], "at most 100"), (["--seed", "-1"], "--seed"),
    (["--seed", str(2**63)], "--seed"),
])
def test_bad_run_input_is_one_named_error(scenario_file, tmp_path, capsys, extra, message):
    assert main(["run", str(scenario_file), "--out", str(tmp_path / "o"), "--no-progress",
                 *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_out_on_a_file_is_a_named_error(scenario_file, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    for out in (f, f / "sub"):
        assert main(["run", str(scenario_file), "--out", str(out), "--no-progress"]) == 2
        assert "--out" in capsys.readouterr().err


def test_an_unwritable_out_is_a_named_error(scenario_file, capsys):
    """A folder that cannot be created (sysfs refuses even root, who ignores chmod)."""
    for cmd in (["run", str(scenario_file)], ["sweep", str(scenario_file), "--axis",
                                              "propagation.exponent=3"]):
        assert main([*cmd, "--out", "/sys/semsim-no-such-dir", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "--out: cannot create the folder" in err and "Traceback" not in err


def test_the_run_header_prints_the_seed_it_runs(scenario_file, tmp_path, capsys):
    assert main(["run", str(scenario_file), "--out", str(tmp_path), "--seed", "9",
                 "--no-progress", "--set", "run.num_packets=3"]) == 0
    assert "seed 9" in capsys.readouterr().out.splitlines()[0]


def test_a_rerun_removes_the_temp_files_a_killed_run_left(scenario_file, tmp_path, capsys):
    args = ["run", str(scenario_file), "--out", str(tmp_path), "--run-id", "k",
            "--no-progress", "--set", "run.num_packets=3"]
    assert main(args) == 0
    stale = [tmp_path / "k" / ".run.json.abc.tmp", tmp_path / "k" / "traces" / ".x.abc.tmp"]
    for f in stale:
        f.write_bytes(b"x")
    assert main(args) == 0
    assert not any(f.exists() for f in stale)


# ------------------------------------------------------------------ interrupted sweeps

def _sweep_cmd(scenario, out, workers):
    return [sys.executable, "-m", "semsim.simulator.cli", "sweep", str(scenario),
            "--axis", "bob.estimator.num_pilots=4,8,16", "--replicas", "4",
            "--workers", str(workers), "--out", str(out)]


def _slow_scenario(tmp_path, num_packets: int = 4000) -> Path:
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(merge(BASE, {"run": {"num_packets": num_packets,
                                                        "seed": 5}})))
    return path


def _finished(out: Path) -> int:
    return sum(1 for m in out.glob("*/p*/replicas/r*.json"))


def test_ctrl_c_stops_a_two_worker_sweep_within_seconds(tmp_path):
    # replicas long enough (~0.5 s each here) that Ctrl-C lands while work remains
    scenario, out = _slow_scenario(tmp_path, 20_000), tmp_path / "out"
    proc = subprocess.Popen(_sweep_cmd(scenario, out, 2), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _finished(out) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _finished(out) >= 2, "no replica finished"
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5, "Ctrl-C took too long"
    assert proc.returncode == 130, stderr
    assert "resume with: semsim sweep" in stderr and "Traceback" not in stderr
    assert "sweep " in stdout.splitlines()[0]  # id and folder printed first
    kept = _finished(out)
    assert 2 <= kept < 12
    folder = _only_folder(out)
    for p in range(3):
        for r in range(4):
            marker = folder / f"p{p:03d}" / "replicas" / f"r{r:03d}.json"
            if marker.exists():
                assert finished_parts(folder / f"p{p:03d}", r) is not None
    done = subprocess.run(_sweep_cmd(scenario, out, 2), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{12 - kept} run, {kept} already done" in done.stdout
    assert "replicas (" in done.stderr  # progress lines in a log (stderr not a terminal)


def test_sigkilled_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    """SIGKILL the sweep at several moments, rerun until done: every row once, the same
    summary as an uninterrupted sweep of the same content."""
    scenario = _slow_scenario(tmp_path)
    ref_out, out = tmp_path / "ref", tmp_path / "out"
    ref = subprocess.run(_sweep_cmd(scenario, ref_out, 1), cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    rng = __import__("random").Random(7)
    for _ in range(4):
        proc = subprocess.Popen(_sweep_cmd(scenario, out, 1), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 3.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    done = subprocess.run(_sweep_cmd(scenario, out, 1), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    a, b = _only_folder(ref_out), _only_folder(out)
    assert a.name == b.name  # same content, same id
    pd.testing.assert_frame_equal(pd.read_parquet(a / "summary.parquet"),
                                  pd.read_parquet(b / "summary.parquet"))
    for p in range(3):
        rows = pd.read_parquet(b / f"p{p:03d}" / "traces")
        assert not rows.duplicated(["replica", "packet_id", "node"]).any()
        assert len(rows) == 4 * 4000 * 3
    assert not list(b.glob("**/.*.tmp"))
    json.loads((b / "sweep.json").read_text())
