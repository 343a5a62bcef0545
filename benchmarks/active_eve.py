"""Leakage with and without an active Eve who forges Bob's SNR feedback, and with Alice
authenticating feedback, on a shipped DiffSem scenario (default: the mission,
scenarios/default.yaml, where t' matters; same seed and replicas for the three variants:
common random numbers).

    .venv/bin/python benchmarks/active_eve.py [--scenario PATH] [--packets N] [--replicas R]
        [--bias-db B]

Prints, per variant and receiver: Bob's accuracy / each Eve's worst-case leakage (her
strongest attacker over the three variants, named) with a 95 % interval over replicas, the
paired difference to the no-forgery variant (per replica, same random numbers), the mean t'
Alice chose and the share of packets encoded with a forged report.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
import torch

from semsim.models.common.stats import mean_ci
from semsim.simulator.engine import run_replicas
from semsim.simulator.leakage import attacker_columns, worst_attacker
from semsim.simulator.scenario import load_scenario
from semsim.simulator.trace import read_traces

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "default.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument("--packets", type=int, default=200)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--bias-db", type=float, default=-10.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = [f"run.num_packets={args.packets}", f"run.replicas={args.replicas}",
            "run.duration_s=null"]
    forge = f"eves[0].forge_feedback={{bias_db: {args.bias_db}, probability: 1}}"
    variants = {"no forgery": [], "forgery": [forge],
                "forgery + authentication": [forge, "alice.authenticate_feedback=true"]}
    print(f"{args.scenario.name}: {args.packets} packets x {args.replicas} replicas, "
          f"forger = eves[0], bias {args.bias_db:+.0f} dB")
    frames = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in variants.items():
            sc = load_scenario(args.scenario, [*base, *extra])
            run_replicas(sc, Path(tmp) / name.replace(" ", "_"), device="cpu")
            frames[name] = read_traces(Path(tmp) / name.replace(" ", "_"))
    everything = pd.concat(frames.values())
    attackers = attacker_columns(everything.columns)
    print("| variant | receiver | attacker | accuracy / leakage [95 % CI] | "
          "minus no forgery (paired) | mean t' | forged |")
    print("|---|---|---|---|---|---|---|")
    for name, df in frames.items():
        for node, rows in df.groupby("node", sort=False):
            col, who = ("m_correct", "") if rows.role.iloc[0] == "bob" else worst_attacker(
                everything[everything.node == node], attackers)
            per_rep = rows.groupby("replica")[col].mean()
            m, lo, hi, _ = mean_ci(per_rep.to_numpy())
            ref = frames["no forgery"]
            ref = ref[ref.node == node].groupby("replica")[col].mean()
            d = mean_ci((per_rep - ref).to_numpy()) if name != "no forgery" else None
            diff = "" if d is None else f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"
            print(f"| {name} | {node} | {who} | {m:.3f} [{lo:.3f}, {hi:.3f}] | {diff} | "
                  f"{rows.h_tprime.mean():.1f} | {rows.feedback_forged.mean():.2f} |")


if __name__ == "__main__":
    main()
