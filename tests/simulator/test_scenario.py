from pathlib import Path

import pytest
import yaml

from semsim.simulator.config_yaml import apply_overrides
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import (
    load_scenario,
    parse_scenario,
    scenario_to_dict,
)

DEFAULT = Path(__file__).resolve().parents[2] / "scenarios" / "reference.yaml"


def _error(tmp_path, text, overrides=()):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, overrides)
    assert str(path) in str(err.value)
    return err.value


CASES = [
    # (yaml, path, value, words in the message, suggestion)
    ("run: {num_packets: 10}\neves:\n  - {}\n  - {}\n  - mobility: {kind: constant_velocity,"
     " speed_mps: -3}\n", "eves[2].mobility.speed_mps", -3.0, ">= 0", None),
    ("run: {num_pakets: 10}\n", "run.num_pakets", 10, "unknown key", "num_packets"),
    ("run: {num_packets: 10}\nbob: {chanel: {fading: rayleigh}}\n", "bob.chanel",
     {"fading": "rayleigh"}, "unknown key", "channel"),
    ("run: {num_packets: ten}\n", "run.num_packets", "ten", "expected a number", None),
    ("run: {num_packets: 2.5}\n", "run.num_packets", 2.5, "integer", None),
    ("run: {num_packets: 10}\nlink: {carrier_hz: true}\n", "link.carrier_hz", True,
     "not a boolean", None),
    ("run: {num_packets: 10}\nbob: {channel: {fading: rician, k_factor: -1}}\n",
     "bob.channel.k_factor", -1.0, ">= 0", None),
    ("run: {num_packets: 10}\nbob: {channel: {fading: nakagami, m: 0.3}}\n",
     "bob.channel.m", 0.3, ">= 0.5", None),
    ("run: {num_packets: 10}\nbob: {channel: {coherence_s: 0}}\n",
     "bob.channel.coherence_s", 0.0, "> 0", None),
    ("run: {num_packets: 10}\nbob: {channel: {fading: raleigh}}\n", "bob.channel.fading",
     "raleigh", "must be one of", "rayleigh"),
    ("run: {num_packets: 10}\nbob: {mobility: {kind: statik}}\n", "bob.mobility.kind",
     "statik", "must be one of", "static"),
    ("run: {num_packets: 10}\nalice: {traffic: {interval_s: -1}}\n",
     "alice.traffic.interval_s", -1.0, "> 0", None),
    ("run: {num_packets: 10}\ncodec: {name: refernce}\n", "codec.name", "refernce",
     "unknown codec", "reference"),
    ("run: {num_packets: 10}\ncodec: {options: {decodr: mf}}\n", "codec.options.decodr",
     "mf", "unknown key", "decoder"),
    ("run: {num_packets: 10}\neves: {count: -2}\n", "eves.count", -2, ">= 0", None),
    ("run: {num_packets: 10}\ncodec: {encode_batch_packets: 0}\n",
     "codec.encode_batch_packets", 0, ">= 1", None),
    ("run: {num_packets: 10}\neves: {count: 2, template: {estimator: {kind: pilot_ls, "
     "num_pilots: 0}}}\n", "eves.template.estimator.num_pilots", 0, ">= 1", None),
    ("run: {num_packets: 10, duration_s: 3}\n", "run.num_packets", 10, "exactly one", None),
    ("run: {num_packets: 10}\neves: [{name: bob}]\n", "eves[0].name", "bob", "unique", None),
    ("run: {num_packets: 10}\nbob: {mobility: {kind: random_waypoint, bounds_m: [0, 0, 1]}}\n",
     "bob.mobility.bounds_m", None, "list of 4", None),
    ("- just\n- a list\n", "", ["just", "a list"], "mapping", None),
]


@pytest.mark.parametrize("text,path,value,words,hint", CASES)
def test_malformed_yaml_gives_named_error(tmp_path, text, path, value, hint, words):
    err = _error(tmp_path, text)
    assert err.path == path
    if value is not None:
        assert err.value == value
    assert words in err.message
    assert err.hint == hint
    assert isinstance(err, ValueError)
    rendered = str(err)
    assert (path or "<root>") in rendered and (hint is None or repr(hint) in rendered)


def test_yaml_syntax_error_is_a_scenario_error(tmp_path):
    err = _error(tmp_path, "run: {num_packets: 10\n")
    assert "invalid YAML" in err.message


def test_numeric_strings_are_accepted():
    sc = parse_scenario({"run": {"num_packets": "1e3"}, "link": {"carrier_hz": "5.9e9"}})
    assert sc.run.num_packets == 1000 and sc.link.carrier_hz == 5.9e9


def test_overrides(tmp_path):
    sc = load_scenario(DEFAULT, ["run.seed=42", "eves[1].channel.k_factor=7",
                                 "bob.mobility.position_m=[10, 5]"])
    assert sc.run.seed == 42 and sc.eves[1].channel.k_factor == 7.0
    assert sc.bob.mobility.position_m == (10.0, 5.0)
    with pytest.raises(ScenarioError) as err:
        load_scenario(DEFAULT, ["run.sed=3"])
    assert err.value.path == "run.sed" and err.value.hint == "seed"
    with pytest.raises(ScenarioError, match="out of range"):
        apply_overrides({"eves": []}, ["eves[0].name=x"])
    with pytest.raises(ScenarioError, match="key.path=value"):
        apply_overrides({}, ["run.seed"])


def test_resolved_dict_round_trips():
    sc = load_scenario(Path(DEFAULT).parent / "many_eves.yaml")
    data = yaml.safe_load(yaml.safe_dump(scenario_to_dict(sc)))
    assert parse_scenario(data) == sc
    assert len(sc.eves) == 12 and sc.eves[3].name == "eve3"


def test_eve_generator_placement():
    sc = parse_scenario({"run": {"num_packets": 1}, "eves": {
        "count": 4, "template": {"mobility": {"kind": "static"}},
        "placement": {"kind": "ring", "center_m": [10, 0], "radius_m": 5}}})
    pos = [e.mobility.position_m for e in sc.eves]
    assert pos[0] == pytest.approx((15, 0)) and pos[1] == pytest.approx((10, 5))
    line = parse_scenario({"run": {"num_packets": 1}, "eves": {
        "count": 3, "template": {"mobility": {"kind": "waypoints",
                                              "points_m": [[0, 0], [1, 0]]}},
        "placement": {"kind": "line", "start_m": [0, 10], "end_m": [20, 10]}}})
    assert [e.mobility.points_m[0] for e in line.eves] == [(0, 10), (10, 10), (20, 10)]
