"""``semsim train diffsem`` and ``semsim eval diffsem``: arguments -> one call of the
models' functions, and the files of an evaluation folder (CSV + Parquet tables,
``summary.json``, ``tables.md``, PNG figures). Light module: no torch at import."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["add_eval_commands", "add_train_commands", "write_eval"]

DATASETS = ("mnist", "fashion", "cifar10-partial")


def add_train_commands(train_subparsers) -> argparse.ArgumentParser:
    p = train_subparsers.add_parser(
        "diffsem", help="train DiffSem / E-DiffSem (Alg. 1 + 2), adversaries, baselines")
    p.add_argument("--dataset", choices=DATASETS, default="mnist")
    p.add_argument("--preset", default="cpu", help="cpu (shipped), paper (GPU size), tiny")
    p.add_argument("--device", default="auto", help="auto (cuda if available) | cpu | cuda")
    p.add_argument("--epochs", type=int, default=None, help="U-Net epochs (the main cost)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="reuse finished stages and epoch checkpoints (default)")
    p.add_argument("--stage", action="append", default=None,
                   help="run only these stages (repeatable): pair unet finetune adversary "
                        "ibal judge direct ship; finished stages are always reused")
    p.add_argument("--work-dir", default=None, help="epoch checkpoints (default runs/...)")
    p.add_argument("--out", "--checkpoint-dir", dest="checkpoint_dir", default=None,
                   help="where the shipped checkpoint goes (default models/checkpoints)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch threads (0: default)")
    p.add_argument("--unet-epochs", type=int, default=None)
    p.add_argument("--n-feat", type=int, default=None)
    p.add_argument("--guidance-w", type=float, default=None)
    p.add_argument("--pair-tstar-max", type=int, default=None,
                   help="largest t* the Alice-Bob pair trains on (default: the whole grid, "
                        "as the adversaries); 0 trains the pair on channel noise alone, a "
                        "weaker classifier-only reference at high t*")
    p.add_argument("--pair-high-frac", type=float, default=None,
                   help="share of the pair's training draws with t* >= --pair-high-min "
                        "(default 0: uniform on the grid, as shipped)")
    p.add_argument("--pair-high-min", type=int, default=None)
    p.add_argument("--ft-samples", type=int, default=None, help="Alg. 2 DDIM samples")
    p.add_argument("--ft-high-frac", type=float, default=None,
                   help="share of Alg. 2 samples with t* >= --ft-high-min")
    p.add_argument("--ft-high-min", type=int, default=None)
    p.add_argument("--ft-init", choices=("copy", "preserve"), default=None,
                   help="Alg. 2 start of the receiver classifiers: preserve the bypass "
                        "classifier exactly (x0_hat weights folded onto y, and the start kept "
                        "unless fine-tuning lowers the validation loss; default, shipped), or "
                        "copy it (the previous release)")
    p.set_defaults(func=_run_train)
    return p


def add_eval_commands(eval_subparsers) -> argparse.ArgumentParser:
    p = eval_subparsers.add_parser(
        "diffsem", help="accuracy vs t* / SSIM / PSNR / SNR tables and figures")
    p.add_argument("--dataset", choices=DATASETS, default="mnist")
    p.add_argument("--snr-db", type=float, default=15.0)
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None,
                   help="output folder (default results/eval/diffsem-<dataset>)")
    p.add_argument("--n-test", type=int, default=2000, help="test images (first N)")
    p.add_argument("--tstars", default="0,20,40,60,90,120,150,180,210,240,270,300,350,400")
    p.add_argument("--fig8-snrs", default="5,10,15,20,25", help="channel SNRs for Fig. 8")
    p.add_argument("--fig8-tstars", default="0,60,120,180,240,300,400")
    p.add_argument("--guidance-w", type=float, default=None, help="override Eq. 18 weight")
    p.add_argument("--parts", default="tstar,fig5,fig8",
                   help="subset of tstar,fig5,fig8,levers,headroom,judges, or report alone "
                        "(levers: E-DiffSem w / relabeller; headroom: receivers trained on y "
                        "alone; judges: attackers scored by adapted vs independent judges; "
                        "report: re-render tables.md from the CSVs in --out)")
    p.add_argument("--levers-w", default="0,1,3", help="guidance weights for --parts levers")
    p.add_argument("--work-dir", default=None,
                   help="evaluate the system of an unshipped training work dir (its finished "
                        "stages) instead of the shipped checkpoint, e.g. a training variant "
                        "with --parts levers")
    p.add_argument("--headroom-epochs", type=int, default=40)
    p.add_argument("--headroom-probes", default="small,mlp,conv")
    p.add_argument("--headroom-split", choices=("pair", "adversary"), default="pair",
                   help="pair: Bob's data (headroom over classifier-only); adversary: "
                        "Eve's own split, scored on Eve's packets (direct-attack leakage)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="auto", help="auto (cuda if available) | cpu | cuda")
    p.add_argument("--seed", type=int, default=1234)
    p.set_defaults(func=_run_eval)
    return p


def _run_train(args) -> int:
    import shutil

    import torch

    from semsim.models.checkpoint import CHECKPOINT_DIR
    from semsim.models.common.device import resolve_device
    from semsim.models.diffsem.config import make_config
    from semsim.models.diffsem.training import train_diffsem

    device = resolve_device(args.device)
    cfg = make_config(args.dataset, args.preset, seed=args.seed, threads=args.threads,
                      unet_epochs=args.unet_epochs or args.epochs, n_feat=args.n_feat,
                      guidance_w=args.guidance_w, ft_samples=args.ft_samples,
                      ft_high_frac=args.ft_high_frac, ft_high_min=args.ft_high_min,
                      ft_init=args.ft_init, pair_tstar_max=args.pair_tstar_max,
                      pair_high_frac=args.pair_high_frac, pair_high_min=args.pair_high_min)
    work = Path(args.work_dir or f"runs/diffsem-{args.dataset}-{args.preset}")
    if not args.resume and work.exists():
        shutil.rmtree(work)
    ck = Path(args.checkpoint_dir) if args.checkpoint_dir else CHECKPOINT_DIR
    log_path = work / "train.log"
    work.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(msg, flush=True)
        with open(log_path, "a") as fh:
            fh.write(msg + "\n")

    log(f"torch {torch.__version__} device {device} threads "
        f"{cfg.threads or torch.get_num_threads()} config {cfg.to_dict()}")
    out = train_diffsem(cfg, work, ck, tuple(args.stage) if args.stage else None,
                        args.data_dir, log, device=device)
    if out is not None:
        log(f"wrote {out}")
    return 0


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def write_eval(result, out: Path, dataset: str, snr_db: float) -> dict:
    """Write an :class:`models.evaluation.EvalResult` of ``run_eval`` to ``out``: each
    table as CSV + Parquet, the figures, ``summary.json`` (merged into the folder's
    previous one: a partial rerun keeps what it did not redo) and ``tables.md``."""
    import pandas as pd

    from semsim.models.common.provenance import atomic_write_text

    from .model_plots import diffsem_figures
    from .tables import render_tables

    out.mkdir(parents=True, exist_ok=True)
    frames = {k: pd.DataFrame(rows) for k, rows in result.tables.items() if rows}
    for name, df in frames.items():
        df.to_csv(out / f"{name}.csv", index=False)
        df.to_parquet(out / f"{name}.parquet", index=False)
    df = frames.get("acc_vs_tstar", pd.DataFrame(columns=["snr_db"]))
    figs = diffsem_figures(df, frames.get("ibal"), frames.get("fig8_snr"), snr_db, out, dataset)
    summary = {**result.summary, "figures": [str(p) for p in figs]}
    old = out / "summary.json"
    if old.is_file():
        prev = json.loads(old.read_text())
        summary = {**prev, **summary, "figures": sorted(set(prev.get("figures", []))
                                                        | set(summary["figures"]))}
    atomic_write_text(old, json.dumps(summary, indent=2))
    atomic_write_text(out / "tables.md", render_tables(out))
    return summary


def _run_eval(args) -> int:
    import torch

    from semsim.models.common.device import resolve_device
    from semsim.models.diffsem import evaluation

    parts = tuple(args.parts.split(","))
    out = Path(args.out or f"results/eval/diffsem-{args.dataset}")
    if args.threads:
        torch.set_num_threads(args.threads)
    result = evaluation.run_eval(evaluation.DiffSemEval(
        dataset=args.dataset, parts=parts, snr_db=args.snr_db, n_test=args.n_test,
        tstars=_ints(args.tstars), fig8_snrs=_floats(args.fig8_snrs),
        fig8_tstars=_ints(args.fig8_tstars), guidance_w=args.guidance_w,
        levers_w=_floats(args.levers_w), work_dir=args.work_dir,
        headroom_epochs=args.headroom_epochs,
        headroom_probes=tuple(args.headroom_probes.split(",")),
        headroom_split=args.headroom_split, checkpoint_dir=args.checkpoint_dir,
        data_dir=args.data_dir, device="cpu" if set(parts) <= {"report"}
        else resolve_device(args.device), seed=args.seed))
    if set(parts) <= {"report"}:  # re-render tables.md from the CSVs already in --out
        from semsim.models.common.provenance import atomic_write_text

        from .tables import render_tables

        if not out.is_dir():
            raise FileNotFoundError(f"--out {out}: no evaluation folder to report on")
        text = render_tables(out)
        atomic_write_text(out / "tables.md", text)
        print(text)
        return 0
    print(json.dumps(write_eval(result, out, args.dataset, args.snr_db), indent=2))
    return 0
