"""Leakage with and without an active Eve who forges Bob's SNR feedback, and with Alice
authenticating feedback, on the shipped DiffSem walk-past scenario (same seed and replicas
for the three variants: common random numbers).

    .venv/bin/python benchmarks/active_eve.py [--packets N] [--replicas R] [--bias-db B]

Prints, per variant and receiver: mean accuracy (Bob) / leakage (Eves: m_correct of the
scenario's attacker) with a 95 % interval over replicas, the mean t' Alice chose, and the
share of packets encoded with a forged report.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from semsim.models.common.stats import mean_ci
from semsim.simulator.engine import run_replicas
from semsim.simulator.scenario import load_scenario
from semsim.simulator.trace import read_traces

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "diffsem_walk_past.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    print(f"{SCENARIO.name}: {args.packets} packets x {args.replicas} replicas, "
          f"forger = eves[0], bias {args.bias_db:+.0f} dB")
    print("| variant | receiver | m_correct [95 % CI over replicas] | mean t' | forged |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in variants.items():
            sc = load_scenario(SCENARIO, [*base, *extra])
            run_replicas(sc, Path(tmp) / name.replace(" ", "_"), device="cpu")
            df = read_traces(Path(tmp) / name.replace(" ", "_"))
            for node, rows in df.groupby("node", sort=False):
                per_rep = rows.groupby("replica").m_correct.mean().to_numpy()
                m, lo, hi, _ = mean_ci(per_rep)
                print(f"| {name} | {node} | {m:.3f} [{lo:.3f}, {hi:.3f}] | "
                      f"{rows.h_tprime.mean():.1f} | {rows.feedback_forged.mean():.2f} |")


if __name__ == "__main__":
    main()
