"""Per-packet cost of the stego link on CPU: encode / hide / reveal / decode / naive / MIA.

One packet = one image. For batch sizes 1, 64 and 1024 it times each operation of
:class:`semsim.models.stego.StegoSystem` (median of repeats, after a warm-up) and prints the
time per call and per packet. Uses the shipped checkpoints of ``--setting`` when present,
else randomly initialised networks of the same size (said in the output).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_stego.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def _system(setting: str):
    from semsim.models.checkpoint import CheckpointError
    from semsim.models.stego import INN, SETTINGS, INNConfig, InversionNet, StegoSystem, load_stego
    from semsim.models.stego.config import JSCC_PRESETS

    try:
        return load_stego(setting), "shipped checkpoints"
    except CheckpointError:
        cfg = JSCC_PRESETS[SETTINGS[setting].jscc][0]
        from semsim.models.stego.jscc import DeepJSCC

        jscc = DeepJSCC(cfg)
        inv = InversionNet(2 * cfg.k, cfg.channels, cfg.image_size)
        return StegoSystem(jscc, INN(INNConfig(dim=2 * cfg.k)), None, inv).eval(), "random init"


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setting", default="mnist-in-fashion")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    system, source = _system(args.setting)
    c = system.jscc.cfg
    print(
        f"setting {args.setting} ({source}); image {c.channels}x{c.image_size}x{c.image_size}, "
        f"k = {c.k} complex symbols; torch threads {args.threads}"
    )
    print(f"{'batch':>6} {'op':>8} {'ms/call':>10} {'us/packet':>10}")
    rows = []
    gen = torch.Generator().manual_seed(0)
    for b in args.batches:
        xp = torch.rand(b, c.channels, c.image_size, c.image_size, generator=gen)
        xh = torch.rand(b, c.channels, c.image_size, c.image_size, generator=gen)
        tx = system.hide(xp, xh)
        ops = {
            "encode": lambda xp=xp: system.encode(xp),
            "hide": lambda xp=xp, xh=xh: system.hide(xp, xh),
            "reveal": lambda tx=tx: system.reveal(tx),
            "decode": lambda tx=tx: system.decode(tx),
            "mia": lambda tx=tx: system.mia(tx),
        }
        repeats = 50 if b == 1 else 20 if b == 64 else 5
        for name, fn in ops.items():
            sec = _time(fn, repeats)
            rows.append(
                {"batch": b, "op": name, "ms_per_call": sec * 1e3, "us_per_packet": sec * 1e6 / b}
            )
            print(f"{b:>6} {name:>8} {sec * 1e3:>10.3f} {sec * 1e6 / b:>10.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {"setting": args.setting, "source": source, "threads": args.threads, "rows": rows},
                fh,
                indent=2,
            )


if __name__ == "__main__":
    main()
