"""Property test of the scenario parser (issue 14): a mutated shipped scenario -- unknown keys
at any level, wrong types, non-finite and extreme numbers, deleted keys, ``--set``
overrides with good and malformed paths -- loads as a valid scenario (every number finite)
or raises one ScenarioError naming a key; never another exception. Parse only."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import Scenario, load_scenario, scenario_to_dict

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
RAW = {p.name: yaml.safe_load(p.read_text()) for p in SCENARIOS}
TOP_KEYS = {f.name for f in dataclasses.fields(Scenario)}

EXTREME = st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 1e-300, 2**63,
                           2**64, -(2**63) - 1, 10**30, 1e9, -1, 0, "1e400", ".inf", "nan"])
NUMBERS = st.one_of(EXTREME, st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(-(2**70), 2**70))
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " _-.[]", max_size=8)
SCALARS = st.one_of(NUMBERS, st.booleans(), st.none(), TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)
KEYS = st.one_of(st.sampled_from(["kind", "kidn", "options", "name", "count", "seed"]),
                 st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12))
BAD_PATHS = st.one_of(
    st.sampled_from(["run..seed", ".run.seed", "eves[0]name", "run.", "[0]", "", "run.seed]",
                     "eves[-1].name", "run seed", "a" + ".a" * 200, "eves[99].name",
                     "run.seed[0]", "bob.mobility.kind.x"]),
    st.text(alphabet="ab_.[]0 1", max_size=12))


def _nodes(doc: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    out = [(path, doc)]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, (*path, i))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


def _dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


def _mutate(data: st.DataObject, doc: dict, overrides: list[str]) -> None:
    nodes = _nodes(doc)
    inner = [(p, v) for p, v in nodes if p]
    kind = data.draw(st.sampled_from(["unknown_key", "wrong_type", "number", "delete",
                                      "override", "bad_path"]))
    if kind == "unknown_key":
        mappings = [(p, v) for p, v in nodes if isinstance(v, dict)]
        _, node = mappings[data.draw(st.integers(0, len(mappings) - 1))]
        node[data.draw(KEYS)] = data.draw(VALUES)
    elif kind in ("wrong_type", "number", "delete"):
        if kind == "number":
            inner = [(p, v) for p, v in inner if isinstance(v, (int, float))] or inner
        path, _ = inner[data.draw(st.integers(0, len(inner) - 1))]
        parent = _parent(doc, path)
        if kind == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(NUMBERS if kind == "number" else VALUES)
    elif kind == "override":
        path, _ = inner[data.draw(st.integers(0, len(inner) - 1))]
        value = data.draw(st.one_of(NUMBERS, VALUES))
        overrides.append(f"{_dotted(path)}={_yaml(value)}")
    else:
        overrides.append(f"{data.draw(BAD_PATHS)}={_yaml(data.draw(SCALARS))}")


def _names_a_key(err: ScenarioError, doc: dict, overrides: list[str]) -> bool:
    if not err.path:
        return False
    if err.path in {o.split("=", 1)[0].strip() or "--set" for o in overrides}:
        return True  # the override's own (malformed or unusable) path
    head = re.match(r"[^.\[]*", err.path).group(0)
    return head in TOP_KEYS or head in doc


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mutants")


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_shipped_scenarios_parse_or_name_a_key(folder, data):
    name = data.draw(st.sampled_from(sorted(RAW)))
    doc = copy.deepcopy(RAW[name])
    overrides: list[str] = []
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(data, doc, overrides)
    path = folder / name
    path.write_text(yaml.safe_dump(doc))
    try:
        scenario = load_scenario(path, overrides)
    except ScenarioError as err:
        assert _names_a_key(err, yaml.safe_load(path.read_text()) or {}, overrides), str(err)
        assert len(str(err)) < 2000
    else:
        assert isinstance(scenario, Scenario)
        assert _finite(scenario_to_dict(scenario))
