"""Why stego's naive-attack metrics differ between ``stego`` and ``stego-abstract`` on the
same seeds: the hosts. For each run of ``benchmarks/abstraction_validation.py --scenarios
s`` (its ``--out`` folder), this decodes every packet's own (private image, host) pair
noiselessly with Eve's naive decoder and prints the mean SSIM / PSNR to the private image
next to the trace's: if the noiseless means differ between the two runs as the traces do,
the difference comes from which hosts were drawn, not from the channel abstraction.

    SEMSIM_DATA=... .venv/bin/python benchmarks/abstraction_host_check.py \
        [--out results/abstraction-stego] s1_walk_past s2_static_awgn ...
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from semsim.models.data import load_dataset
from semsim.models.metrics import psnr, ssim
from semsim.models.stego.loader import load_stego


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="+")
    ap.add_argument("--out", default="results/abstraction-stego")
    args = ap.parse_args()
    torch.set_num_threads(1)
    system = load_stego("mnist-in-fashion")
    private = load_dataset("mnist", "test").images
    hosts = load_dataset("fashion", "test").images
    print("| scenario | run | noiseless naive SSIM | PSNR (dB) | trace Eve SSIM | PSNR (dB) |")
    print("|---|---|---|---|---|---|")
    for sc in args.scenarios:
        for run in ("neural", "abstract-0"):
            df = pd.read_parquet(f"{args.out}/{sc}/{run}/traces")
            pk = df[df.role == "bob"][["h_source_index", "h_host_index"]].to_numpy(copy=True)
            eve = df[df.role == "eve"]
            with torch.no_grad():
                p = private[torch.as_tensor(pk[:, 0])]
                sym, _ = system.send(system.prepare(p, hosts[torch.as_tensor(pk[:, 1])]))
                img = system.decode_eve(sym)["images"]
            print(f"| {sc} | {run} | {ssim(img, p).mean().item():.4f} | "
                  f"{psnr(img, p).mean().item():.3f} | {eve.m_ssim_private.mean():.4f} | "
                  f"{eve.m_psnr_private_db.mean():.3f} |")


if __name__ == "__main__":
    main()
