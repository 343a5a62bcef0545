"""Engine throughput vs a bare SimPy loop with the same events, in one process.

Engine: reference codec, 1 Bob + 8 Eves (Rayleigh block fading, pilot LS estimators,
random-waypoint Eves, shadowing), traces written to Parquet in a temp folder.
Bare loop: the engine's SimPy skeleton with nothing else: Alice's timeout per packet, a
BroadcastPipe-style put into one Store per receiver, one process per receiver taking each
packet, and Bob's report through a feedback Store + delay process. Both count
receiver-packets (packets x receivers) per wall-clock second.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_engine.py [--packets N] [--repeats K]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import simpy

from simulator.engine import run_scenario
from simulator.scenario import parse_scenario

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = dict(SCENARIO, run={**SCENARIO["run"], "num_packets": args.packets})
    scenario = parse_scenario(data)
    num_rx = 1 + NUM_EVES
    best_engine = best_bare = 0.0
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = run_scenario(scenario, tmp, replica=rep, write_metadata=False)
            engine_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        n = bare_simpy(args.packets, num_rx, 1.0e-3, 2.0e-3)
        bare_s = time.perf_counter() - t0
        assert n == res.num_rows == args.packets * num_rx
        e_rate, b_rate = res.num_rows / engine_s, n / bare_s
        best_engine, best_bare = max(best_engine, e_rate), max(best_bare, b_rate)
        print(f"repeat {rep}: engine {e_rate:,.0f} rx-pkt/s ({engine_s:.2f} s), "
              f"bare SimPy {b_rate:,.0f} rx-pkt/s ({bare_s:.2f} s), "
              f"ratio {b_rate / e_rate:.2f}x")
    print(f"best: engine {best_engine:,.0f} receiver-packets/s, bare SimPy "
          f"{best_bare:,.0f} receiver-packets/s, bare/engine = {best_bare / best_engine:.2f}x "
          f"({args.packets} packets x {num_rx} receivers)")


if __name__ == "__main__":
    main()
