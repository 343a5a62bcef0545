"""Worst-case attackers in the engine against the offline evaluation (issue 15 acceptance).

A fixed-SNR link (static nodes, AWGN, perfect estimators, no feedback delay): Alice sends
``--packets`` MNIST test images with DiffSem (t* = ``--tstar``, E-DiffSem at Bob, whose SNR
is ``--snr-db``); Eves at Bob's place hear the same packets ``--offsets`` dB below him
(antenna gain), each running the whole attacker ensemble. Reported, with 95 % intervals:

- per Eve offset: Bob's accuracy, every attacker's leakage (Wilson), the worst attacker
  (highest leakage) and Bob minus the worst-case leakage, paired over the same packets
  (mean of the per-packet difference, normal interval);
- at offset 0: each attacker's engine leakage beside the offline ``semsim eval diffsem
  --parts judges`` number (:func:`models.diffsem.evaluation.eval_judges`, the adapted
  judges, the same t* and SNR, the same first ``--packets`` test images in the same order)
  and their per-image paired difference with its interval (consistent when it holds 0).

    .venv/bin/python benchmarks/attacker_acceptance.py [--packets 2000] [--tstar 200]
        [--snr-db 5] [--offsets 0,3,6,10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from semsim.models.common.stats import mean_ci, wilson_ci
from semsim.simulator.engine import run_scenario
from semsim.simulator.scenario import parse_scenario
from semsim.simulator.trace import read_traces


def scenario(packets: int, tstar: int, snr_db: float, offsets: list[float], seed: int,
             tx_power_dbm: float) -> dict:
    at_bob = {"kind": "static", "position_m": [40.0, 0.0]}
    quiet = {"fading": "awgn"}
    return {
        "name": "attacker-acceptance",
        "run": {"num_packets": packets, "seed": seed},
        "link": {"carrier_hz": 2.4e9, "bandwidth_hz": 10.0e6, "tx_power_dbm": tx_power_dbm,
                 "noise_figure_db": 7.0},
        "propagation": {"exponent": 3.0, "shadowing_std_db": 0.0},
        "spatial": {"shadowing": False, "fading": False},
        "alice": {"mobility": {"kind": "static", "position_m": [0.0, 0.0]},
                  "initial_snr_est_db": snr_db,
                  "traffic": {"kind": "periodic", "interval_s": 1.0e-3}},
        "bob": {"mobility": at_bob, "channel": quiet, "estimator": {"kind": "perfect"}},
        "eves": [{"name": f"eve_minus{o:g}db", "mobility": at_bob, "channel": quiet,
                  "antenna_gain_dbi": -o, "estimator": {"kind": "perfect"}} for o in offsets],
        "codec": {"name": "diffsem", "device": "cpu", "decode_batch_packets": 64,
                  "encode_batch_packets": 64,
                  "options": {"dataset": "mnist", "tstar": tstar, "receiver": "ediffsem"}},
        # the first ``packets`` test images in order: the offline evaluation's images
        "source": {"kind": "dataset", "options": {"name": "mnist", "split": "test",
                                                  "shuffle": False, "limit": packets}},
    }


def _power_for(snr_db: float) -> float:
    """The transmit power (dBm) that puts Bob's mean SNR at ``snr_db`` (linear in dB)."""
    data = scenario(1, 0, snr_db, [], 0, 0.0)
    data["codec"] = {"name": "reference", "device": "cpu"}
    data["source"] = {"kind": "synthetic", "options": {"image_size": 8}}
    with tempfile.TemporaryDirectory() as tmp:
        run_scenario(parse_scenario(data), tmp, write_metadata=False)
        got = float(read_traces(tmp).mean_snr_db.iloc[0])
    return snr_db - got


def offline(packets: int, tstar: int, snr_db: float) -> dict[str, np.ndarray]:
    """{attacker: per-image outcomes (packets,)} of the offline evaluation at (t*, SNR):
    the calls of ``eval_judges`` (adapted judges), whose accuracies are checked equal."""
    import torch

    from semsim.models.data import load_dataset
    from semsim.models.diffsem import load_diffsem
    from semsim.models.diffsem.evaluation import eval_judges, test_packets

    loaded = load_diffsem("mnist", device="cpu")
    system = loaded.system
    data = load_dataset("mnist", "test")
    x, lab = data.images[:packets], data.labels[:packets]
    rows = eval_judges(loaded, x, lab, snr_db, [tstar], log=lambda *_: None)
    out = {}
    with torch.no_grad():
        _, ye, t, s, _ = test_packets(system, system.encoder(x), tstar, snr_db, 0)
        out["direct"] = (loaded.direct(ye, t).argmax(1) == lab).numpy()
        for inv in ("conv", "mlp"):
            rec = system.invert(ye, t, s, kind=inv, rescaled=True)
            for judge in ("cnn", "mlp"):
                out[f"{inv}_{judge}"] = (system.strong_classify(rec, judge).argmax(1)
                                         == lab).numpy()
    for r in rows:  # the per-image outcomes are eval_judges' numbers
        if r["tstar"] is not None and r["judge_set"] in ("adapted", "none"):
            name = ("direct" if r["attacker"] == "attacker_direct"
                    else f"{r['attacker'].removeprefix('attacker_')}_{r['judge']}")
            assert abs(out[name].mean() - r["accuracy"]) < 1e-6, (name, r["accuracy"])
    return {k: v.astype(float) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=2000)
    ap.add_argument("--tstar", type=int, default=200)
    ap.add_argument("--snr-db", type=float, default=5.0)
    ap.add_argument("--offsets", default="0,3,6,10")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", default="results/attacker_acceptance.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    offsets = [float(o) for o in args.offsets.split(",")]
    t0 = time.perf_counter()
    sc = parse_scenario(scenario(args.packets, args.tstar, args.snr_db, offsets, args.seed,
                                 _power_for(args.snr_db)))
    with tempfile.TemporaryDirectory() as tmp:
        run_scenario(sc, tmp, write_metadata=False)
        df = read_traces(tmp).sort_values(["packet_id", "node"])
    engine_s = time.perf_counter() - t0
    attackers = list(sc.codec.options.attackers)
    bob = df[df.role == "bob"].set_index("packet_id")
    report = {"packets": args.packets, "tstar": args.tstar, "bob_snr_db": args.snr_db,
              "bob_snr_measured_db": round(float(bob.snr_true_db.mean()), 3),
              "engine_seconds": round(engine_s, 1), "eves": []}
    acc = wilson_ci(float(bob.m_correct.sum()), len(bob))
    print(f"Bob at {bob.snr_true_db.mean():.2f} dB, t* = {args.tstar}: accuracy "
          f"{acc[0]:.3f} [{acc[1]:.3f}, {acc[2]:.3f}] over {len(bob)} packets "
          f"({engine_s:.0f} s in the engine)")
    print("| Eve SNR - Bob's (dB) | " + " | ".join(attackers)
          + " | worst | Bob - worst (points) |")
    print("|---" * (len(attackers) + 3) + "|")
    for o in offsets:
        eve = df[df.node == f"eve_minus{o:g}db"].set_index("packet_id").loc[bob.index]
        leak = {a: wilson_ci(float(eve[f"m_correct_{a}"].sum()), len(eve)) for a in attackers}
        worst = max(leak, key=lambda a: leak[a][0])
        diff = mean_ci((bob.m_correct - eve[f"m_correct_{worst}"]).to_numpy())
        report["eves"].append({"offset_db": -o, "snr_db": round(float(eve.snr_true_db.mean()),
                                                               3),
                               "bob_accuracy": acc, "leakage": leak, "worst": worst,
                               "bob_minus_worst": diff[:3]})
        cells = [f"{leak[a][0]:.3f} [{leak[a][1]:.3f}, {leak[a][2]:.3f}]" for a in attackers]
        print(f"| -{o:g} | " + " | ".join(cells) + f" | {worst} | "
              f"{100 * diff[0]:+.1f} [{100 * diff[1]:+.1f}, {100 * diff[2]:+.1f}] |")
    if 0.0 in offsets:
        ref = offline(args.packets, args.tstar, args.snr_db)
        eve = df[df.node == "eve_minus0db"].sort_values("packet_id")
        assert (eve.h_source_index.to_numpy() == np.arange(len(eve))).all()  # same images
        print("\n| attacker | engine | offline eval | engine - offline, paired (points) | "
              "consistent |")
        print("|---|---|---|---|---|")
        report["offline"] = {}
        for a in attackers:
            mine, theirs = eve[f"m_correct_{a}"].to_numpy(), ref[a]
            d = mean_ci(mine - theirs)[:3]
            ok = d[1] <= 0 <= d[2]
            p, q = wilson_ci(mine.sum(), len(mine)), wilson_ci(theirs.sum(), len(theirs))
            report["offline"][a] = {"engine": p, "offline": q, "paired_difference": d,
                                    "consistent": ok}
            print(f"| {a} | {p[0]:.3f} [{p[1]:.3f}, {p[2]:.3f}] | {q[0]:.3f} [{q[1]:.3f}, "
                  f"{q[2]:.3f}] | {100 * d[0]:+.1f} [{100 * d[1]:+.1f}, {100 * d[2]:+.1f}] | "
                  f"{'yes' if ok else 'NO'} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
