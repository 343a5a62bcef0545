from pathlib import Path

import pytest

from semsim.simulator.engine import run_scenario
from semsim.simulator.scenario import load_scenario
from semsim.simulator.trace import read_traces

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def test_required_examples_exist():
    names = {p.stem for p in SCENARIOS}
    assert {"default", "reference", "eves_walk_past", "vehicular", "many_eves"} <= names
    assert len(load_scenario(SCENARIOS[0].parent / "many_eves.yaml").eves) >= 8
    veh = load_scenario(SCENARIOS[0].parent / "vehicular.yaml")
    assert veh.bob.mobility.speed_mps * veh.link.carrier_hz / 3e8 > 300  # high Doppler


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_example_validates_and_runs(path, tmp_path, request):
    sc = load_scenario(path)
    if sc.codec.name != "reference":  # neural codecs: real data, and a short run suffices
        request.getfixturevalue("data_dir")
        sc = load_scenario(path, ["run.duration_s=null", "run.num_packets=6"])
    res = run_scenario(sc, tmp_path / sc.name)
    df = read_traces(tmp_path / sc.name)
    n_rx = 1 + len(sc.eves)
    assert res.num_rows == len(df) == res.num_packets * n_rx > 0
    metrics = df.filter(like="m_")
    assert df.snr_true_db.notna().all() and metrics.shape[1] >= 3
    assert metrics.notna().any(axis=1).all()  # every receiver row gets scores
    assert set(res.received.values()) == {res.num_packets}
