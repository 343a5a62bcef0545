"""Scenarios: YAML -> frozen dataclasses, with one named error for bad input.

``load_scenario(path, overrides)`` reads a YAML file (``yaml.safe_load``), applies
``key.path=value`` overrides and maps it onto :class:`Scenario`. Unknown keys, wrong types
and out-of-range values raise :class:`~simulator.errors.ScenarioError` naming the YAML path
(``eves[2].mobility.speed_mps``) and the value, with the closest key for typos.
Numbers written like ``2.4e9`` (a string to YAML 1.1) are accepted for numeric fields.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from semsim.simulator.channels import ChannelConfig
from semsim.simulator.codecs import CODECS
from semsim.simulator.errors import ScenarioError, check
from semsim.simulator.estimators import EstimatorConfig
from semsim.simulator.link_budget import LinkConfig
from semsim.simulator.mobility import (
    ConstantVelocity,
    GaussMarkov,
    MobilityConfig,
    RandomWaypoint,
    Static,
)
from semsim.simulator.pathloss import PropagationConfig
from semsim.simulator.sources import SOURCES

__all__ = [
    "AliceConfig",
    "CodecConfig",
    "EveGenerator",
    "PlacementConfig",
    "ReceiverConfig",
    "RunConfig",
    "Scenario",
    "ScenarioError",
    "SecrecyConfig",
    "SourceConfig",
    "TraceConfig",
    "TrafficConfig",
    "apply_overrides",
    "load_scenario",
    "parse_scenario",
    "scenario_to_dict",
]


@dataclass(frozen=True)
class RunConfig:
    """How long to run: exactly one of ``num_packets`` / ``duration_s``; root ``seed``;
    ``replicas`` independent repetitions. ``lookahead_packets``: how many packets the
    engine prepares the (exogenous) channel physics for at once; it changes speed only,
    never results."""

    num_packets: int | None = None
    duration_s: float | None = None
    seed: int = 0
    replicas: int = 1
    lookahead_packets: int = 256

    def __post_init__(self) -> None:
        check((self.num_packets is None) != (self.duration_s is None), "num_packets",
              self.num_packets, "give exactly one of num_packets and duration_s")
        check(self.num_packets is None or self.num_packets >= 1, "num_packets",
              self.num_packets, "must be >= 1")
        check(self.duration_s is None or self.duration_s > 0, "duration_s", self.duration_s,
              "must be > 0")
        check(self.seed >= 0, "seed", self.seed, "must be >= 0")
        check(self.replicas >= 1, "replicas", self.replicas, "must be >= 1")
        check(self.lookahead_packets >= 1, "lookahead_packets", self.lookahead_packets,
              "must be >= 1")


@dataclass(frozen=True)
class TrafficConfig:
    """Alice's packet arrivals: ``periodic`` every interval_s from start_s, or ``poisson``
    with mean inter-arrival interval_s (first packet one draw after start_s)."""

    kind: Literal["periodic", "poisson"] = "periodic"
    interval_s: float = 1e-3
    start_s: float = 0.0

    def __post_init__(self) -> None:
        check(self.interval_s > 0, "interval_s", self.interval_s, "must be > 0")
        check(self.start_s >= 0, "start_s", self.start_s, "must be >= 0")


@dataclass(frozen=True)
class AliceConfig:
    """The transmitter. ``initial_snr_est_db``: what Alice assumes before Bob's first
    report arrives. ``tx_power_dbm``/``antenna_gain_dbi`` override ``link``."""

    mobility: MobilityConfig = Static()
    traffic: TrafficConfig = TrafficConfig()
    initial_snr_est_db: float = 10.0
    tx_power_dbm: float | None = None
    antenna_gain_dbi: float | None = None


@dataclass(frozen=True)
class ReceiverConfig:
    """Bob or one Eve: mobility, small-scale channel, SNR estimator; optional overrides of
    the scenario's propagation and of link.rx_antenna_gain_dbi / link.noise_figure_db."""

    name: str = ""
    mobility: MobilityConfig = Static()
    channel: ChannelConfig = ChannelConfig()
    estimator: EstimatorConfig = EstimatorConfig()
    propagation: PropagationConfig | None = None
    antenna_gain_dbi: float | None = None
    noise_figure_db: float | None = None

    def __post_init__(self) -> None:
        check(self.noise_figure_db is None or self.noise_figure_db >= 0, "noise_figure_db",
              self.noise_figure_db, "must be >= 0")


@dataclass(frozen=True)
class PlacementConfig:
    """Where generated Eves start: evenly on a ``ring`` (center_m, radius_m,
    start_angle_deg) or evenly on a ``line`` from start_m to end_m."""

    kind: Literal["ring", "line"] = "ring"
    center_m: tuple[float, float] = (0.0, 0.0)
    radius_m: float = 10.0
    start_angle_deg: float = 0.0
    start_m: tuple[float, float] = (0.0, 0.0)
    end_m: tuple[float, float] = (10.0, 0.0)

    def __post_init__(self) -> None:
        check(self.radius_m >= 0, "radius_m", self.radius_m, "must be >= 0")

    def positions(self, count: int) -> list[tuple[float, float]]:
        """``count`` start positions in metres."""
        if self.kind == "ring":
            cx, cy = self.center_m
            a0 = math.radians(self.start_angle_deg)
            return [(cx + self.radius_m * math.cos(a0 + 2 * math.pi * i / count),
                     cy + self.radius_m * math.sin(a0 + 2 * math.pi * i / count))
                    for i in range(count)]
        (x0, y0), (x1, y1) = self.start_m, self.end_m
        fr = [i / (count - 1) if count > 1 else 0.0 for i in range(count)]
        return [(x0 + f * (x1 - x0), y0 + f * (y1 - y0)) for f in fr]


@dataclass(frozen=True)
class EveGenerator:
    """``eves: {count: N, template: {...}, placement: {...}}``: N copies of the template
    named ``<name_prefix><i>``, each started at its placement position."""

    count: int = 1
    template: ReceiverConfig = ReceiverConfig()
    placement: PlacementConfig | None = None
    name_prefix: str = "eve"

    def __post_init__(self) -> None:
        check(self.count >= 0, "count", self.count, "must be >= 0")

    def expand(self) -> tuple[ReceiverConfig, ...]:
        """The generated receiver configs."""
        positions = self.placement.positions(self.count) if self.placement else None
        out = []
        for i in range(self.count):
            mob = self.template.mobility
            if positions is not None:
                mob = _place(mob, positions[i])
            out.append(dataclasses.replace(self.template, name=f"{self.name_prefix}{i}",
                                           mobility=mob))
        return tuple(out)


def _place(mob: MobilityConfig, pos: tuple[float, float]) -> MobilityConfig:
    if isinstance(mob, (Static, ConstantVelocity, GaussMarkov)):
        return dataclasses.replace(mob, position_m=pos)
    if isinstance(mob, RandomWaypoint):
        return dataclasses.replace(mob, start_m=pos)
    dx, dy = pos[0] - mob.points_m[0][0], pos[1] - mob.points_m[0][1]
    return dataclasses.replace(mob, points_m=tuple((x + dx, y + dy) for x, y in mob.points_m))


@dataclass(frozen=True)
class SecrecyConfig:
    """Target secrecy rate for the secrecy-outage flag, bit/s/Hz."""

    target_rate_bps_hz: float = 0.5

    def __post_init__(self) -> None:
        check(self.target_rate_bps_hz >= 0, "target_rate_bps_hz", self.target_rate_bps_hz,
              "must be >= 0")


@dataclass(frozen=True)
class CodecConfig:
    """Codec by registry name; ``options`` is the codec module's ``Options`` dataclass
    (None -> its defaults); ``device``: auto | cpu | cuda[:N]; ``decode_batch_packets``:
    decode this many packets per codec call (1: every transmission event on its own);
    ``encode_batch_packets``: run the SNR-independent part of Alice's encoder for this many
    packets per call (codecs with ``prepare_many``; 1: per packet); ``batch_replicas``:
    replicas run together in one process whose decodes share model calls (codecs with
    ``shared_decode``; 1: each replica on its own)."""

    name: str = "reference"
    device: str = "auto"
    decode_batch_packets: int = 1
    encode_batch_packets: int = 1
    batch_replicas: int = 1
    options: Any = None

    def __post_init__(self) -> None:
        check(re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device) is not None, "device",
              self.device, "must be auto, cpu or cuda[:N]")
        check(self.decode_batch_packets >= 1, "decode_batch_packets",
              self.decode_batch_packets, "must be >= 1")
        check(self.encode_batch_packets >= 1, "encode_batch_packets",
              self.encode_batch_packets, "must be >= 1")
        check(self.batch_replicas >= 1, "batch_replicas", self.batch_replicas,
              "must be >= 1")


@dataclass(frozen=True)
class SourceConfig:
    """Image source by registry name; ``options`` is the source module's ``Options``."""

    kind: str = "synthetic"
    options: Any = None


@dataclass(frozen=True)
class TraceConfig:
    """Trace output: rows per Parquet part; ``event_log`` keeps the SimPy event-order log
    (also written as events-rNNN.jsonl)."""

    part_rows: int = 100_000
    event_log: bool = False

    def __post_init__(self) -> None:
        check(self.part_rows >= 1, "part_rows", self.part_rows, "must be >= 1")


@dataclass(frozen=True)
class Scenario:
    """A whole simulation: one Alice, one Bob, any number of Eves."""

    name: str = "scenario"
    description: str = ""
    run: RunConfig = RunConfig(num_packets=1000)
    link: LinkConfig = LinkConfig()
    propagation: PropagationConfig = PropagationConfig()
    alice: AliceConfig = AliceConfig()
    bob: ReceiverConfig = ReceiverConfig(name="bob")
    eves: tuple[ReceiverConfig, ...] = ()
    secrecy: SecrecyConfig = SecrecyConfig()
    codec: CodecConfig = CodecConfig()
    source: SourceConfig = SourceConfig()
    trace: TraceConfig = TraceConfig()

    def __post_init__(self) -> None:
        check(re.fullmatch(r"[A-Za-z0-9_.-]+", self.name) is not None, "name", self.name,
              "use letters, digits, '_', '-', '.' only (it names the run folder)")
        seen = {"alice"}
        for path, rx in [("bob.name", self.bob), *((f"eves[{i}].name", e)
                                                   for i, e in enumerate(self.eves))]:
            check(bool(rx.name) and rx.name not in seen, path, rx.name,
                  "receiver names must be non-empty, unique and not 'alice'")
            seen.add(rx.name)

    @property
    def receivers(self) -> tuple[ReceiverConfig, ...]:
        """Bob first, then the Eves."""
        return (self.bob, *self.eves)


# ---------------------------------------------------------------------------- parsing

def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(key: str, known: typing.Iterable[str]) -> str | None:
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.5)
    return close[0] if close else None


def _as_float(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise ScenarioError(path, "expected a number, not a boolean", value)
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            raise ScenarioError(path, "expected a number", value) from None
    else:
        raise ScenarioError(path, "expected a number", value)
    if math.isnan(out):
        raise ScenarioError(path, "expected a number, not NaN", value)
    return out


def _as_int(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    out = _as_float(value, path)
    if not out.is_integer():
        raise ScenarioError(path, "expected an integer", value)
    return int(out)


def _parse_value(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise ScenarioError(path, "must not be null", value)
        members = [a for a in args if a is not type(None)]
        if all(dataclasses.is_dataclass(m) for m in members) and len(members) > 1:
            return _parse_kind_union(members, value, path)
        if len(members) == 1:
            return _parse_value(members[0], value, path)
        raise TypeError(f"unsupported union {tp}")  # pragma: no cover - programming error
    if value is None:
        raise ScenarioError(path, "must not be null", value)
    if origin is Literal:
        if value not in args:
            raise ScenarioError(path, f"must be one of {', '.join(map(str, args))}", value,
                                _suggest(str(value), map(str, args)))
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ScenarioError(path, "expected true or false", value)
        return value
    if tp is int:
        return _as_int(value, path)
    if tp is float:
        return _as_float(value, path)
    if tp is str:
        if not isinstance(value, str):
            raise ScenarioError(path, "expected a string", value)
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ScenarioError(path, "expected a list", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_parse_value(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ScenarioError(path, f"expected a list of {len(args)} values", value)
        return tuple(_parse_value(a, v, f"{path}[{i}]")
                     for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if dataclasses.is_dataclass(tp):
        return _parse_dataclass(tp, value, path)
    raise TypeError(f"unsupported field type {tp}")  # pragma: no cover - programming error


def _parse_kind_union(members: list[type], value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise ScenarioError(path, "expected a mapping with a 'kind' key", value)
    kinds = {typing.get_args(typing.get_type_hints(m)["kind"])[0]: m for m in members}
    if "kind" not in value:
        raise ScenarioError(_join(path, "kind"), f"missing; one of {', '.join(kinds)}")
    kind = value.get("kind")
    if kind not in kinds:
        raise ScenarioError(_join(path, "kind"), f"must be one of {', '.join(kinds)}", kind,
                            _suggest(str(kind), kinds))
    return _parse_dataclass(kinds[kind], value, path)


def _parse_dataclass(cls: type, value: Any, path: str, skip: tuple[str, ...] = ()) -> Any:
    if not isinstance(value, dict):
        raise ScenarioError(path, f"expected a mapping for {cls.__name__}", value)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs = {}
    for key, item in value.items():
        if key not in names:
            raise ScenarioError(_join(path, str(key)), "unknown key", item,
                                _suggest(str(key), names))
        if key in skip:
            continue
        kwargs[key] = _parse_value(hints[key], item, _join(path, key))
    try:
        return cls(**kwargs)
    except ScenarioError as err:
        raise err.under(path) from None


def _parse_plugin(cls: type, registry, name_key: str, value: Any, path: str) -> Any:
    if value is None:
        value = {}
    base = _parse_dataclass(cls, value, path, skip=("options",))
    module = registry.module(getattr(base, name_key), _join(path, name_key))
    options = _parse_dataclass(module.Options, value.get("options") or {},
                               _join(path, "options"))
    return dataclasses.replace(base, options=options)


def _parse_receiver(value: Any, path: str, default_name: str) -> ReceiverConfig:
    rx = _parse_dataclass(ReceiverConfig, value, path)
    return rx if rx.name else dataclasses.replace(rx, name=default_name)


def _parse_eves(value: Any, path: str) -> tuple[ReceiverConfig, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(_parse_receiver(v, f"{path}[{i}]", f"eve{i}") for i, v in enumerate(value))
    if isinstance(value, dict):
        return _parse_dataclass(EveGenerator, value, path).expand()
    raise ScenarioError(path, "expected a list of receivers or {count, template, placement}",
                        value)


def parse_scenario(data: Any, source: str | None = None) -> Scenario:
    """Map a YAML document (already loaded) onto :class:`Scenario`."""
    try:
        if not isinstance(data, dict):
            raise ScenarioError("", "a scenario must be a YAML mapping", data)
        special = {"bob", "eves", "codec", "source"}
        plain = {k: v for k, v in data.items() if k not in special}
        base = _parse_dataclass(Scenario, plain, "")
        bob = _parse_receiver(data.get("bob") or {}, "bob", "bob")
        eves = _parse_eves(data.get("eves"), "eves")
        codec = _parse_plugin(CodecConfig, CODECS, "name", data.get("codec"), "codec")
        src = _parse_plugin(SourceConfig, SOURCES, "kind", data.get("source"), "source")
        try:
            return dataclasses.replace(base, bob=bob, eves=eves, codec=codec, source=src)
        except ScenarioError as err:
            raise err.under("") from None
    except ScenarioError as err:
        raise err.in_file(source) if source else err from None


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def apply_overrides(data: dict, overrides: typing.Iterable[str]) -> dict:
    """Apply ``key.path=value`` overrides (value parsed as YAML) to a raw scenario dict.

    Paths use dots and list indices: ``eves[0].mobility.speed_mps=2``. Missing mappings
    are created, so a misspelt key surfaces as the usual unknown-key error.
    """
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(item, "override must look like key.path=value", item)
        key, text = item.split("=", 1)
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ScenarioError(key, f"override value is not valid YAML: {exc}", text) from None
        tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(key.strip())]
        if not tokens:
            raise ScenarioError(key, "empty override path", item)
        node: Any = data
        for depth, (name, index) in enumerate(tokens):
            last = depth == len(tokens) - 1
            where = key
            if name is not None:
                if not isinstance(node, dict):
                    raise ScenarioError(where, "cannot set a key inside a non-mapping", node)
                if last:
                    node[name] = value
                else:
                    if not isinstance(node.get(name), (dict, list)):
                        node[name] = {}
                    node = node[name]
            else:
                idx = int(index)
                if not isinstance(node, list) or idx >= len(node):
                    raise ScenarioError(where, "list index out of range", idx)
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
    return data


def load_scenario(path: str | Path, overrides: typing.Iterable[str] = ()) -> Scenario:
    """Read, override and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError("", f"cannot read scenario: {exc.strerror}", str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError("", f"invalid YAML: {exc}", source=str(path)) from None
    if data is None:
        data = {}
    if isinstance(data, dict):
        try:
            apply_overrides(data, overrides)
        except ScenarioError as err:
            raise err.in_file(str(path)) from None
    return parse_scenario(data, source=str(path))


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [_plain(v) for v in obj]
    return obj


def scenario_to_dict(scenario: Scenario) -> dict:
    """The resolved scenario as plain YAML-able data (parses back to an equal Scenario)."""
    return _plain(scenario)
