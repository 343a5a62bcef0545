"""Engine: builds a run from a Scenario and runs it in SimPy (run orchestration).

One packet's walk: Alice's process (``nodes.Alice``) encodes with the SNR Bob last
reported (with ``codec.encode_batch_packets`` > 1 the SNR-independent part of the encoder
has already run for a block of upcoming packets); the :class:`~semsim.simulator.broadcast.
BroadcastLink` takes every receiver's channel state at the packet's time from the
:class:`~semsim.simulator.bank.ReceiverBank` (link physics, vectorised over receivers and
``run.lookahead_packets`` packets), applies the channel, queues the packet in the
:class:`~semsim.simulator.decode_queue.DecodeQueue` (one batched codec call for all
receivers, or several packets per call), which appends the trace rows; the reception is
counted for every receiver at once, and only Bob's process gets it, to feed his SNR
estimate back to Alice after the feedback delay. What a run writes besides traces: ``run_folder``.

:func:`run_scenario` / :func:`run_replicas` are the library entry points a sweep calls.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import simpy

from semsim.models.common.seeds import seed_sequence, stream
from semsim.simulator.bank import ReceiverBank
from semsim.simulator.broadcast import BroadcastLink
from semsim.simulator.coalitions import Combiner
from semsim.simulator.codecs import CODECS, batched_source
from semsim.simulator.decode_queue import DecodeQueue
from semsim.simulator.errors import ScenarioError
from semsim.simulator.feedback import FeedbackChannel
from semsim.simulator.nodes import Alice, Receiver
from semsim.simulator.run_folder import (
    RunResult,
    new_run_id,
    write_replica_marker,
    write_run_metadata,
)
from semsim.simulator.scenario import Scenario
from semsim.simulator.sources import SOURCES
from semsim.simulator.trace import TraceWriter
from semsim.simulator.traffic import TrafficSchedule

__all__ = ["RunResult", "new_run_id", "run_replicas", "run_scenario"]


def _roles(scenario: Scenario) -> list[str]:
    """Trace roles in receiver order: Bob, every Eve, every coalition."""
    return ["bob"] + ["eve"] * len(scenario.eves) + ["coalition"] * len(scenario.coalitions)


def _codec_roles(scenario: Scenario) -> list[str]:
    """Roles the codec decodes for: a coalition attacks as an Eve does."""
    return ["eve" if r == "coalition" else r for r in _roles(scenario)]


def _combiner(scenario: Scenario) -> Combiner | None:
    if not scenario.coalitions:
        return None
    index = {e.name: i + 1 for i, e in enumerate(scenario.eves)}
    return Combiner([np.array([index[m] for m in c.members]) for c in scenario.coalitions],
                    [c.combining for c in scenario.coalitions],
                    scenario.secrecy.target_rate_bps_hz)


def _error_key(section: str, options: object, exc: BaseException) -> str:
    """The scenario key a codec's or source's build error is about: a missing or damaged
    checkpoint -> ``<section>.options.checkpoint_dir`` (or ``.checkpoint``), a dataset
    problem -> ``.data_dir``, a device problem -> ``codec.device``; else the section."""
    if isinstance(exc, ScenarioError):
        return exc.path
    kind = type(exc).__name__
    fields = {f.name for f in dataclasses.fields(options)} if dataclasses.is_dataclass(
        options) else set()
    wanted = {"CheckpointError": ("checkpoint", "checkpoint_dir"),
              "DatasetError": ("data_dir", "name"), "DeviceError": ()}.get(kind, ())
    if kind == "DeviceError" and section == "codec":
        return "codec.device"
    for name in wanted:
        if name in fields and (name != "checkpoint" or getattr(options, name, None)):
            return f"{section}.options.{name}"
    return section


def _build_codec(scenario: Scenario, seed: int, replica: int):
    codec_mod = CODECS.module(scenario.codec.name)
    options = scenario.codec.options or codec_mod.Options()
    try:  # missing checkpoints / data / devices are input errors: name the scenario key
        return codec_mod.build(options, seed_sequence=seed_sequence(seed, replica, "codec"),
                               device=scenario.codec.device)
    except ScenarioError as exc:
        raise exc if exc.path.startswith(("codec", "source")) else exc.under("codec.options") \
            from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise ScenarioError(_error_key("codec", options, exc),
                            f"cannot build codec {scenario.codec.name!r}: {exc}") from exc


def _build_source(scenario: Scenario, seed: int, replica: int):
    src_mod = SOURCES.module(scenario.source.kind)
    options = scenario.source.options or src_mod.Options()
    try:
        return src_mod.build(options, rng=stream(seed, replica, "source"))
    except ScenarioError as exc:
        raise exc if exc.path.startswith("source") else exc.under("source.options") \
            from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(_error_key("source", options, exc),
                            f"cannot build source {scenario.source.kind!r}: {exc}") from exc


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


def _codec_attackers(scenario: Scenario) -> list[tuple[str, ...] | None] | None:
    """Each receiver's own attacker list in receiver order (None: the codec's default),
    or None when no Eve narrows it."""
    own = [None] + [e.attackers for e in scenario.eves] + [None] * len(scenario.coalitions)
    return own if any(a is not None for a in own) else None


def _decode_queue(scenario: Scenario, codec) -> DecodeQueue:
    behind = scenario.codec.decode_behind and getattr(codec, "decode_behind_safe", False)
    return DecodeQueue(codec, _codec_roles(scenario), scenario.codec.decode_batch_packets,
                       attackers=_codec_attackers(scenario), behind=behind)


def _start_replica(scenario: Scenario, run_dir: Path, run_id: str, seed: int, replica: int,
                   codec, source, queue: DecodeQueue | None,
                   progress: Callable[[int], None] | None) -> _Replica:
    env = simpy.Environment()
    log: list | None = [] if scenario.trace.event_log else None
    roles = _roles(scenario)
    names = [r.name for r in scenario.receivers] + [c.name for c in scenario.coalitions]
    trace = TraceWriter(run_dir / "traces", run_id=run_id, replica=replica, seed=seed,
                        receivers=names, roles=roles, part_rows=scenario.trace.part_rows,
                        codec=scenario.codec.name)
    a = scenario.alice
    alice_traj = a.mobility.build(stream(seed, replica, "alice", "mobility"))
    schedule = TrafficSchedule(a.traffic, stream(seed, replica, "alice", "traffic"),
                               scenario.run.num_packets, scenario.run.duration_s)
    bank = ReceiverBank(scenario, seed, replica, alice_traj=alice_traj, schedule=schedule,
                        lookahead=scenario.run.lookahead_packets,
                        target_rate_bps_hz=scenario.secrecy.target_rate_bps_hz)
    link = BroadcastLink(env, bank=bank, names=names, roles=_codec_roles(scenario), codec=codec,
                         trace=trace, queue=queue or _decode_queue(scenario, codec), log=log,
                         combiner=_combiner(scenario))
    alice = Alice(env, link=link, codec=codec,
                  source=batched_source(source, codec, scenario.codec.encode_batch_packets),
                  schedule=schedule,
                  initial_snr_est_db=a.initial_snr_est_db,
                  authenticate_feedback=a.authenticate_feedback, log=log, progress=progress)
    forgers = [(e.name, e.forge_feedback, stream(seed, replica, e.name, "forge"))
               for e in scenario.eves if e.forge_feedback is not None]
    feedback = FeedbackChannel(env, scenario.bob.estimator.feedback_delay_s, alice.on_feedback,
                               forgers)
    receivers = [Receiver(env, names[0], 0, link.subscribe(), feedback)]  # Bob acts
    return _Replica(replica, env, codec, trace, link, alice, receivers, log)


def _finish_replica(rep: _Replica, scenario: Scenario, run_dir: Path, run_id: str, seed: int,
                    wall_s: float, run_with: list[int], build_s: float) -> RunResult:
    """Close the replica's trace (its decodes must be done) and write its marker."""
    parts = rep.trace.close()
    result = RunResult(run_dir=run_dir, run_id=run_id, replica=rep.replica, seed=seed,
                       num_packets=rep.alice.num_sent, num_rows=rep.trace.num_rows,
                       parts=parts, sim_time_s=float(rep.env.now), wall_s=wall_s,
                       received={name: rep.link.num_delivered for name in rep.link.names},
                       events=rep.log)
    info = {
        "replica": rep.replica,
        "seed": seed,
        "streams": "SeedSequence(entropy=seed, spawn_key=(replica, *name_key(node), "
                   "*name_key(purpose)))  # semsim.models.common.seeds",
        "num_packets": result.num_packets,
        "num_rows": result.num_rows,
        "sim_time_s": result.sim_time_s,
        "wall_s": wall_s,
        "build_s": build_s,
        "run_with": run_with,
        "decode_calls": rep.link.queue.num_calls,
        "received": result.received,
        "codec_device": getattr(rep.codec, "device", scenario.codec.device),
        "host": socket.gethostname(),
        "parts": [p.name for p in parts],
    }
    write_replica_marker(run_dir, rep.replica, info, rep.log)
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
    group's wall time shared equally (it includes ``build_s``, the time spent building the
    replica's codec and source: loading and checking checkpoints and data).
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
    build_s: dict[int, float] = {}  # per replica: building its codec and source
    for i, r in enumerate(todo):
        t_build = time.perf_counter()
        codec, source = _build_codec(scenario, seed, r), _build_source(scenario, seed, r)
        build_s[r] = time.perf_counter() - t_build
        if write_metadata and i == 0:  # once the run can start: a failed start leaves no folder
            write_run_metadata(run_dir, replace(scenario, run=replace(scenario.run, seed=seed)),
                                run_id, seed)
        if queue is None and k > 1 and getattr(codec, "shared_decode", False):
            queue = _decode_queue(scenario, codec)
        rep = _start_replica(scenario, run_dir, run_id, seed, r, codec, source, queue,
                             progress)
        rep.env.run()  # until Alice is done and every reception and report is handled
        group.append(rep)
        if queue is None or len(group) == k or i == len(todo) - 1:
            rep.link.flush()  # packets still waiting for a batched decode (the group's)
            wall = (time.perf_counter() - started) / len(group)
            run_with = [x.replica for x in group]
            results += [_finish_replica(x, scenario, run_dir, run_id, seed, wall, run_with,
                                        build_s[x.replica]) for x in group]
            group, queue, started = [], None, time.perf_counter()
    return results
