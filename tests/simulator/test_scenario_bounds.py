"""Issue 14, input validation: non-finite and absurd numbers, sizes and seeds bounded up
front, tracebacks turned into named errors, duplicate keys, malformed override paths and
errors that name the full key."""

from __future__ import annotations

import dataclasses
import math
import time
import types
import typing
from pathlib import Path

import numpy as np
import pytest
import simpy

from semsim.simulator import sources
from semsim.simulator.config_yaml import MAX_DEPTH, apply_overrides, load_yaml
from semsim.simulator.errors import MAX_SEED, MAX_SHOWN_CHARS, ScenarioError
from semsim.simulator.mobility import GaussMarkov
from semsim.simulator.scenario import PlacementConfig, Scenario, load_scenario, parse_scenario

RUN = {"num_packets": 5}
#: keys a field needs beside it to be read at all
CONTEXT = {"k_factor": {"fading": "rician"}, "m": {"fading": "nakagami"},
           "duration_s": {"num_packets": None}}


def _leaves(cls: type, prefix: str, numeric: type) -> list[tuple[str, dict]]:
    """(path, mapping at that config) of every ``numeric`` field of ``cls``, nested
    configs included (each kind of a kind-union once), element [0] of tuples."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
            tp = args[0]
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            for kind_cls in args:
                kind = typing.get_args(typing.get_type_hints(kind_cls)["kind"])[0]
                out += [(p, {f.name: {"kind": kind, **d}})
                        for p, d in _leaves(kind_cls, f"{prefix}{f.name}.", numeric)]
            continue
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            out += [(p, {f.name: d}) for p, d in _leaves(tp, path + ".", numeric)]
        elif tp is numeric:
            out.append((path, {**CONTEXT.get(f.name, {}), f.name: "VALUE"}))
        elif typing.get_origin(tp) is tuple:
            inner = typing.get_args(tp)[0]
            if inner is numeric:
                size = len(typing.get_args(tp))
                default = getattr(cls(), f.name) or (0.0, 0.0, 100.0, 100.0)[:size]
                out.append((f"{path}[0]", {f.name: ["VALUE", *default[1:]]}))
            elif typing.get_origin(inner) is tuple:
                out.append((f"{path}[0][0]", {f.name: [["VALUE", 0.0], [1.0, 0.0]]}))
    return out


def _sections(numeric: type) -> list[tuple[str, dict]]:
    """Every numeric leaf of a scenario, as (path, scenario data with VALUE there)."""
    out = []
    hints = typing.get_type_hints(Scenario)
    for key in ("run", "link", "propagation", "alice", "bob", "secrecy", "codec", "trace"):
        out += [(p, {key: d}) for p, d in _leaves(hints[key], f"{key}.", numeric)]
    out += [(p, {"eves": {"count": 1, "placement": d}})
            for p, d in _leaves(PlacementConfig, "eves.placement.", numeric)]
    if numeric is int:
        out.append(("eves.count", {"eves": {"count": "VALUE"}}))
    out += [(p, {"source": {"kind": "synthetic", "options": d}})
            for p, d in _leaves(sources.Options, "source.options.", numeric)]
    return out


def _put(data, value):
    if isinstance(data, dict):
        return {k: _put(v, value) for k, v in data.items()}
    if isinstance(data, list):
        return [_put(v, value) for v in data]
    return value if data == "VALUE" else data


def _error(data: dict) -> ScenarioError:
    with pytest.raises(ScenarioError) as err:
        parse_scenario({"run": RUN, **data} if "run" not in data else
                       {**data, "run": {**RUN, **data["run"]}})
    return err.value


FLOATS = _sections(float)
INTS = _sections(int)


def test_the_field_walk_covers_the_scenario():
    paths = {p for p, _ in FLOATS}
    assert {"link.carrier_hz", "bob.mobility.update_s", "bob.channel.k_factor",
            "eves.placement.center_m[0]", "bob.mobility.points_m[0][0]",
            "source.options.smoothness_px", "alice.traffic.interval_s"} <= paths
    assert len(FLOATS) > 60
    assert {"run.seed", "eves.count", "trace.part_rows", "bob.estimator.num_pilots",
            "source.options.chunk"} <= {p for p, _ in INTS}


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "1e400", 1e308, -1e308])
def test_every_float_field_refuses_non_finite_and_absurd_values(value):
    """Item 10: inf, -inf, NaN, overflowing strings and 1e308 are a named error at the
    field, for every float field of a scenario."""
    wrong = []
    for path, data in FLOATS:
        try:
            err = _error(_put(data, value))
        except pytest.fail.Exception:
            wrong.append(f"{path}: accepted")
            continue
        if err.path != path:
            wrong.append(f"{path}: {err}")
    assert not wrong


@pytest.mark.parametrize("value", [10**30, 2**63, -(2**63) - 1])
def test_every_int_field_is_bounded(value):
    """Item 12: counts, sizes and seeds are bounded at parse time."""
    wrong = []
    for path, data in INTS:
        try:
            err = _error(_put(data, value))
        except pytest.fail.Exception:
            wrong.append(f"{path}: accepted")
            continue
        if err.path != path:
            wrong.append(f"{path}: {err}")
    assert not wrong


def test_bounds_keep_sensible_values():
    sc = parse_scenario({"run": {"num_packets": 10**9, "seed": MAX_SEED},
                         "link": {"carrier_hz": 1e12, "tx_power_dbm": 100},
                         "eves": {"count": 10_000}})
    assert sc.run.seed == 2**63 - 1 and len(sc.eves) == 10_000
    assert _error({"run": {"seed": 2**63}}).path == "run.seed"


@pytest.mark.timeout(10)
def test_a_huge_eve_count_fails_fast():
    started = time.perf_counter()
    assert _error({"eves": {"count": 1e9}}).path == "eves.count"
    assert time.perf_counter() - started < 1


def test_a_duration_of_too_many_packets_is_refused():
    err = _error({"run": {"num_packets": None, "duration_s": 1e8}})
    assert err.path == "run.duration_s" and "packets" in err.message


@pytest.mark.timeout(20)
def test_gauss_markov_at_the_longest_interval_runs_and_infinite_is_refused():
    assert _error({"bob": {"mobility": {"kind": "gauss_markov", "update_s": ".inf"}}}
                  ).path.endswith("update_s")
    assert _error({"bob": {"mobility": {"kind": "gauss_markov", "update_s": math.inf}}}
                  ).path == "bob.mobility.update_s"
    traj = GaussMarkov(update_s=1e9, bounds_m=(-1e7, -1e7, 1e7, 1e7)).build(
        np.random.default_rng(0))
    states = traj.states(np.array([0.0, 1.0, 5e9, 1e10]))
    assert np.isfinite(states).all()


def test_a_scenario_error_survives_simpy():
    """Item 11: SimPy re-raises a process's error as ``type(e)(*e.args)``."""
    env = simpy.Environment()

    def failing():
        yield env.timeout(1)
        raise ScenarioError("bob.mobility.speed_mps", "must be >= 0", -1.0)

    def waiting(proc):
        yield proc

    env.process(waiting(env.process(failing())))
    with pytest.raises(ScenarioError) as err:
        env.run()
    assert (err.value.path, err.value.message, err.value.value) == (
        "bob.mobility.speed_mps", "must be >= 0", -1.0)
    plain = ScenarioError("run", "no value")
    assert str(type(plain)(*plain.args)) == "run: no value"


def test_an_unhashable_kind_is_a_named_error():
    err = _error({"bob": {"mobility": {"kind": ["a"]}}})
    assert err.path == "bob.mobility.kind" and err.value == ["a"]
    assert _error({"bob": {"mobility": {"kind": {"a": 1}}}}).path == "bob.mobility.kind"


def test_a_typo_of_kind_names_the_typo():
    err = _error({"bob": {"mobility": {"kidn": "static"}}})
    assert err.path == "bob.mobility.kidn" and err.hint == "kind"
    err = _error({"bob": {"mobility": {"position_m": [1, 2]}}})
    assert err.path == "bob.mobility.kind" and "missing" in err.message


def test_placement_errors_name_the_placement():
    err = _error({"eves": {"count": 2, "placement": {"kind": "ring", "center_m": [50, 0]},
                           "template": {"mobility": {"kind": "random_waypoint",
                                                     "bounds_m": [0, 0, 10, 10]}}}})
    assert err.path == "eves.placement" and "start_m" in err.message
    err = _error({"eves": {"count": 2, "placement": {"kind": "ring", "radius_m": -1}}})
    assert err.path == "eves.placement.radius_m"


def _load_text(tmp_path: Path, text: str, overrides=()) -> ScenarioError:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, overrides)
    assert err.value.source == str(path)
    return err.value


@pytest.mark.timeout(10)
def test_deep_yaml_is_a_named_error(tmp_path):
    err = _load_text(tmp_path, "run: {num_packets: 5}\nextra: " + "{a: " * 5000 + "1"
                     + "}" * 5000 + "\n")
    assert err.path.startswith("extra.a.a") and f"deeper than {MAX_DEPTH}" in err.message
    err = _load_text(tmp_path, "description: " + "[" * 3000 + "]" * 3000 + "\n")
    assert err.path.startswith("description[0][0]")
    deep = load_yaml("a: " + "[" * 20 + "]" * 20)  # deep enough for any real scenario
    for _ in range(19):
        deep = deep["a"] if isinstance(deep, dict) else deep[0]
    assert deep == [[]]


@pytest.mark.timeout(10)
def test_a_long_override_path_is_a_named_error():
    key = "run" + ".a" * 10_000
    with pytest.raises(ScenarioError) as err:
        apply_overrides({}, [f"{key}=1"])
    assert err.value.path == key and "deeper" in err.value.message
    assert len(str(err.value)) < 2 * MAX_SHOWN_CHARS + 200


@pytest.mark.timeout(10)
def test_an_alias_bomb_gives_a_short_message(tmp_path):
    items = ["&a0 [x, x, x, x, x, x, x, x, x]"]
    items += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 6)}]" for i in range(1, 9)]
    text = f"run: {{num_packets: 5}}\ndescription: [{', '.join(items)}]\n"
    assert len(text) < 1200
    err = _load_text(tmp_path, text)
    assert err.path == "description" and len(str(err)) < MAX_SHOWN_CHARS + 200
    assert str(err).endswith("...)")


def test_a_huge_integer_literal_is_a_named_error(tmp_path):
    err = _load_text(tmp_path, "run: {num_packets: 5, seed: " + "9" * 5000 + "}\n")
    assert err.path == "run.seed" and len(str(err)) < MAX_SHOWN_CHARS + 300


@pytest.mark.parametrize("text,path", [
    ("name: a\nname: b\n", "name"),
    ("run: {num_packets: 5, num_packets: 6}\n", "run.num_packets"),
    ("run: {num_packets: 5}\neves:\n  - {name: a}\n  - {name: b, name: c}\n", "eves[1].name"),
])
def test_duplicate_keys_are_named(tmp_path, text, path):
    err = _load_text(tmp_path, text)
    assert err.path == path and "duplicate key" in err.message


def test_merge_keys_and_anchors_still_work(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("run: {num_packets: 5}\nbob:\n  mobility: &m {kind: static, position_m: "
                    "[3, 4]}\neves:\n  - mobility: {<<: *m, position_m: [5, 6]}\n")
    sc = load_scenario(path)
    assert sc.bob.mobility.position_m == (3, 4) and sc.eves[0].mobility.position_m == (5, 6)
    with pytest.raises(ScenarioError, match="duplicate key"):
        apply_overrides({}, ["bob.mobility={kind: static, kind: static}"])


@pytest.mark.parametrize("item", ["run..seed=1", ".run.seed=1", "eves[0]name=x", "run.=1",
                                  "[0]=1", "=1", "run seed=1", "eves[-1].name=x",
                                  "run.seed]=1", "eves[0]]=1"])
def test_malformed_override_paths_are_refused(item):
    with pytest.raises(ScenarioError) as err:
        apply_overrides({"run": {}, "eves": [{}]}, [item])
    assert err.value.path == (item.split("=", 1)[0].strip() or "--set")
    assert "malformed override path" in err.value.message


def test_wellformed_override_paths_still_work():
    data = apply_overrides({"eves": [{"mobility": {"position_m": [0, 0]}}]},
                           [" eves[0].mobility.position_m[1] = 2", "codec.options.decoder=mf"])
    assert data["eves"][0]["mobility"]["position_m"] == [0, 2]
    assert data["codec"] == {"options": {"decoder": "mf"}}
