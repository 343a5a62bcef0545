"""DiffSem / E-DiffSem per-packet inference cost (CPU or GPU) and training time per epoch;
Eve's cost per packet (inversion + judge, or the direct attacker) beside Bob's.

Run by hand: ``.venv/bin/python benchmarks/bench_diffsem.py [--dataset mnist]
[--threads 1] [--device cpu|cuda] [--tstar 200] [--unet-widths 64,128]
[--out results/bench_diffsem.json]``. Uses the shipped
checkpoint when present (else a randomly initialised net of the ``cpu`` preset: the cost
is the same). Inference is one batched call per batch; the only Python loops are over
DDIM steps and E-DiffSem passes. Training time per epoch is read from the shipped
manifest (measured during training) and re-measured here for the U-Net on a few steps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from semsim.models.common.device import synchronize


def _system(dataset: str, device: str = "cpu"):
    from semsim.models.checkpoint import CheckpointError
    from semsim.models.diffsem.config import make_config
    from semsim.models.diffsem.loader import load_diffsem
    from semsim.models.diffsem.system import DiffSemSystem, build_direct_attacker

    try:
        b = load_diffsem(dataset, with_baselines=False, device=device)
        direct = b.direct if b.direct is not None else build_direct_attacker(b.config).eval()
        return b.system, direct.to(device), b.manifest, True
    except CheckpointError:
        cfg = make_config(dataset)
        return (DiffSemSystem(cfg).eval().to(device), build_direct_attacker(cfg).eval().to(device),
                None, False)


def _calls(sys_, direct, sym, t, s, tp) -> dict:
    """Bob's receivers and Eve's attackers on one batch of received packets."""
    calls = {m: (lambda m=m: sys_.receive(sym, t, s, method=m, tprime=tp))
             for m in ("classifier", "diffsem", "ediffsem")}
    calls["eve_inversion_conv+judge_cnn"] = lambda: sys_.strong_classify(
        sys_.invert(sym, t, tprime=tp, kind="conv"), "cnn")
    if direct is not None:
        calls["eve_direct"] = lambda: direct(sys_.rescale(sym, t, tp, None), t.to(sym.device))
    return calls


def bench_inference(sys_, batches, tstar: int, snr_db: float, reps: int,
                    direct=None, device: str = "cpu") -> list[dict]:
    rows = []
    for bsz in batches:
        x = torch.rand(bsz, sys_.cfg.img_ch, sys_.cfg.img_size, sys_.cfg.img_size,
                       device=device)
        t = torch.full((bsz,), tstar)
        s = torch.full((bsz,), snr_db)
        sym, hdr = sys_.encode(x, t, s)
        for method, call in _calls(sys_, direct, sym, t, s, hdr["tprime"]).items():
            call()  # warm-up
            n = max(1, reps if bsz < 1024 or device != "cpu" else 1)
            synchronize(device)
            t0 = time.perf_counter()
            for _ in range(n):
                call()
            synchronize(device)
            dt = (time.perf_counter() - t0) / n
            rows.append({"method": method, "device": device, "batch": bsz, "tstar": tstar,
                         "batch_s": round(dt, 5), "per_packet_ms": round(1000 * dt / bsz, 4)})
            print(rows[-1], flush=True)
    return rows


def bench_unet_train(sys_, steps: int = 5, batch: int = 256, device: str = "cpu") -> dict:
    """Seconds per U-Net training step (batch 256) of ``sys_``'s U-Net on ``device``."""
    unet = sys_.unet
    unet.train()
    opt = torch.optim.Adam(unet.parameters(), 1e-4)
    x0 = torch.randn(batch, sys_.cfg.feat_ch, 8, 8, device=device)
    c = F.one_hot(torch.randint(0, 10, (batch,), device=device), 10).float()
    times = []
    for i in range(steps + 1):
        t = torch.randint(0, sys_.cfg.T, (batch,), device=device)
        eps = torch.randn_like(x0)
        synchronize(device)
        t0 = time.perf_counter()
        loss = F.mse_loss(unet(sys_.schedule.q_sample(x0, t, eps), t, c), eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
        synchronize(device)
        if i:
            times.append(time.perf_counter() - t0)
    unet.eval()
    step = sum(times) / len(times)
    return {"n_feat": sys_.cfg.n_feat, "unet_step_s_batch256": round(step, 4),
            "unet_epoch_s_estimate_36k": round(step * 36000 / batch, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tstar", type=int, default=200)
    ap.add_argument("--snr-db", type=float, default=15.0)
    ap.add_argument("--batches", default="1,64,1024")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu | cuda[:N] | auto")
    ap.add_argument("--unet-widths", default="",
                    help="also time a fresh U-Net training step at these n_feat (e.g. 128, the "
                         "paper's width)")
    ap.add_argument("--out", default="results/bench_diffsem.json")
    args = ap.parse_args(argv)
    from semsim.models.common.device import resolve_device

    device = resolve_device(args.device)
    if args.threads > 0:  # 0: torch's default (all cores)
        torch.set_num_threads(args.threads)
    sys_, direct, manifest, shipped = _system(args.dataset, device)
    with torch.no_grad():
        rows = bench_inference(sys_, [int(b) for b in args.batches.split(",")], args.tstar,
                               args.snr_db, args.reps, direct, device)
    train = bench_unet_train(sys_, device=device)
    widths = [int(w) for w in args.unet_widths.split(",") if w]
    if widths:
        from semsim.models.diffsem.config import make_config
        from semsim.models.diffsem.system import DiffSemSystem

        train["unet_widths"] = [
            bench_unet_train(DiffSemSystem(make_config(args.dataset, n_feat=w)).to(device),
                             device=device) for w in widths]
    if manifest is not None:
        stages = manifest.get("extra", {}).get("stages", {})
        train["measured_during_training_epoch_s"] = {
            k: v.get("epoch_s") for k, v in stages.items() if isinstance(v, dict)
            and v.get("epoch_s") is not None}
    out = {"dataset": args.dataset, "device": device, "threads": torch.get_num_threads(),
           "device_name": (torch.cuda.get_device_name(torch.device(device))
                           if device.startswith("cuda") else "cpu"),
           "shipped_weights": shipped,
           "n_feat": sys_.cfg.n_feat, "ddim_stride": sys_.cfg.ddim_stride,
           "inference": rows, "training": train}
    print(json.dumps(train, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
