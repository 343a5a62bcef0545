"""The generic YAML -> frozen dataclass parser and the ``--set`` overrides."""

from dataclasses import dataclass
from typing import Literal

import pytest

from semsim.simulator.config_yaml import (
    apply_overrides,
    parse_dataclass,
    read_yaml,
    to_plain,
)
from semsim.simulator.errors import ScenarioError


@dataclass(frozen=True)
class Inner:
    kind: Literal["a", "b"] = "a"
    gain_db: float = 0.0


@dataclass(frozen=True)
class Outer:
    count: int = 1
    inner: Inner = Inner()
    points: tuple[tuple[float, float], ...] = ()


def test_parse_maps_types_and_round_trips():
    got = parse_dataclass(Outer, {"count": "2e1", "inner": {"kind": "b", "gain_db": 3},
                                  "points": [[0, 1], [2, 3]]}, "")
    assert got == Outer(20, Inner("b", 3.0), ((0.0, 1.0), (2.0, 3.0)))
    assert parse_dataclass(Outer, to_plain(got), "") == got


@pytest.mark.parametrize("data,path,hint", [
    ({"cuont": 2}, "cuont", "count"),
    ({"inner": {"kind": "bb"}}, "inner.kind", "b"),
    ({"count": 1.5}, "count", None),
    ({"points": [[0, 1, 2]]}, "points[0]", None),
])
def test_parse_errors_name_the_path(data, path, hint):
    with pytest.raises(ScenarioError) as err:
        parse_dataclass(Outer, data, "")
    assert err.value.path == path and err.value.hint == hint


def test_overrides_edit_the_raw_data():
    data = apply_overrides({"eves": [{"name": "e"}]},
                           ["eves[0].mobility.speed_mps=2", "run.seed=3"])
    assert data == {"eves": [{"name": "e", "mobility": {"speed_mps": 2}}], "run": {"seed": 3}}
    with pytest.raises(ScenarioError, match="out of range"):
        apply_overrides({"eves": []}, ["eves[0].name=x"])
    with pytest.raises(ScenarioError, match="key.path=value"):
        apply_overrides({}, ["run.seed"])


def test_read_yaml_named_errors(tmp_path):
    (tmp_path / "e.yaml").write_text("")
    assert read_yaml(tmp_path / "e.yaml") == {}
    (tmp_path / "b.yaml").write_text("a: [1,\n")
    with pytest.raises(ScenarioError, match="invalid YAML"):
        read_yaml(tmp_path / "b.yaml")
    with pytest.raises(ScenarioError, match="cannot read"):
        read_yaml(tmp_path / "missing.yaml")
