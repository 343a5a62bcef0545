"""Lever study for a GPU: the paper-width U-Net (n_feat = 128) against the shipped one.

The shipped DiffSem U-Net is n_feat = 64, 10 epochs (what a 2-core CPU could train). This
script keeps the shipped encoder and bypass classifier (so the channel symbols, the
packets and classifier-only are identical), trains a fresh paper-width U-Net for as many
epochs as ``--unet-budget-s`` allows (at most ``--max-epochs``, the paper's 100), redoes
Alg. 2 fine-tuning of both receiver classifiers from the bypass classifier on
``--ft-samples`` DDIM outputs (the paper preset's 40,000), then scores Bob's three
receivers for both U-Nets on the same test packets (AWGN ``--snr-db``), with the paired
95 % interval of E-DiffSem - classifier-only.

    python benchmarks/paper_width.py --device cuda --unet-budget-s 200 --out results/paper_width

Writes ``paper_width.csv``, ``paper_width.json`` (config, epochs, timings, rows) and a log.
The library stages (``stage_unet``, ``stage_finetune``) are the ones ``semsim train`` runs.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from semsim.models.common.device import resolve_device, synchronize
from semsim.models.diffsem.config import make_config
from semsim.models.diffsem.evaluation import test_packets
from semsim.models.diffsem.loader import load_diffsem
from semsim.models.diffsem.splits import load_splits
from semsim.models.diffsem.stages import stage_finetune, stage_unet
from semsim.models.diffsem.system import DiffSemSystem

__all__ = ["bob_rows", "main"]


@torch.no_grad()
def bob_rows(system: DiffSemSystem, x, lab, snr_db: float, tstars, seed: int, tag: str,
             log=print) -> list[dict]:
    """Bob's classifier / DiffSem / E-DiffSem accuracy per t* on ``test_packets`` (the same
    y for every system sharing the encoder), with E-DiffSem - classifier and its paired
    95 % normal interval."""
    x0 = system.encoder(x)
    rows = []
    for ts in tstars:
        yb, _, t, s, tp = test_packets(system, x0, ts, snr_db, seed)
        hits = {m: (system.receive(yb, t, s, method=m, rescaled=True).argmax(1) == lab).cpu()
                for m in ("classifier", "diffsem")}
        r = system.receive_ediffsem(yb, t, s, rescaled=True)
        hits["ediffsem"] = (r.logits.argmax(1) == lab).cpu()
        d = hits["ediffsem"].float() - hits["classifier"].float()
        half = 1.96 * float(d.std()) / math.sqrt(len(d))
        row = {"unet": tag, "n_feat": system.cfg.n_feat, "snr_db": snr_db, "tstar": int(ts),
               "tprime": int(tp[0]), "n": len(d),
               **{m: float(h.float().mean()) for m, h in hits.items()},
               "ediffsem_iterations": float(r.iterations.float().mean()),
               "ediff_minus_clf": float(d.mean()), "ci95_lo": float(d.mean()) - half,
               "ci95_hi": float(d.mean()) + half}
        rows.append(row)
        log(f"[{tag}] t*={ts:3d} clf {row['classifier']:.4f} diff {row['diffsem']:.4f} "
            f"ediff {row['ediffsem']:.4f} gain {100 * row['ediff_minus_clf']:+.2f} "
            f"[{100 * row['ci95_lo']:+.2f}, {100 * row['ci95_hi']:+.2f}]")
    return rows


def _unet_step_s(system: DiffSemSystem, batch: int, device: str, steps: int = 10) -> float:
    """Seconds per U-Net training step on ``device`` (a throwaway copy of the U-Net)."""
    import copy

    import torch.nn.functional as F

    unet = copy.deepcopy(system.unet).train()
    opt = torch.optim.Adam(unet.parameters(), 1e-4)
    x0 = torch.randn(batch, system.cfg.feat_ch, 8, 8, device=device)
    c = F.one_hot(torch.randint(0, 10, (batch,), device=device), 10).float()
    t = torch.randint(0, system.cfg.T, (batch,), device=device)
    for i in range(steps + 2):
        if i == 2:
            synchronize(device)
            t0 = time.perf_counter()
        loss = F.mse_loss(unet(system.schedule.q_sample(x0, t, x0), t, c), x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    synchronize(device)
    return (time.perf_counter() - t0) / steps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--n-feat", type=int, default=128)
    ap.add_argument("--unet-budget-s", type=float, default=200.0)
    ap.add_argument("--max-epochs", type=int, default=100)
    ap.add_argument("--ft-samples", type=int, default=40000)
    ap.add_argument("--ft-epochs", type=int, default=40)
    ap.add_argument("--ft-init", choices=("preserve", "copy"), default=None,
                    help="Alg. 2 start (default: the shipped checkpoint's; the published "
                         "H200 run used copy)")
    ap.add_argument("--snr-db", type=float, default=15.0)
    ap.add_argument("--tstars", default="0,100,200,250,300,330,350,400")
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/paper_width")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = (out / "paper_width.log").open("a")

    def log(msg: str) -> None:
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    device = resolve_device(args.device)
    t_all = time.time()
    shipped = load_diffsem(args.dataset, device=device, with_baselines=False)
    cfg = make_config(args.dataset, "paper", n_feat=args.n_feat, ft_samples=args.ft_samples,
                      ft_epochs=args.ft_epochs, threads=0, seed=shipped.config.seed,
                      ft_tstar_max=shipped.config.ft_tstar_max,
                      guidance_w=shipped.config.guidance_w,
                      edf_max_iters=shipped.config.edf_max_iters,
                      ft_init=args.ft_init or shipped.config.ft_init)
    torch.manual_seed(cfg.seed)  # the fresh U-Net's init, as train_diffsem seeds it
    new = DiffSemSystem(cfg).to(device).eval()  # fit_stage trains only its own modules
    keep = {k: v for k, v in shipped.system.state_dict().items() if not k.startswith("unet.")}
    missing, unexpected = new.load_state_dict(keep, strict=False)
    assert not unexpected and all(k.startswith("unet.") for k in missing), (missing, unexpected)
    # Alg. 2 starts the receiver classifiers from the bypass classifier, as the pipeline does
    new.clf_diff.load_state_dict(new.clf0.state_dict())
    new.clf_e.load_state_dict(new.clf0.state_dict())
    d = load_splits(cfg).to(device)
    step_s = _unet_step_s(new, cfg.batch_size, device)
    val_s = step_s * len(d.val) / cfg.batch_size / 3  # forward only, roughly
    epoch_est = step_s * math.ceil(len(d.pair) / cfg.batch_size) + val_s
    epochs = max(1, min(args.max_epochs, int(args.unet_budget_s / (1.1 * epoch_est))))
    cfg = replace(cfg, unet_epochs=epochs)
    log(f"device {device} ({torch.cuda.get_device_name() if device.startswith('cuda') else 'cpu'})"
        f"; pair {len(d.pair)} images; n_feat {cfg.n_feat}: {step_s * 1000:.1f} ms/step, "
        f"~{epoch_est:.1f} s/epoch -> {epochs} epochs in {args.unet_budget_s:.0f} s")
    with tempfile.TemporaryDirectory() as work:
        t0 = time.time()
        info_u = stage_unet(new, d, cfg, Path(work), log)
        unet_s = time.time() - t0
        t0 = time.time()
        info_f = stage_finetune(new, d, cfg, Path(work), log)
        ft_s = time.time() - t0
    new.eval()
    x, lab = d.test.images[:args.n_test], d.test.labels[:args.n_test]
    tstars = [int(v) for v in args.tstars.split(",")]
    t0 = time.time()
    rows = bob_rows(shipped.system, x, lab, args.snr_db, tstars, args.seed,
                    f"shipped n_feat={shipped.config.n_feat}", log)
    rows += bob_rows(new, x, lab, args.snr_db, tstars, args.seed, f"paper n_feat={cfg.n_feat}",
                     log)
    eval_s = time.time() - t0
    import pandas as pd

    pd.DataFrame(rows).to_csv(out / "paper_width.csv", index=False)
    summary = {"device": device, "config": cfg.to_dict(), "unet_epochs": epochs,
               "unet_step_s": step_s, "unet_stage_s": unet_s, "unet_info": info_u,
               "finetune_s": ft_s, "finetune_info": info_f, "eval_s": eval_s,
               "shipped_config": shipped.config.to_dict(), "wall_s": time.time() - t_all,
               "rows": rows}
    (out / "paper_width.json").write_text(json.dumps(summary, indent=2, default=str))
    log(f"done in {time.time() - t_all:.0f} s: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
