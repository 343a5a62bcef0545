"""The Ray sweep backend on a real local Ray cluster: same traces as in-process runs,
resumable, failures named by point with every finished task kept."""

import json

import pandas as pd
import pytest
import yaml
from simhelpers import BASE, merge, write_scenario

from semsim.simulator.cli import main
from semsim.simulator.errors import ScenarioError
from semsim.simulator.sweep import collect, parse_axis, plan_sweep, run_sweep

ray = pytest.importorskip("ray")


@pytest.fixture
def scenario_file(tmp_path):
    return write_scenario(tmp_path / "s.yaml", {"run": {"num_packets": 20, "seed": 3},
                                                 "bob": {"estimator": {"kind": "bias"}}})


def _frames(run_dir):
    return {f.name: pd.read_parquet(f) for f in sorted((run_dir / "traces").glob("*.parquet"))}


def test_ray_starts_its_own_local_cluster_and_matches_in_process_runs(scenario_file, tmp_path):
    assert not ray.is_initialized()
    axes = [parse_axis("bob.estimator.bias_db=-4,4")]
    a = plan_sweep(scenario_file, axes, tmp_path / "a" / "sw", replicas=2)  # same sweep id:
    b = plan_sweep(scenario_file, axes, tmp_path / "b" / "sw", replicas=2,  # same run ids;
                   overrides=["codec.batch_replicas=2"])  # one Ray task per point
    assert run_sweep(a) == {"run": 4, "skipped": 0}
    assert run_sweep(b, backend="ray", workers=2) == {"run": 4, "skipped": 0}
    assert not ray.is_initialized()  # the cluster it started is shut down again
    for p in ("p000", "p001"):
        fa, fb = _frames(a.out_dir / p), _frames(b.out_dir / p)
        assert list(fa) == list(fb) == ["r000-p00000.parquet", "r001-p00000.parquet"]
        for name in fa:
            pd.testing.assert_frame_equal(fa[name], fb[name])
        meta = json.loads((b.out_dir / p / "replicas" / "r001.json").read_text())
        assert meta["parts"] == ["r001-p00000.parquet"] and meta["host"]
        assert meta["run_with"] == [0, 1]
        assert (b.out_dir / p / "config.yaml").is_file()
    pd.testing.assert_frame_equal(collect(a), collect(b))


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_resumes_and_reuses_a_running_cluster(cluster, scenario_file, tmp_path):
    plan = plan_sweep(scenario_file, [parse_axis("propagation.exponent=2.5,3.5")],
                      tmp_path / "sw", replicas=2)
    assert run_sweep(plan, backend="ray") == {"run": 4, "skipped": 0}
    assert ray.is_initialized()  # not ours to shut down
    (tmp_path / "sw" / "p000" / "replicas" / "r001.json").unlink()  # "crashed" task
    before = (tmp_path / "sw" / "p001" / "traces" / "r000-p00000.parquet").stat().st_mtime_ns
    assert run_sweep(plan, backend="ray") == {"run": 1, "skipped": 3}
    after = (tmp_path / "sw" / "p001" / "traces" / "r000-p00000.parquet").stat().st_mtime_ns
    assert before == after  # done tasks are not rewritten
    summary = collect(plan)
    assert set(summary[summary.ci_over == "replicas"].n) == {2}  # both replicas, every point
    pooled = summary[summary.ci_over == "packets (Wilson)"]
    assert len(pooled) and len(set(pooled.n)) == 1  # same packet count at every point


def test_a_failing_point_is_named_and_finished_tasks_are_kept(cluster, tmp_path, data_dir):
    path = tmp_path / "s.yaml"
    data = merge(BASE, {"run": {"num_packets": 5}})
    data["source"] = {"kind": "dataset", "options": {"name": "mnist", "limit": 50}}
    path.write_text(yaml.safe_dump(data))
    missing = tmp_path / "no-data"
    axis = parse_axis(f"source.options.data_dir={data_dir},{missing}")
    for backend, workers in (("ray", 1), ("process", 2), ("process", 1)):
        out = tmp_path / f"{backend}{workers}"
        plan = plan_sweep(path, [axis], out, replicas=2)
        with pytest.raises(ScenarioError, match=r"sweep point p001 \(source\.options\.data_dir="
                                                r".*no-data.*\), replica [01]: .*source"):
            run_sweep(plan, backend=backend, workers=workers)
        done = sorted(f.name for f in (out / "p000" / "replicas").glob("*.json"))
        assert done == ["r000.json", "r001.json"], backend  # the good point is kept
        assert not (out / "p001" / "replicas").exists()


def test_cli_ray_backend_and_flag_errors(cluster, scenario_file, tmp_path, capsys):
    args = ["sweep", str(scenario_file), "--axis", "bob.estimator.bias_db=0,3",
            "--replicas", "1", "--out", str(tmp_path), "--sweep-id", "s", "--no-progress",
            "--backend", "ray"]
    assert main(args) == 0
    assert "2 run, 0 already done" in capsys.readouterr().out
    assert main([*args[:-2], "--ray-address", "auto"]) == 2
    assert "need --backend ray" in capsys.readouterr().err
    assert main([*args, "--gpus-per-task", "-1"]) == 2
    assert "--gpus-per-task" in capsys.readouterr().err
    assert main([*args, "--device", "cuda"]) == 2  # a GPU share is needed for cuda tasks
    assert "give a share per task" in capsys.readouterr().err
