"""Engine: builds a run from a Scenario and runs it in SimPy.

One packet's walk: Alice's process encodes (``simulator.nodes.Alice``) with the SNR Bob
last reported (with ``codec.encode_batch_packets`` > 1 the SNR-independent part of the
encoder has already run for a block of upcoming source packets at once); the
:class:`BroadcastLink` takes every receiver's channel state at the packet's time from the
:class:`ReceiverBank` (positions, path loss, shadowing, AR(1) fading and SNR estimates are
exogenous, so the bank computes them vectorised over receivers and
``run.lookahead_packets`` upcoming packets at once), applies the channel to the symbols,
decodes all receivers in one batched codec call (or, with ``codec.decode_batch_packets``
> 1, several packets per call), appends the trace rows and fans the reception out to
every receiver's inbox (like SimPy's BroadcastPipe); Bob's process feeds his SNR estimate
back to Alice after the feedback delay.

:func:`run_scenario` is the library entry point a sweep calls many times.
"""

from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import simpy
import yaml

from semsim.models.common.provenance import (
    atomic_write_text,
    command_line,
    git_state,
    package_versions,
)
from semsim.models.common.seeds import seed_sequence, stream
from semsim.models.common.units import db_to_lin, lin_to_db
from semsim.simulator import channels as ch
from semsim.simulator.codecs import CODECS, Transmission, batched_source, decode_many
from semsim.simulator.errors import ScenarioError
from semsim.simulator.link_budget import mean_snr_db as link_mean_snr_db
from semsim.simulator.link_budget import noise_power_dbm
from semsim.simulator.nodes import Alice, FeedbackChannel, Packet, Receiver, TrafficSchedule
from semsim.simulator.pathloss import log_distance_path_loss_db
from semsim.simulator.scenario import Scenario, scenario_to_dict
from semsim.simulator.secrecy import capacity_bps_hz, secrecy_capacity_bps_hz
from semsim.simulator.sources import SOURCES
from semsim.simulator.trace import TraceWriter

__all__ = [
    "BroadcastLink",
    "Observation",
    "ReceiverBank",
    "RunResult",
    "new_run_id",
    "run_replicas",
    "run_scenario",
]

_SQRT_HALF = math.sqrt(0.5)
_NOISE_BUDGET = 4_000_000  # float64 values of precomputed noise per chunk (~32 MB)
_NUM_AUX = 5  # per receiver and event: 2 fading innovation, 1 shadowing, 2 estimator


def _groups(objs: list) -> list[tuple[object, np.ndarray | slice]]:
    """Group receivers by equal (hashable) model objects -> [(obj, index)]."""
    out: dict[object, list[int]] = {}
    for i, o in enumerate(objs):
        out.setdefault(o, []).append(i)
    if len(out) == 1:
        return [(objs[0], slice(None))]
    return [(o, np.asarray(idx)) for o, idx in out.items()]


@dataclass
class Observation:
    """What the R receivers see of packet k: ``rows`` maps per-receiver trace columns
    (positions, path loss, shadowing, fading, SNRs, capacities; see docs/traces.md) to
    arrays (R,); ``gain`` (R,) complex h; ``noise_var`` (R,) per real dimension
    (1 / mean SNR); ``received`` (R, F) equalised reals."""

    time_s: float
    tx_state: np.ndarray  # (4,) Alice x_m, y_m, vx_mps, vy_mps
    rows: dict[str, np.ndarray]
    gain: np.ndarray
    noise_var: np.ndarray
    received: np.ndarray


class ReceiverBank:
    """Propagation, fading and estimator state of every receiver, advanced together.

    The physics is exogenous (it depends on packet times, mobility and each receiver's own
    random streams, never on what Alice sends), so it is prepared ``lookahead`` packets at
    a time as (K, R) arrays; only the channel application to the symbols happens per
    packet. Each receiver draws from its own streams (``mobility``; ``channel``: 5 normals
    per packet for fading, shadowing and estimator; ``noise``: F per packet), so adding a
    receiver never changes another one's randomness and the lookahead never changes
    results.
    """

    def __init__(self, scenario: Scenario, seed: int, replica: int, *, alice_traj,
                 schedule, lookahead: int = 256, target_rate_bps_hz: float = 0.0) -> None:
        rxs = scenario.receivers
        link = scenario.link
        self.num = R = len(rxs)
        self.names = [r.name for r in rxs]
        self.is_eve = np.arange(R) > 0
        self.carrier_hz = link.carrier_hz
        self.alice_traj, self.schedule = alice_traj, schedule
        self.lookahead = max(1, int(lookahead))
        self.target = target_rate_bps_hz
        self.traj = [r.mobility.build(stream(seed, replica, r.name, "mobility")) for r in rxs]
        self.static_geometry = alice_traj.is_static and all(t.is_static for t in self.traj)
        self.aux_rng = [stream(seed, replica, r.name, "channel") for r in rxs]
        self.noise_rng = [stream(seed, replica, r.name, "noise") for r in rxs]
        props = [r.propagation or scenario.propagation for r in rxs]
        self.exponent = np.array([p.exponent for p in props])
        self.ref_distance_m = np.array([p.ref_distance_m for p in props])
        self.ref_loss_db = np.array([p.reference_loss_db(link.carrier_hz) for p in props])
        self.shadow_std_db = np.array([p.shadowing_std_db for p in props])
        self.inv_decorr_m = np.array([1.0 / p.shadowing_decorrelation_m
                                      if p.shadowing_decorrelation_m > 0 else 0.0
                                      for p in props])
        a = scenario.alice
        self.tx_power_dbm = link.tx_power_dbm if a.tx_power_dbm is None else a.tx_power_dbm
        self.tx_gain_dbi = (link.tx_antenna_gain_dbi if a.antenna_gain_dbi is None
                            else a.antenna_gain_dbi)
        self.rx_gain_dbi = np.array([link.rx_antenna_gain_dbi if r.antenna_gain_dbi is None
                                     else r.antenna_gain_dbi for r in rxs])
        self.noise_dbm = noise_power_dbm(link.bandwidth_hz, np.array(
            [link.noise_figure_db if r.noise_figure_db is None else r.noise_figure_db
             for r in rxs]))
        chans = [r.channel for r in rxs]
        self.per_packet = np.array([c.coherence_s is None for c in chans])
        self.coherence_s = np.array([c.coherence_s or 1.0 for c in chans])
        self.independent = np.array([c.time_correlation == "independent" for c in chans])
        self.env_doppler_hz = np.array([c.environment_doppler_hz for c in chans])
        self.fading_groups = _groups([c.model() for c in chans])
        self.estimator_groups = _groups([r.estimator.build() for r in rxs])
        # carried state: CN(0,1) fading state, N(0,1) shadowing state, last block/time
        init = np.array([g.standard_normal(3) for g in self.aux_rng])
        self.g = (init[:, 0] + 1j * init[:, 1]) * _SQRT_HALF
        self.shadow_z = init[:, 2]
        self.block: np.ndarray | None = None
        self.t_last = 0.0
        self.rel_last: np.ndarray | None = None
        self._start = 0  # packet index of the prepared chunk
        self._chunk: dict[str, np.ndarray] = {}
        self._noise: np.ndarray | None = None
        self._noise_from = 0

    def _prepare(self, k0: int) -> None:
        """Compute the physics of packets k0 .. k0 + lookahead - 1 as (K, R) arrays."""
        times = self.schedule.times(k0, self.lookahead)
        K, R = len(times), self.num
        if K == 0:
            raise RuntimeError(f"packet {k0} is past the end of the run")
        tx = self.alice_traj.states(times)
        rx = np.empty((K, R, 4))
        for i, traj in enumerate(self.traj):
            rx[:, i, :] = traj.states(times)
        rel = rx[..., :2] - tx[:, None, :2]
        dist = np.hypot(rel[..., 0], rel[..., 1])
        dv = rx[..., 2:] - tx[:, None, 2:]
        speed = np.hypot(dv[..., 0], dv[..., 1])
        pl = log_distance_path_loss_db(dist, self.exponent, self.ref_distance_m,
                                       self.ref_loss_db)
        doppler = ch.doppler_hz(speed, self.carrier_hz) + self.env_doppler_hz
        z = np.empty((K, R, _NUM_AUX))
        for i, g in enumerate(self.aux_rng):
            z[:, i, :] = g.standard_normal((K, _NUM_AUX))

        # fading: AR(1) on the CN(0,1) state, one step per elapsed coherence block
        blk = np.where(self.per_packet, 0.0, np.floor(times[:, None] / self.coherence_s))
        if self.per_packet.any():  # one block per packet: count packets
            count = np.arange(1, K + 1, dtype=float)[:, None]
            base = -1.0 if self.block is None else self.block
            blk = np.where(self.per_packet, base + count, blk)
        prev = np.concatenate([[blk[0] if self.block is None else self.block], blk[:-1]])
        steps = blk - prev
        self.block = blk[-1].copy()
        t_prev = np.concatenate([[self.t_last], times[:-1]])
        block_s = np.where(self.per_packet, (times - t_prev)[:, None], self.coherence_s)
        rho = np.where(self.independent, 0.0, ch.ar1_coefficient(doppler, block_s))
        coef = np.power(rho, steps)
        innov = np.sqrt(np.maximum(1.0 - coef * coef, 0.0))
        w = (z[..., 0] + 1j * z[..., 1]) * _SQRT_HALF
        changed = np.flatnonzero(steps.any(axis=1))
        states = np.empty((len(changed) + 1, R), dtype=np.complex128)
        states[0] = g = self.g
        for n, k in enumerate(changed):  # the recursion runs only where a block ends
            g = coef[k] * g + innov[k] * w[k]
            states[n + 1] = g
        self.g = g
        gstate = states[np.searchsorted(changed, np.arange(K), side="right")]
        h = np.empty((K, R), dtype=np.complex128)
        for model, idx in self.fading_groups:
            h[:, idx] = model.from_gaussian(gstate[:, idx])
        fading_gain = h.real**2 + h.imag**2

        # shadowing: Gudmundson AR(1) in the distance moved relative to Alice
        if self.static_geometry:
            shadow = np.broadcast_to(self.shadow_z, (K, R))
        else:
            last = rel[0] if self.rel_last is None else self.rel_last
            moved = np.diff(np.concatenate([last[None], rel]), axis=0)
            a = np.exp(-np.hypot(moved[..., 0], moved[..., 1]) * self.inv_decorr_m)
            b = np.sqrt(1.0 - a * a)
            shadow = np.empty((K, R))
            s = self.shadow_z
            for k in range(K):
                s = a[k] * s + b[k] * z[k, :, 2]
                shadow[k] = s
            self.shadow_z = s
        self.rel_last, self.t_last = rel[-1], float(times[-1])
        shadow_db = self.shadow_std_db * shadow
        mean_snr_db = link_mean_snr_db(self.tx_power_dbm, self.tx_gain_dbi, self.rx_gain_dbi,
                                       pl, shadow_db, self.noise_dbm)
        mean_snr = db_to_lin(mean_snr_db)
        snr_true = mean_snr * fading_gain
        snr_true_db = lin_to_db(snr_true)
        est = np.empty((K, R))
        for estimator, idx in self.estimator_groups:
            est[:, idx] = estimator.estimate(snr_true_db[:, idx], h[:, idx], mean_snr[:, idx],
                                             z[:, idx, 3:5])
        secrecy_cap = secrecy_capacity_bps_hz(snr_true, self.is_eve)
        self._start = k0
        self._times, self._tx = times, tx
        self._h, self._noise_var = h, 1.0 / mean_snr
        self._noise = None
        self._chunk = {
            "rx_x_m": rx[..., 0], "rx_y_m": rx[..., 1], "distance_m": dist,
            "relative_speed_mps": speed, "doppler_hz": doppler, "path_loss_db": pl,
            "shadowing_db": shadow_db, "mean_snr_db": mean_snr_db,
            "fading_gain": fading_gain, "snr_true_db": snr_true_db, "snr_rx_est_db": est,
            "capacity_bps_hz": capacity_bps_hz(snr_true),
            "secrecy_capacity_bps_hz": secrecy_cap,
            "secrecy_outage": secrecy_cap < self.target,
        }

    def _equalised_noise(self, j: int, num_features: int) -> np.ndarray:
        """Post-equalisation noise n/h (R, F) for row j of the chunk. Computed for the rest
        of the chunk at once (at most ~32 MB), from each receiver's own ``noise`` stream:
        F + F%2 normals per receiver and packet, so for a fixed F results never depend on
        the chunking."""
        width = num_features + num_features % 2
        noise = self._noise
        if noise is None or noise.shape[2] != width or not 0 <= j - self._noise_from < len(
                noise):
            n = min(len(self._times) - j, max(1, _NOISE_BUDGET // (self.num * width)))
            z = np.empty((n, self.num, width))
            for i, g in enumerate(self.noise_rng):
                z[:, i, :] = g.standard_normal((n, width))
            rows = slice(j, j + n)
            noise = self._noise = ch.equalised_noise(self._h[rows], self._noise_var[rows], z)
            self._noise_from = j
        return noise[j - self._noise_from, :, :num_features]

    def observe(self, k: int, symbols: np.ndarray) -> Observation:
        """Receive packet k's real symbols (F,) at every receiver (packets in order):
        y = h s + n, one-tap equalised to s + n/h (see ``channels.apply_one_tap``)."""
        j = k - self._start
        if not self._chunk or not 0 <= j < len(self._times):
            self._prepare(k)
            j = 0
        received = symbols + self._equalised_noise(j, symbols.shape[-1])
        return Observation(float(self._times[j]), self._tx[j],
                           {c: v[j] for c, v in self._chunk.items()}, self._h[j],
                           self._noise_var[j], received)


class DecodeQueue:
    """Packets waiting for a decode, of one replica's link or of several replicas run
    together (``codec.batch_replicas``); one codec call per flush.

    Decoding never feeds back into the dynamics (Alice adapts to the estimator's report,
    not to the codec's output), so a packet may wait for ``max_packets`` packets, of its
    own replica or of the next ones. Each packet's rows go to its own replica's trace, in
    order. ``codec`` decodes every packet in the queue: with several replicas it must be
    one whose decode is deterministic and independent of the replica (``shared_decode``).
    """

    def __init__(self, codec, roles: Sequence[str], max_packets: int = 1) -> None:
        self.codec, self.roles, self.max_packets = codec, tuple(roles), int(max_packets)
        self._pending: list[tuple[TraceWriter, Transmission, np.ndarray, dict, dict]] = []
        self.num_calls = 0

    def add(self, trace: TraceWriter, tx: Transmission, received: np.ndarray, event: dict,
            rows: dict) -> None:
        """Queue one packet (received (R, F)); decodes when ``max_packets`` are waiting."""
        self._pending.append((trace, tx, received, event, rows))
        if len(self._pending) >= self.max_packets:
            self.flush()

    def flush(self) -> None:
        """Decode every waiting packet (one codec call) and append their trace rows."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        results = decode_many(self.codec, [p[1] for p in pending], [p[2] for p in pending],
                              [p[4]["snr_rx_est_db"] for p in pending], self.roles)
        self.num_calls += 1
        for (trace, _, _, event, rows), metrics in zip(pending, results, strict=True):
            for key, value in metrics.items():
                rows[f"m_{key}"] = value
            trace.add(event, rows)


class BroadcastLink:
    """Alice's one broadcast link: channel for all receivers at once, one batched decode,
    trace rows, then fan-out of the reception to every receiver's inbox (like SimPy's
    BroadcastPipe)."""

    def __init__(self, env: simpy.Environment, *, bank: ReceiverBank, roles: list[str],
                 codec, trace: TraceWriter, decode_batch_packets: int = 1,
                 queue: DecodeQueue | None = None) -> None:
        self.env, self.bank, self.codec, self.trace = env, bank, codec, trace
        self.roles = tuple(roles)
        self.inboxes: list[simpy.Store] = []
        self.queue = queue or DecodeQueue(codec, roles, decode_batch_packets)

    def subscribe(self) -> simpy.Store:
        """A new receiver inbox (SimPy Store) that gets every transmission."""
        store = simpy.Store(self.env)
        self.inboxes.append(store)
        return store

    def transmit(self, packet: Packet) -> None:
        """Deliver ``packet`` to every receiver (called by Alice at the packet's time)."""
        tx = packet.tx
        obs = self.bank.observe(packet.packet_id, np.asarray(tx.symbols, dtype=np.float64))
        rows = obs.rows
        event = {
            "packet_id": packet.packet_id,
            "time_s": packet.time_s,
            "codec": self.codec.name,
            "tx_x_m": obs.tx_state[0],
            "tx_y_m": obs.tx_state[1],
            "snr_est_db": packet.snr_est_db,
            "feedback_packet_id": packet.feedback_packet_id,
            "feedback_age_s": packet.time_s - packet.feedback_time_s,
        }
        for key, value in tx.header.items():
            if isinstance(value, (int, float, str, bool, np.number)):
                event[f"h_{key}"] = value
        rows["snr_mismatch_db"] = packet.snr_est_db - rows["snr_true_db"]
        self.queue.add(self.trace, tx, obs.received, event, rows)
        item = (packet, rows["snr_rx_est_db"])
        for store in self.inboxes:
            store.put(item)

    def flush(self) -> None:
        """Decode the packets still waiting in this link's queue."""
        self.queue.flush()


@dataclass
class RunResult:
    """Outcome of one replica of a scenario."""

    run_dir: Path
    run_id: str
    replica: int
    seed: int
    num_packets: int
    num_rows: int
    parts: list[Path]
    sim_time_s: float
    wall_s: float
    received: dict[str, int]
    events: list[tuple[float, str, str, int]] | None = field(default=None, repr=False)

    @property
    def receiver_packets_per_s(self) -> float:
        """Trace rows (receiver-packets) per wall-clock second."""
        return self.num_rows / self.wall_s if self.wall_s > 0 else math.inf


def new_run_id(scenario: Scenario, seed: int) -> str:
    """``<scenario>-<UTC yyyymmdd-HHMMSS>-s<seed>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{scenario.name}-{stamp}-s{seed}"


def _write_run_metadata(run_dir: Path, scenario: Scenario, run_id: str, seed: int) -> None:
    atomic_write_text(run_dir / "config.yaml",
                      yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False))
    meta = {
        "run_id": run_id,
        "scenario": scenario.name,
        "seed": seed,
        "replicas": scenario.run.replicas,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "git": git_state(),
        "versions": package_versions(),
        "trace_dtypes_doc": "docs/traces.md",
    }
    atomic_write_text(run_dir / "run.json", json.dumps(meta, indent=2))


def _roles(scenario: Scenario) -> list[str]:
    """Receiver roles in receiver order: Bob, then every Eve."""
    return ["bob"] + ["eve"] * len(scenario.eves)


def _build_codec(scenario: Scenario, seed: int, replica: int):
    codec_mod = CODECS.module(scenario.codec.name)
    try:  # missing checkpoints / data / devices are input errors: name the scenario key
        return codec_mod.build(scenario.codec.options or codec_mod.Options(),
                               seed_sequence=seed_sequence(seed, replica, "codec"),
                               device=scenario.codec.device)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ScenarioError("codec", f"cannot build codec {scenario.codec.name!r}: {exc}") \
            from exc


def _build_source(scenario: Scenario, seed: int, replica: int):
    src_mod = SOURCES.module(scenario.source.kind)
    try:
        return src_mod.build(scenario.source.options or src_mod.Options(),
                             rng=stream(seed, replica, "source"))
    except (OSError, ValueError) as exc:
        raise ScenarioError("source", f"cannot build source {scenario.source.kind!r}: {exc}") \
            from exc


@dataclass
class _Replica:
    """One replica's SimPy world, built and ready to run (see :func:`_start_replica`)."""

    replica: int
    env: simpy.Environment
    codec: object
    trace: TraceWriter
    link: BroadcastLink
    alice: Alice
    receivers: list[Receiver]
    log: list | None


def _start_replica(scenario: Scenario, run_dir: Path, run_id: str, seed: int, replica: int,
                   codec, source, queue: DecodeQueue | None,
                   progress: Callable[[int], None] | None) -> _Replica:
    env = simpy.Environment()
    log: list | None = [] if scenario.trace.event_log else None
    roles = _roles(scenario)
    names = [r.name for r in scenario.receivers]
    trace = TraceWriter(run_dir / "traces", run_id=run_id, replica=replica, seed=seed,
                        receivers=names, roles=roles, part_rows=scenario.trace.part_rows)
    a = scenario.alice
    alice_traj = a.mobility.build(stream(seed, replica, "alice", "mobility"))
    schedule = TrafficSchedule(a.traffic, stream(seed, replica, "alice", "traffic"),
                               scenario.run.num_packets, scenario.run.duration_s)
    bank = ReceiverBank(scenario, seed, replica, alice_traj=alice_traj, schedule=schedule,
                        lookahead=scenario.run.lookahead_packets,
                        target_rate_bps_hz=scenario.secrecy.target_rate_bps_hz)
    link = BroadcastLink(env, bank=bank, roles=roles, codec=codec, trace=trace,
                         decode_batch_packets=scenario.codec.decode_batch_packets, queue=queue)
    alice = Alice(env, link=link, codec=codec,
                  source=batched_source(source, codec, scenario.codec.encode_batch_packets),
                  schedule=schedule,
                  initial_snr_est_db=a.initial_snr_est_db, log=log, progress=progress)
    feedback = FeedbackChannel(env, scenario.bob.estimator.feedback_delay_s, alice.on_feedback)
    receivers = [Receiver(env, name, role, i, link.subscribe(),
                          feedback if role == "bob" else None, log)
                 for i, (name, role) in enumerate(zip(names, roles, strict=True))]
    return _Replica(replica, env, codec, trace, link, alice, receivers, log)


def _finish_replica(rep: _Replica, scenario: Scenario, run_dir: Path, run_id: str, seed: int,
                    wall_s: float, run_with: list[int]) -> RunResult:
    """Close the replica's trace (its decodes must be done) and write its marker."""
    parts = rep.trace.close()
    result = RunResult(run_dir=run_dir, run_id=run_id, replica=rep.replica, seed=seed,
                       num_packets=rep.alice.num_sent, num_rows=rep.trace.num_rows,
                       parts=parts, sim_time_s=float(rep.env.now), wall_s=wall_s,
                       received={r.name: r.num_received for r in rep.receivers},
                       events=rep.log)
    info = {
        "replica": rep.replica,
        "seed": seed,
        "streams": "SeedSequence(entropy=seed, spawn_key=(replica, name_key(node), "
                   "name_key(purpose)))  # models.common.seeds",
        "num_packets": result.num_packets,
        "num_rows": result.num_rows,
        "sim_time_s": result.sim_time_s,
        "wall_s": wall_s,
        "run_with": run_with,
        "decode_calls": rep.link.queue.num_calls,
        "received": result.received,
        "codec_device": getattr(rep.codec, "device", scenario.codec.device),
        "host": socket.gethostname(),
        "parts": [p.name for p in parts],
    }
    if rep.log is not None:  # before the marker: a marker means the replica is complete
        atomic_write_text(run_dir / "events" / f"r{rep.replica:03d}.jsonl",
                          "".join(json.dumps(list(e)) + "\n" for e in rep.log))
    atomic_write_text(run_dir / "replicas" / f"r{rep.replica:03d}.json",
                      json.dumps(info, indent=2))
    return result


def run_scenario(scenario: Scenario, out_dir: str | Path, seed: int | None = None,
                 replica: int = 0, *, run_id: str | None = None, device: str | None = None,
                 progress: Callable[[int], None] | None = None,
                 write_metadata: bool = True) -> RunResult:
    """Run one replica of ``scenario`` into run folder ``out_dir``.

    seed: root seed (None -> scenario.run.seed); replica: index of this replica (its own
    random streams); run_id: recorded in the trace (None -> the folder name); device:
    overrides codec.device. Writes ``traces/rNNN-pNNNNN.parquet``, ``replicas/rNNN.json``
    and (``write_metadata``) ``config.yaml`` + ``run.json``. Returns a :class:`RunResult`.
    """
    return run_replicas(scenario, out_dir, seed, replicas=[replica], run_id=run_id,
                        device=device, progress=progress, write_metadata=write_metadata)[0]


def run_replicas(scenario: Scenario, out_dir: str | Path, seed: int | None = None, *,
                 replicas: Sequence[int] | None = None, run_id: str | None = None,
                 device: str | None = None, progress: Callable[[int], None] | None = None,
                 write_metadata: bool = True) -> list[RunResult]:
    """Run ``replicas`` (None: 0 .. ``run.replicas`` - 1) of ``scenario`` into one run folder.

    Replicas run one after the other, ``codec.batch_replicas`` at a time sharing one decode
    queue when the codec allows it (``shared_decode``): a replica's last packets then wait
    for the next replica's and go to the model in one call (``codec.decode_batch_packets``
    packets per call, counted over the group). Every replica keeps its own random streams
    and codec (Alice's encoder draws); only the batching of model calls changes, so the
    traces equal one-by-one runs up to the float rounding of a batched call. Each replica's
    marker is written once its trace is complete; ``wall_s`` of grouped replicas is the
    group's wall time shared equally.
    """
    seed = scenario.run.seed if seed is None else int(seed)
    run_dir = Path(out_dir)
    run_id = run_id or run_dir.name
    if device is not None:
        scenario = replace(scenario, codec=replace(scenario.codec, device=device))
    todo = list(range(scenario.run.replicas)) if replicas is None else [int(r) for r in replicas]
    k = scenario.codec.batch_replicas
    results: list[RunResult] = []
    group: list[_Replica] = []  # replicas run, waiting for their shared queue's last flush
    queue: DecodeQueue | None = None  # the group's shared queue (None: each its own)
    started = time.perf_counter()
    for i, r in enumerate(todo):
        codec, source = _build_codec(scenario, seed, r), _build_source(scenario, seed, r)
        if write_metadata and i == 0:  # once the run can start: a failed start leaves no folder
            _write_run_metadata(run_dir, replace(scenario, run=replace(scenario.run, seed=seed)),
                                run_id, seed)
        if queue is None and k > 1 and getattr(codec, "shared_decode", False):
            queue = DecodeQueue(codec, _roles(scenario), scenario.codec.decode_batch_packets)
        rep = _start_replica(scenario, run_dir, run_id, seed, r, codec, source, queue,
                             progress)
        rep.env.run()  # until Alice is done and every reception and report is handled
        group.append(rep)
        if queue is None or len(group) == k or i == len(todo) - 1:
            rep.link.flush()  # packets still waiting for a batched decode (the group's)
            wall = (time.perf_counter() - started) / len(group)
            run_with = [x.replica for x in group]
            results += [_finish_replica(x, scenario, run_dir, run_id, seed, wall, run_with)
                        for x in group]
            group, queue, started = [], None, time.perf_counter()
    return results
