"""Engine throughput vs a bare SimPy loop with the same events, in one process.

Engine: reference codec, 1 Bob + 8 Eves (Rayleigh block fading, pilot LS estimators,
random-waypoint Eves, shadowing), traces written to Parquet in a temp folder.
Bare loop: the engine's SimPy skeleton with nothing else: Alice's timeout per packet, a
BroadcastPipe-style put into one Store per receiver, one process per receiver taking each
packet, and Bob's report through a feedback Store + delay process. Both count
receiver-packets (packets x receivers) per second, both per wall-clock second and per
CPU second of this process (the latter is what one core delivers when the machine is
shared with other jobs; the ratio uses wall-clock times).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_engine.py [--packets N] [--repeats K]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import simpy

from semsim.simulator.engine import run_scenario
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = dict(SCENARIO, run={**SCENARIO["run"], "num_packets": args.packets})
    scenario = parse_scenario(data)
    num_rx = 1 + NUM_EVES
    best = {"engine": 0.0, "bare": 0.0, "engine_cpu": 0.0, "bare_cpu": 0.0}
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), time.process_time()
            res = run_scenario(scenario, tmp, replica=rep, write_metadata=False)
            engine_s, engine_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        n = bare_simpy(args.packets, num_rx, 1.0e-3, 2.0e-3)
        bare_s, bare_cpu = time.perf_counter() - t0, time.process_time() - c0
        assert n == res.num_rows == args.packets * num_rx
        rates = {"engine": n / engine_s, "bare": n / bare_s,
                 "engine_cpu": n / engine_cpu, "bare_cpu": n / bare_cpu}
        best = {k: max(best[k], v) for k, v in rates.items()}
        print(f"repeat {rep}: engine {rates['engine']:,.0f} rx-pkt/s wall "
              f"({rates['engine_cpu']:,.0f} per CPU s), bare SimPy {rates['bare']:,.0f} "
              f"rx-pkt/s wall ({rates['bare_cpu']:,.0f} per CPU s), "
              f"bare/engine {rates['bare'] / rates['engine']:.2f}x")
    print(f"best of {args.repeats} ({args.packets} packets x {num_rx} receivers): "
          f"engine {best['engine']:,.0f} receiver-packets/s wall, "
          f"{best['engine_cpu']:,.0f} per CPU second; bare SimPy {best['bare']:,.0f} wall, "
          f"{best['bare_cpu']:,.0f} per CPU second; bare/engine = "
          f"{best['bare'] / best['engine']:.2f}x wall, "
          f"{best['bare_cpu'] / best['engine_cpu']:.2f}x CPU")


if __name__ == "__main__":
    main()
