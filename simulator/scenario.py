"""Scenarios: the composition of a run (Alice, Bob, the Eves, codec, source) and its loader.

``load_scenario(path, overrides)`` reads a YAML file (``yaml.safe_load``), applies
``key.path=value`` overrides and maps it onto :class:`Scenario` with the generic parser of
:mod:`semsim.simulator.config_yaml` (named errors: YAML path, value, closest key). Each
part's config lives next to its logic (``ChannelConfig`` in channels, ``TrafficConfig`` in
traffic, ``SecrecyConfig`` in secrecy, ``TraceConfig`` in trace, ...); this module holds the
configs of the scenario's own structure.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from semsim.simulator.channels import ChannelConfig
from semsim.simulator.coalitions import CoalitionConfig
from semsim.simulator.codecs import CODECS
from semsim.simulator.config_yaml import (
    apply_overrides,
    parse_dataclass,
    parse_plugin,
    parse_value,
    read_yaml,
    to_plain,
)
from semsim.simulator.errors import (
    MAX_ABS_DB,
    MAX_ANGLE_DEG,
    MAX_BATCH,
    MAX_COORD_M,
    MAX_EVES,
    MAX_GAIN_DB,
    MAX_PACKETS,
    MAX_REPLICAS,
    MAX_SEED,
    MAX_TIME_S,
    POWER_DBM,
    ScenarioError,
    check,
    check_attackers,
    check_range,
)
from semsim.simulator.estimators import EstimatorConfig
from semsim.simulator.feedback import ForgeConfig
from semsim.simulator.link_budget import LinkConfig
from semsim.simulator.mobility import (
    ConstantVelocity,
    GaussMarkov,
    MobilityConfig,
    RandomWaypoint,
    Static,
    check_xy,
)
from semsim.simulator.names import check_name
from semsim.simulator.pathloss import PropagationConfig
from semsim.simulator.scenario_checks import check_roles
from semsim.simulator.secrecy import SecrecyConfig
from semsim.simulator.sources import SOURCES
from semsim.simulator.spatial import SpatialConfig
from semsim.simulator.trace import TraceConfig
from semsim.simulator.traffic import TrafficConfig

__all__ = [
    "AliceConfig",
    "CodecConfig",
    "EveGenerator",
    "MAX_LOOKAHEAD_ROWS",
    "PlacementConfig",
    "ReceiverConfig",
    "RunConfig",
    "Scenario",
    "ScenarioError",
    "SourceConfig",
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
        check_range(self.num_packets, "num_packets", 1, MAX_PACKETS)
        check_range(self.duration_s, "duration_s", 0.0, MAX_TIME_S, lo_open=True)
        check_range(self.seed, "seed", 0, MAX_SEED)
        check_range(self.replicas, "replicas", 1, MAX_REPLICAS)
        check_range(self.lookahead_packets, "lookahead_packets", 1, MAX_BATCH)


@dataclass(frozen=True)
class AliceConfig:
    """The transmitter. ``initial_snr_est_db``: what Alice assumes before Bob's first
    report arrives. ``tx_power_dbm``/``antenna_gain_dbi`` override ``link``."""

    mobility: MobilityConfig = Static()
    traffic: TrafficConfig = TrafficConfig()
    initial_snr_est_db: float = 10.0
    tx_power_dbm: float | None = None
    antenna_gain_dbi: float | None = None
    authenticate_feedback: bool = False

    def __post_init__(self) -> None:
        check_range(self.initial_snr_est_db, "initial_snr_est_db", -MAX_ABS_DB, MAX_ABS_DB)
        check_range(self.tx_power_dbm, "tx_power_dbm", *POWER_DBM)
        check_range(self.antenna_gain_dbi, "antenna_gain_dbi", -MAX_GAIN_DB, MAX_GAIN_DB)


@dataclass(frozen=True)
class ReceiverConfig:
    """Bob or one Eve: mobility, small-scale channel, SNR estimator; optional overrides of
    the scenario's propagation and of link.rx_antenna_gain_dbi / link.noise_figure_db.
    An Eve's ``attackers`` narrow the codec's ensemble for her (None: all of them; the
    first one's outcome is her ``m_correct``); ``forge_feedback`` makes her active."""

    name: str = ""
    mobility: MobilityConfig = Static()
    channel: ChannelConfig = ChannelConfig()
    estimator: EstimatorConfig = EstimatorConfig()
    propagation: PropagationConfig | None = None
    antenna_gain_dbi: float | None = None
    noise_figure_db: float | None = None
    forge_feedback: ForgeConfig | None = None
    attackers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_range(self.antenna_gain_dbi, "antenna_gain_dbi", -MAX_GAIN_DB, MAX_GAIN_DB)
        if self.attackers is not None:
            check_attackers(self.attackers, hint=" (or leave attackers out: the codec's "
                            "whole ensemble)")
        check_range(self.noise_figure_db, "noise_figure_db", 0.0, MAX_GAIN_DB)


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
        check_xy(self.center_m, "center_m")
        check_range(self.radius_m, "radius_m", 0.0, MAX_COORD_M)
        check_range(self.start_angle_deg, "start_angle_deg", -MAX_ANGLE_DEG, MAX_ANGLE_DEG)
        check_xy(self.start_m, "start_m")
        check_xy(self.end_m, "end_m")

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
        check_range(self.count, "count", 0, MAX_EVES)

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
class CodecConfig:
    """Codec by registry name; ``options`` is the codec module's ``Options`` dataclass
    (None -> its defaults); ``device``: auto | cpu | cuda[:N]; ``decode_batch_packets``:
    decode this many packets per codec call (1: every transmission event on its own);
    ``encode_batch_packets``: run the SNR-independent part of Alice's encoder for this many
    packets per call (codecs with ``prepare_many``; 1: per packet); ``batch_replicas``:
    replicas run together in one process whose decodes share model calls (codecs with
    ``shared_decode``; 1: each replica on its own); ``decode_behind``: run the codec's
    decode calls on a worker thread while the simulation goes on (codecs with
    ``decode_behind_safe``; the same trace)."""

    name: str = "reference"
    device: str = "auto"
    decode_batch_packets: int = 1
    encode_batch_packets: int = 1
    batch_replicas: int = 1
    decode_behind: bool = False
    options: Any = None

    def __post_init__(self) -> None:
        check(re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device) is not None, "device",
              self.device, "must be auto, cpu or cuda[:N]")
        check_range(self.decode_batch_packets, "decode_batch_packets", 1, MAX_BATCH)
        check_range(self.encode_batch_packets, "encode_batch_packets", 1, MAX_BATCH)
        check_range(self.batch_replicas, "batch_replicas", 1, MAX_REPLICAS)


@dataclass(frozen=True)
class SourceConfig:
    """Image source by registry name; ``options`` is the source module's ``Options``."""

    kind: str = "synthetic"
    options: Any = None


#: most rows (packets x receivers) the engine prepares at once (run.lookahead_packets)
MAX_LOOKAHEAD_ROWS = 2**24


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
    spatial: SpatialConfig = SpatialConfig()
    coalitions: tuple[CoalitionConfig, ...] = ()
    codec: CodecConfig = CodecConfig()
    source: SourceConfig = SourceConfig()
    trace: TraceConfig = TraceConfig()

    def __post_init__(self) -> None:
        check_name(self.name, "name")  # it names the run folder
        seen = {"alice"}
        for path, rx in [("bob.name", self.bob), *((f"eves[{i}].name", e)
                                                   for i, e in enumerate(self.eves))]:
            check(bool(rx.name) and rx.name not in seen, path, rx.name,
                  "receiver names must be non-empty, unique and not 'alice'")
            seen.add(rx.name)
        check(len(self.eves) <= MAX_EVES, "eves", f"{len(self.eves)} Eves",
              f"at most {MAX_EVES} Eves")
        receivers = 1 + len(self.eves) + len(self.coalitions)
        check(self.run.lookahead_packets * receivers <= MAX_LOOKAHEAD_ROWS,
              "run.lookahead_packets", self.run.lookahead_packets,
              f"lookahead_packets x receivers ({receivers}) must be <= {MAX_LOOKAHEAD_ROWS}")
        traffic = self.alice.traffic
        if self.run.duration_s is not None:
            packets = (self.run.duration_s - traffic.start_s) / traffic.interval_s
            check(packets <= MAX_PACKETS, "run.duration_s", self.run.duration_s,
                  f"about {packets:.3g} packets at alice.traffic.interval_s = "
                  f"{traffic.interval_s:g} s; at most {MAX_PACKETS}")
        check_roles(self, seen)

    @property
    def receivers(self) -> tuple[ReceiverConfig, ...]:
        """Bob first, then the Eves."""
        return (self.bob, *self.eves)


def _parse_receiver(value: Any, path: str, default_name: str) -> ReceiverConfig:
    rx = parse_dataclass(ReceiverConfig, value, path)
    return rx if rx.name else dataclasses.replace(rx, name=default_name)


def _parse_eves(value: Any, path: str) -> tuple[ReceiverConfig, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(_parse_receiver(v, f"{path}[{i}]", f"eve{i}") for i, v in enumerate(value))
    if isinstance(value, dict):
        gen = parse_dataclass(EveGenerator, value, path)
        try:
            return gen.expand()
        except ScenarioError as err:  # the placement moved the template's mobility
            raise ScenarioError(f"{path}.placement", f"puts an Eve where the template's "
                                f"mobility refuses it: mobility.{err.path}: {err.message}",
                                err.value) from None
    raise ScenarioError(path, "expected a list of receivers or {count, template, placement}",
                        value)


def parse_scenario(data: Any, source: str | None = None) -> Scenario:
    """Map a YAML document (already loaded) onto :class:`Scenario`."""
    try:
        if not isinstance(data, dict):
            raise ScenarioError("", "a scenario must be a YAML mapping", data)
        special = {"bob", "eves", "coalitions", "codec", "source"}
        plain = {k: v for k, v in data.items() if k not in special}
        base = parse_dataclass(Scenario, plain, "")
        bob = _parse_receiver(data.get("bob") or {}, "bob", "bob")
        eves = _parse_eves(data.get("eves"), "eves")
        coalitions = parse_value(typing.get_type_hints(Scenario)["coalitions"],
                                 data.get("coalitions") or [], "coalitions")
        codec = parse_plugin(CodecConfig, CODECS, "name", data.get("codec"), "codec")
        src = parse_plugin(SourceConfig, SOURCES, "kind", data.get("source"), "source")
        try:
            return dataclasses.replace(base, bob=bob, eves=eves, codec=codec, source=src,
                                       coalitions=coalitions)
        except ScenarioError as err:
            raise err.under("") from None
    except ScenarioError as err:
        raise err.in_file(source) if source else err from None


def load_scenario(path: str | Path, overrides: typing.Iterable[str] = ()) -> Scenario:
    """Read, override and validate a scenario file."""
    data = read_yaml(path)
    if isinstance(data, dict):
        try:
            apply_overrides(data, overrides)
        except ScenarioError as err:
            raise err.in_file(str(path)) from None
    return parse_scenario(data, source=str(path))


def scenario_to_dict(scenario: Scenario) -> dict:
    """The resolved scenario as plain YAML-able data (parses back to an equal Scenario)."""
    return to_plain(scenario)
