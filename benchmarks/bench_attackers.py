"""Cost of Eve's attacker ensemble against the single conv attacker, per packet, one process.

On batches of ``--batch`` received DiffSem packets (MNIST test images, t* = ``--tstar``,
AWGN at ``--snr-db``), times :meth:`DiffSemSystem.attack` with each single attacker, with
the old default (``conv_cnn``: conv inversion + CNN judge) and with the whole ensemble
(:data:`ATTACKERS`: the inversions are shared between their judges), and Bob's E-DiffSem
receiver beside them for scale. Reported: ms per packet per Eve and the ratio ensemble /
conv_cnn. Torch uses one thread unless ``--threads``.

    .venv/bin/python benchmarks/bench_attackers.py [--batch 64] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def _time(fn, repeats: int, device: str) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    from semsim.models.common.device import synchronize

    fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tstar", type=int, default=200)
    ap.add_argument("--snr-db", type=float, default=10.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/bench_attackers.json")
    args = ap.parse_args()
    from semsim.models.common.device import resolve_device
    from semsim.models.data import load_dataset
    from semsim.models.diffsem import load_diffsem
    from semsim.models.diffsem.config import ATTACKERS

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    loaded = load_diffsem("mnist", with_baselines=False, device=device)
    system = loaded.system
    x = load_dataset("mnist", "test").images[:args.batch].to(device)
    gen = torch.Generator().manual_seed(0)
    b = x.shape[0]
    tstar, snr = torch.full((b,), args.tstar), torch.full((b,), args.snr_db)
    sym, hdr = system.send(system.prepare(x), snr, gen, tstar=tstar)
    noise = torch.randn(sym.shape, generator=gen).to(device)
    rx = sym + (system.power_per_real / 10 ** (args.snr_db / 10)) ** 0.5 * noise
    header = {"tstar": hdr["tstar"], "tprime": hdr["tprime"]}

    def attack(names):
        return lambda: system.attack(rx, header, names, direct=loaded.direct)

    sets = {a: (a,) for a in ATTACKERS} | {"ensemble": ATTACKERS}
    ms = {k: 1e3 * _time(attack(v), args.repeats, device) / b for k, v in sets.items()}
    ms["bob_ediffsem"] = 1e3 * _time(lambda: system.decode_bob(rx, header, "ediffsem"),
                                     args.repeats, device) / b
    ratio = ms["ensemble"] / ms["conv_cnn"]
    for k, v in ms.items():
        print(f"{k:14s} {v:8.3f} ms / packet / receiver")
    print(f"ensemble / conv_cnn: {ratio:.2f}x per Eve (batch {b}, {device}, "
          f"{args.threads} thread(s))")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"batch": b, "device": device,
                                          "threads": args.threads, "tstar": args.tstar,
                                          "ms_per_packet": {k: round(v, 4)
                                                            for k, v in ms.items()},
                                          "ensemble_over_conv_cnn": round(ratio, 3)},
                                         indent=2))


if __name__ == "__main__":
    main()
