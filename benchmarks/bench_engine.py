"""Engine throughput vs a bare SimPy loop with the same events, in one process.

Two shapes, reference codec, traces written to Parquet in a temp folder:

- ``fanout``: 1 Bob + 8 Eves (Rayleigh block fading, pilot LS estimators, random-waypoint
  Eves, shadowing, spatial correlation), the engine with one decode call per packet (the
  default) and with ``codec.decode_batch_packets`` = ``codec.encode_batch_packets`` =
  ``--decode-batch`` (speed options: the same trace, checked bit for bit here), against
  the bare loop: the engine's SimPy skeleton with nothing else (Alice's timeout per
  packet, a BroadcastPipe-style put into one Store per receiver, one process per receiver
  taking each packet, Bob's report through a feedback Store + delay process). Target:
  engine >= 0.5x the bare loop's receiver-packet rate.
- ``map``: 1 Bob + 400 static Eves on a 20 x 20 grid over 80 m x 80 m (a leakage map's
  shape, ``leakage_map.grid_scenario``), the engine against the bare loop with 401
  receivers. Target: >= 1,000,000 receiver-packets/s.

Both count receiver-packets (packets x receivers) per wall-clock second and per CPU second
of this process (all its threads: the trace's Parquet writer runs on its own thread); the
ratios use wall-clock times. Best of ``--repeats``, the cases alternated.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_engine.py [--packets N] [--map-packets M]
        [--repeats K] [--decode-batch B]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import simpy

from semsim.simulator.engine import run_scenario
from semsim.simulator.leakage_map import grid_scenario
from semsim.simulator.mobility import Static
from semsim.simulator.scenario import parse_scenario

NUM_EVES = 8

SCENARIO = {
    "name": "bench",
    "run": {"num_packets": 20000, "seed": 1},
    "link": {"tx_power_dbm": 10.0, "bandwidth_hz": 10.0e6},
    "propagation": {"exponent": 3.0, "shadowing_std_db": 4.0},
    "alice": {"traffic": {"kind": "periodic", "interval_s": 1.0e-3}},
    "bob": {"mobility": {"kind": "static", "position_m": [40.0, 0.0]},
            "channel": {"fading": "rayleigh", "coherence_s": 5.0e-3,
                        "environment_doppler_hz": 10.0},
            "estimator": {"kind": "pilot_ls", "num_pilots": 8, "feedback_delay_s": 2.0e-3}},
    "eves": {"count": NUM_EVES,
             "template": {"mobility": {"kind": "random_waypoint",
                                       "bounds_m": [-60.0, -60.0, 60.0, 60.0],
                                       "speed_min_mps": 0.5, "speed_max_mps": 1.5},
                          "channel": {"fading": "rayleigh", "coherence_s": 5.0e-3,
                                      "environment_doppler_hz": 10.0},
                          "estimator": {"kind": "pilot_ls", "num_pilots": 8}}},
    "codec": {"name": "reference", "device": "cpu"},
    "source": {"kind": "synthetic", "options": {"image_size": 8}},
}


def bare_simpy(num_packets: int, num_receivers: int, interval_s: float, delay_s: float) -> int:
    """The engine's SimPy event structure with no physics; returns receiver-packets."""
    env = simpy.Environment()
    inboxes = [simpy.Store(env) for _ in range(num_receivers)]
    reports = simpy.Store(env)
    count = [0]

    def alice():
        for k in range(num_packets):
            yield env.timeout(interval_s)
            for store in inboxes:
                store.put(k)

    def receiver(store, is_bob):
        while True:
            k = yield store.get()
            count[0] += 1
            if is_bob:
                reports.put((k, env.now))

    def feedback():
        while True:
            _, sent = yield reports.get()
            wait = sent + delay_s - env.now
            if wait > 0:
                yield env.timeout(wait)

    env.process(alice())
    for i, store in enumerate(inboxes):
        env.process(receiver(store, i == 0))
    env.process(feedback())
    env.run()
    return count[0]


def _timed(scenario, replica: int) -> tuple[float, float, pa.Table]:
    """(wall s, CPU s, trace table) of one engine run."""
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        run_scenario(scenario, tmp, replica=replica, run_id="bench", write_metadata=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        table = pa.concat_tables(pq.read_table(p) for p in sorted(Path(tmp).rglob("*.parquet")))
    return wall, cpu, table


def _bare(num_packets: int, num_receivers: int) -> tuple[float, float, int]:
    t0, c0 = time.perf_counter(), time.process_time()
    n = bare_simpy(num_packets, num_receivers, 1.0e-3, 2.0e-3)
    return time.perf_counter() - t0, time.process_time() - c0, n


def _same(a: pa.Table, b: pa.Table) -> bool:
    """Equal tables, floats compared bit for bit (NaN == NaN)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a[name].combine_chunks(), b[name].combine_chunks()
        if pa.types.is_floating(x.type):
            if not np.array_equal(x.to_numpy(zero_copy_only=False).view(np.int64),
                                  y.to_numpy(zero_copy_only=False).view(np.int64)):
                return False
        elif not x.equals(y):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000, help="fan-out case")
    parser.add_argument("--map-packets", type=int, default=2000, help="400-Eve case")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--decode-batch", type=int, default=256)
    args = parser.parse_args()
    base = parse_scenario(dict(SCENARIO, run={**SCENARIO["run"], "num_packets": args.packets}))
    batched = replace(base, codec=replace(base.codec, decode_batch_packets=args.decode_batch,
                                          encode_batch_packets=args.decode_batch))
    grid = np.linspace(0.0, 80.0, 20), np.linspace(-40.0, 40.0, 20)
    many = parse_scenario(dict(SCENARIO, run={**SCENARIO["run"], "num_packets": args.map_packets}))
    many = grid_scenario(replace(many, eves=(replace(many.eves[0], mobility=Static()),)), *grid)
    cases = {"engine": (base, 1 + NUM_EVES, args.packets),
             f"engine, {args.decode_batch} packets per codec call": (batched, 1 + NUM_EVES,
                                                                  args.packets),
             "map engine": (many, 1 + len(many.eves), args.map_packets)}
    best: dict[str, tuple[float, float]] = {}
    tables: dict[str, pa.Table] = {}
    for rep in range(args.repeats):
        for name, (scenario, num_rx, packets) in cases.items():
            wall, cpu, table = _timed(scenario, rep)
            assert table.num_rows == packets * num_rx
            if rep == 0:
                tables[name] = table
            rate = (table.num_rows / wall, table.num_rows / cpu)
            best[name] = max(best.get(name, (0.0, 0.0)), rate)
            print(f"repeat {rep}: {name}: {rate[0]:,.0f} rx-pkt/s wall ({rate[1]:,.0f} per "
                  f"CPU s)", flush=True)
        for name, num_rx, packets in (("bare SimPy", 1 + NUM_EVES, args.packets),
                                      ("map bare SimPy", 1 + len(many.eves),
                                       args.map_packets)):
            wall, cpu, n = _bare(packets, num_rx)
            rate = (n / wall, n / cpu)
            best[name] = max(best.get(name, (0.0, 0.0)), rate)
            print(f"repeat {rep}: {name}: {rate[0]:,.0f} rx-pkt/s wall ({rate[1]:,.0f} per "
                  f"CPU s)", flush=True)
    same = _same(tables["engine"], tables[f"engine, {args.decode_batch} packets per codec call"])
    print(f"\nbest of {args.repeats}: fan-out {args.packets} packets x {1 + NUM_EVES} "
          f"receivers, map {args.map_packets} packets x {1 + len(many.eves)} receivers")
    for name, (wall, cpu) in best.items():
        print(f"  {name:38s} {wall:12,.0f} rx-pkt/s wall {cpu:12,.0f} per CPU s")
    bare, bare_map = best["bare SimPy"], best["map bare SimPy"]
    for name in list(cases)[:2]:
        print(f"fan-out: {name} / bare SimPy = {best[name][0] / bare[0]:.2f}x wall, "
              f"{best[name][1] / bare[1]:.2f}x CPU (target >= 0.5x)")
    print(f"fan-out: per-packet and batched codec calls give traces identical bit for bit: "
          f"{same}")
    print(f"map: engine {best['map engine'][0]:,.0f} rx-pkt/s wall (target >= 1,000,000), "
          f"{best['map engine'][0] / bare_map[0]:.2f}x the bare SimPy loop with "
          f"{1 + len(many.eves)} receivers")


if __name__ == "__main__":
    main()
