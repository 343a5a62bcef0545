"""The Ray backend joining a running cluster (``ray start --head``, as on a real cluster),
and a clear error for an address nobody listens on. Runs after test_sweep_ray.py has shut
its in-process cluster down; ``ray stop`` ends the head this module started."""

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from simhelpers import BASE, merge

from semsim.simulator.errors import ScenarioError
from semsim.simulator.sweep import collect, parse_axis, plan_sweep, run_sweep

ray = pytest.importorskip("ray")
RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    if ray.is_initialized() or not RAY.is_file():
        pytest.skip("needs the ray command and no Ray session in this process")
    port = _free_port()
    tmp = tmp_path_factory.mktemp("ray")
    subprocess.run([str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2",
                    "--include-dashboard=false", "--disable-usage-stats"], check=True,
                   capture_output=True, timeout=120,
                   cwd=tmp)  # workers start in tmp: they need neither scenario nor folder
    yield "auto"  # the cluster `ray start` just started on this machine (with its token)
    subprocess.run([str(RAY), "stop", "--force"], capture_output=True, timeout=120)


def test_joins_a_running_cluster_and_leaves_it_running(head, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(merge(BASE, {"run": {"num_packets": 15, "seed": 4}})))
    axes = [parse_axis("propagation.exponent=2.5,3.0")]
    a = plan_sweep(path, axes, tmp_path / "a" / "sw", replicas=2)
    b = plan_sweep(path, axes, tmp_path / "b" / "sw", replicas=2)
    run_sweep(a)
    assert run_sweep(b, backend="ray", ray_address=head) == {"run": 4, "skipped": 0}
    assert not ray.is_initialized()  # this process left; the cluster keeps running
    shutil.rmtree(tmp_path / "b" / "sw" / "p001")  # a lost point is run again
    assert run_sweep(b, backend="ray", ray_address=head) == {"run": 2, "skipped": 2}
    pd.testing.assert_frame_equal(collect(a), collect(b))


def test_an_address_nobody_listens_on_is_named_and_writes_nothing(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(merge(BASE, {"run": {"num_packets": 5}})))
    plan = plan_sweep(path, [parse_axis("propagation.exponent=2.5,3.0")], tmp_path / "sw",
                      replicas=1)
    with pytest.raises(ScenarioError, match="--ray-address: cannot join the Ray cluster"):
        run_sweep(plan, backend="ray", ray_address=f"127.0.0.1:{_free_port()}")
    assert not (tmp_path / "sw").exists()
