"""Neural codecs inside the engine vs the same model work batched, in one process.

For each codec (``diffsem``: E-DiffSem at Bob, conv attacker + CNN judge at each Eve;
``stego``: hide at Alice, reveal at Bob, naive + MIA decoding at each Eve) this runs the
walk-past scenario (1 Bob + 2 Eves, real images, shipped checkpoints) for N packets through
the engine, one codec call per transmission event, and then the same model calls for the
same number of packets as a few large batches, and the engine again with
``codec.decode_batch_packets`` = batch (several packets per codec call). Reported: packets
per second each way and the ratios. Torch uses one thread.

    .venv/bin/python benchmarks/bench_codecs.py [--packets N] [--batch B]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from simulator.engine import run_scenario
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def engine_rate(name: str, packets: int, decode_batch: int = 1) -> float:
    sc = load_scenario(ROOT / "scenarios" / f"{name}_walk_past.yaml",
                       ["run.duration_s=null", f"run.num_packets={packets}",
                        f"codec.decode_batch_packets={decode_batch}"])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_scenario(sc, tmp, write_metadata=False)
        return packets / (time.perf_counter() - t0)


def diffsem_batched(packets: int, batch: int) -> float:
    from models.data import load_dataset
    from models.diffsem import load_diffsem

    system = load_diffsem("mnist", with_baselines=False).system
    data = load_dataset("mnist", "test")
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for start in range(0, packets, batch):
        x = data.images[start:start + batch]
        b = x.shape[0]
        tstar, snr = torch.full((b,), 240), torch.full((b,), 15.0)
        sym, hdr = system.encode(x, tstar, snr, gen)
        rx = sym + 10 ** (-15 / 20) * torch.randn(sym.shape, generator=gen)
        rx3 = rx.repeat(3, 1, 1, 1)  # Bob + 2 Eves hear the packet
        system.receive_ediffsem(rx3[:b], tstar, tprime=hdr["tprime"])
        t2 = tstar.repeat(2)
        rec = system.invert(rx3[b:], t2, tprime=hdr["tprime"].repeat(2))
        system.strong_classify(rec)
    return packets / (time.perf_counter() - t0)


def stego_batched(packets: int, batch: int) -> float:
    from models.data import load_dataset
    from models.stego import load_stego

    system = load_stego("mnist-in-fashion")
    priv, host = load_dataset("mnist", "test").images, load_dataset("fashion", "test").images
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for start in range(0, packets, batch):
        zc = system.hide(priv[start:start + batch], host[start:start + batch])
        rx = zc + (10 ** (-15 / 10) / 2) ** 0.5 * torch.complex(
            torch.randn(zc.shape, generator=gen), torch.randn(zc.shape, generator=gen))
        system.reveal(rx)
        eves = rx.repeat(2, 1)
        system.naive(eves)
        system.mia(eves)
    return packets / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default="results/bench_codecs.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    report = {}
    for name, batched in (("stego", stego_batched), ("diffsem", diffsem_batched)):
        batched(min(args.batch, args.packets), args.batch)  # warm-up
        eng = engine_rate(name, args.packets)
        eng_b = engine_rate(name, args.packets, args.batch)
        bat = batched(args.packets, args.batch)
        report[name] = {"engine_per_event_packets_per_s": round(eng, 2),
                        "engine_decode_batch_packets_per_s": round(eng_b, 2),
                        "models_batched_packets_per_s": round(bat, 2),
                        "engine_batched_over_per_event": round(eng_b / eng, 2),
                        "models_batched_over_engine_batched": round(bat / eng_b, 2)}
        print(f"{name:8s} engine per event {eng:7.1f} packets/s, engine decode_batch_packets="
              f"{args.batch} {eng_b:7.1f} ({eng_b / eng:4.1f}x), bare model calls batched "
              f"{bat:7.1f} ({bat / eng_b:4.2f}x the batched engine)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"packets": args.packets, "batch": args.batch,
                                          **report}, indent=2))


if __name__ == "__main__":
    main()
