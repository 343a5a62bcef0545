"""Monte Carlo replicas decoded one by one vs together (``codec.batch_replicas``), in one
process.

The DiffSem walk-past scenario (E-DiffSem at Bob, conv attacker + CNN judge at two Eves,
real MNIST, shipped checkpoint) as many short replicas: each replica sends ``--packets``
packets, fewer than ``--batch``, so on its own every replica decodes them in one call of
``--packets`` packets. With ``codec.batch_replicas`` = replicas the replicas share one
decode queue and the model sees calls of ``--batch`` packets. Both runs write their traces;
the benchmark checks them equal (to float rounding) and reports packets per second and the
ratio. Torch uses one thread; ``--device cuda`` puts the models on the GPU.

    .venv/bin/python benchmarks/bench_replicas.py [--replicas 16] [--packets 16]
        [--batch 256] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from semsim.simulator.engine import run_replicas
from semsim.simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def run(replicas: int, packets: int, batch: int, together: int, device: str,
        out: Path) -> tuple[float, pd.DataFrame, int]:
    sc = load_scenario(ROOT / "scenarios" / "diffsem_walk_past.yaml",
                       ["run.duration_s=null", f"run.num_packets={packets}",
                        f"run.replicas={replicas}", f"codec.decode_batch_packets={batch}",
                        f"codec.encode_batch_packets={packets}",
                        f"codec.batch_replicas={together}", f"codec.device={device}"])
    t0 = time.perf_counter()
    run_replicas(sc, out, run_id="bench", write_metadata=False)
    wall = time.perf_counter() - t0
    calls = sum(json.loads(f.read_text())["decode_calls"]
                for f in sorted((out / "replicas").glob("r*.json")))
    return replicas * packets / wall, pd.read_parquet(out / "traces"), calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=16)
    ap.add_argument("--packets", type=int, default=16, help="packets per replica")
    ap.add_argument("--batch", type=int, default=256, help="codec.decode_batch_packets")
    ap.add_argument("--device", default="cpu", help="cpu | cuda[:N] | auto")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default="results/bench_replicas.json")
    args = ap.parse_args()
    from semsim.models.common.device import resolve_device

    device = resolve_device(args.device)
    torch.set_num_threads(1)
    rates: dict[str, list[float]] = {"one_by_one": [], "together": []}
    with tempfile.TemporaryDirectory() as tmp:
        run(2, 4, 4, 2, device, Path(tmp) / "warm")  # load weights and data once
        for rep in range(args.repeats):  # alternate, so drifts in machine load hit both
            r1, t1, c1 = run(args.replicas, args.packets, args.batch, 1, device,
                             Path(tmp) / f"one{rep}")
            rk, tk, ck = run(args.replicas, args.packets, args.batch, args.replicas, device,
                             Path(tmp) / f"all{rep}")
            pd.testing.assert_frame_equal(t1, tk, check_exact=False, rtol=1e-4, atol=1e-4)
            rates["one_by_one"].append(r1)
            rates["together"].append(rk)
    best = {k: max(v) for k, v in rates.items()}
    report = {"replicas": args.replicas, "packets_per_replica": args.packets,
              "decode_batch_packets": args.batch, "device": device,
              "decode_calls_one_by_one": c1,
              "decode_calls_together": ck // args.replicas,
              "packets_per_s": {k: round(v, 2) for k, v in best.items()},
              "together_over_one_by_one": round(best["together"] / best["one_by_one"], 2),
              "traces_equal": True}
    print(f"{args.replicas} replicas x {args.packets} packets, decode_batch_packets "
          f"{args.batch}, {device}: one by one {best['one_by_one']:.1f} packets/s "
          f"({args.replicas} decode calls of {args.packets}), together "
          f"{best['together']:.1f} packets/s ({ck // args.replicas} calls): "
          f"{report['together_over_one_by_one']:.2f}x; traces equal")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
