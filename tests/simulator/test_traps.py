"""Traps that waste a study (issue 16 item 5): named errors and warnings."""

import pandas as pd
import pytest
from simhelpers import BASE, merge

from semsim.simulator.cli import main
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import parse_scenario
from semsim.simulator.traps import scenario_warnings, snr_range_warnings, trained_snr_db


def _with(codec: dict, source_name: str) -> dict:
    data = merge(BASE, {"codec": codec})
    data["source"] = {"kind": "dataset", "options": {"name": source_name}}
    return data


def _diffsem(source_name="mnist"):
    return _with({"name": "diffsem", "options": {"dataset": "mnist"}}, source_name)


@pytest.mark.parametrize("codec, source, need", [
    ({"name": "diffsem", "options": {"dataset": "mnist"}}, "fashion", "mnist"),
    ({"name": "diffsem", "options": {"dataset": "fashion"}}, "mnist", "fashion"),
    ({"name": "stego", "options": {"setting": "mnist-in-fashion"}}, "fashion", "mnist"),
])
def test_a_codec_and_source_of_different_datasets_is_an_error(codec, source, need):
    data = _with(codec, source)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert err.value.path == "source.options.name" and repr(need) in err.value.message


def test_matching_datasets_parse():
    assert parse_scenario(_diffsem()).codec.options.dataset == "mnist"


def test_feedback_delay_on_an_eve_is_an_error():
    data = merge(BASE, {})
    data["eves"][1]["estimator"] = {"kind": "pilot_ls", "feedback_delay_s": 0.01}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert err.value.path == "eves[1].estimator.feedback_delay_s"
    assert "only Bob reports" in err.value.message


def _frozen(**bob_channel):
    data = merge(BASE, {})
    data["bob"]["channel"] = {"fading": "rayleigh", "coherence_s": 0.005, **bob_channel}
    return parse_scenario(data)


def test_a_static_node_whose_fading_cannot_change_is_warned_about(tmp_path, capsys):
    (w,) = scenario_warnings(_frozen())
    assert w.startswith("bob.channel:") and "one rayleigh fading draw" in w
    for fix in ({"environment_doppler_hz": 2.0}, {"time_correlation": "independent"},
                {"fading": "awgn"}, {"coherence_s": None}):
        assert scenario_warnings(_frozen(**fix)) == []
    moving = merge(BASE, {"bob": {"channel": {"fading": "rayleigh", "coherence_s": 0.005},
                                  "mobility": {"kind": "constant_velocity",
                                               "position_m": [40.0, 0.0], "speed_mps": 1.0}}})
    assert scenario_warnings(parse_scenario(moving)) == []  # her speed gives a Doppler
    import yaml

    from semsim.simulator.scenario import scenario_to_dict

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_to_dict(_frozen())))
    assert main(["validate", str(path)]) == 0
    assert "warning: bob.channel:" in capsys.readouterr().err


def test_the_shipped_scenarios_have_no_trap():
    from pathlib import Path

    from semsim.simulator.scenario import load_scenario

    for path in sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml")):
        assert scenario_warnings(load_scenario(path)) == [], path.name


def test_snr_outside_the_trained_range_is_warned_about():
    sc = parse_scenario(_diffsem())
    lo, hi = trained_snr_db(sc)
    assert (lo, hi) == (0.0, 25.0)  # the shipped manifest's snr_train_db
    df = pd.DataFrame({"node": ["bob"] * 4 + ["eve0"] * 4, "role": ["bob"] * 4 + ["eve"] * 4,
                       "mean_snr_db": [5.0, 6.0, 7.0, 8.0, -3.0, 1.0, 2.0, 30.0]})
    (w,) = snr_range_warnings(df, (lo, hi))
    assert w.startswith("eve0: mean SNR -3.0 .. 30.0 dB") and "in 50 % of packets" in w
    assert snr_range_warnings(df, None) == []
    assert snr_range_warnings(df, (lo, hi), min_share=0.6) == []  # 50 % < 60 %
    assert trained_snr_db(parse_scenario(BASE)) is None  # the reference codec has no network
