"""``semsim train jscc|stego|stego-mia`` and ``semsim eval stego``: arguments -> one call
of the models' functions, and the files of an evaluation (JSON report, Markdown tables,
PNG grids and SNR sweep).

No torch import at module level: the training / evaluation modules are imported inside
each command function, so building the ``semsim`` parser stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["add_eval_commands", "add_train_commands", "write_eval"]

_SETTINGS = ("mnist-in-fashion", "fashion", "mnist", "cifar10")
_JSCC = ("jscc-gray28", "jscc-cifar10")


def checkpoint_name(value: str) -> str:
    """argparse type of a checkpoint name: the folder-name rule (so it stays in its folder)."""
    from semsim.models.common.names import name_problem

    problem = name_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{value[:120]!r}: {problem}")
    return value


def _common(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument("--data-dir", default=None, help="datasets folder (default: ../shared/data)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--out", default=None, help=out_help)
    p.add_argument(
        "--checkpoint-dir",
        default=None,
        help="where shipped checkpoints are read (default: models/checkpoints)",
    )


def _train_common(p: argparse.ArgumentParser) -> None:
    _common(p, "where weights + manifest are written (default: models/checkpoints)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--snr-min", type=float, default=None, help="training SNR range low (dB)")
    p.add_argument("--snr-max", type=float, default=None, help="training SNR range high (dB)")
    p.add_argument(
        "--state-dir", default="runs/stego-state", help="epoch resume state (default %(default)s)"
    )
    p.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="resume from the last epoch checkpoint in --state-dir (default: yes)",
    )
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")


def _setup(args: argparse.Namespace) -> str:
    import torch

    from semsim.models.common.device import resolve_device

    torch.set_num_threads(max(1, args.threads))
    return resolve_device(args.device)


def _replace(cfg, args: argparse.Namespace, **fields):
    """Dataclass ``cfg`` with the CLI values that were given (None = keep the default)."""
    from dataclasses import replace

    given = {k: v for k, v in fields.items() if v is not None}
    if args.snr_min is not None or args.snr_max is not None:
        lo, hi = cfg.snr_range_db
        given["snr_range_db"] = (
            args.snr_min if args.snr_min is not None else lo,
            args.snr_max if args.snr_max is not None else hi,
        )
    return replace(cfg, **given)


def _loop_fields(args: argparse.Namespace) -> dict:
    """The training-loop fields every stego training config shares."""
    return {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "seed": args.seed}


def _kw(args: argparse.Namespace, device: str) -> dict:
    from semsim.models.checkpoint import CHECKPOINT_DIR

    return {
        "out_dir": args.out or CHECKPOINT_DIR,
        "state_dir": args.state_dir,
        "data_dir": args.data_dir,
        "device": device,
        "resume": args.resume,
        "progress": not args.no_progress,
    }


def _cmd_jscc(args: argparse.Namespace) -> int:
    device = _setup(args)
    from semsim.models.stego.config import JSCCTrainConfig
    from semsim.models.stego.training import train_jscc

    cfg = _replace(
        JSCCTrainConfig(name=args.preset),
        args,
        **_loop_fields(args),
    )
    print(train_jscc(cfg, **_kw(args, device)))
    return 0


def _cmd_stego(args: argparse.Namespace) -> int:
    device = _setup(args)
    from semsim.models.stego.config import StegoTrainConfig
    from semsim.models.stego.training import train_stego

    cfg = _replace(
        StegoTrainConfig(setting=args.setting),
        args,
        **_loop_fields(args),
        lambda1=args.lambda1,
        lambda2=args.lambda2,
        lambda3=args.lambda3,
        lambda4=args.lambda4,
        lambda5=args.lambda5,
        l_hat_mode=args.l_hat,
        channel=args.channel,
        hidden=args.hidden,
        depth=args.depth,
        finetune_decoder=args.finetune_decoder,
        name=args.name,
        eval_pairs=args.eval_pairs,
    )
    print(train_stego(cfg, checkpoint_dir=args.checkpoint_dir, **_kw(args, device)))
    return 0


def _cmd_mia(args: argparse.Namespace) -> int:
    device = _setup(args)
    from semsim.models.stego.config import MIATrainConfig
    from semsim.models.stego.training import train_mia

    cfg = _replace(
        MIATrainConfig(jscc=args.jscc),
        args,
        **_loop_fields(args),
        hidden=args.hidden,
        name=args.name,
    )
    print(train_mia(cfg, checkpoint_dir=args.checkpoint_dir, **_kw(args, device)))
    return 0


def write_eval(result, out_dir: Path, figure_dir: Path) -> dict:
    """Write a stego :class:`models.evaluation.EvalResult`: one example grid per run and
    the SNR sweep under ``figure_dir``, ``stego-<setting>[-<channel>].json`` (the report)
    and ``.md`` (the tables) under ``out_dir``; prints the tables, returns the report."""
    from semsim.models.common.provenance import atomic_write_text

    from .model_plots import save_grid, stego_sweep_figure
    from .tables import stego_table

    report = result.summary
    setting, channel, snr_db = report["setting"], report["channel"], report["snr_db"]
    sfx = "" if channel == "awgn" else f"-{channel}"
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = []
    for key, run in report["runs"].items():
        tables.append(f"### {setting}, {key}, {channel} {snr_db:g} dB\n\n"
                      + stego_table(run["metrics"]))
        run["grid"] = str(save_grid(figure_dir / f"stego-{setting}-{key}{sfx}-grid.png",
                                    result.images[key],
                                    title=f"{setting}, {key}, {channel} {snr_db:g} dB"))
    stego_sweep_figure(report, figure_dir / f"stego-{setting}-bob-vs-snr{sfx}.png")
    atomic_write_text(out_dir / f"stego-{setting}{sfx}.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out_dir / f"stego-{setting}{sfx}.md", "\n".join(tables))
    print("\n".join(tables))
    return report


def _cmd_eval(args: argparse.Namespace) -> int:
    device = _setup(args)
    from semsim.models.stego import evaluation

    result = evaluation.run_eval(evaluation.StegoEval(
        setting=args.setting,
        lambda3s=tuple(args.lambda3),
        names=tuple(args.names) if args.names else None,
        snr_db=args.snr,
        num_pairs=args.pairs,
        eve_snr_db=args.eve_snr,
        channel=args.channel,
        sweep_snrs_db=tuple(args.sweep_snrs),
        checkpoint_dir=args.checkpoint_dir,
        data_dir=args.data_dir,
        device=device,
        seed=args.seed,
    ))
    out = Path(args.out or "results/eval/stego")
    write_eval(result, out, Path(args.figure_dir) if args.figure_dir is not None else out)
    return 0


def add_train_commands(train_subparsers: argparse._SubParsersAction) -> None:
    """Register ``train jscc``, ``train stego`` and ``train stego-mia``."""
    p = train_subparsers.add_parser(
        "jscc", help="DeepJSCC codec over AWGN at a range of SNRs (SNR not fed to the net)"
    )
    p.add_argument(
        "--preset",
        default="jscc-gray28",
        choices=_JSCC,
        help="jscc-gray28: MNIST + Fashion-MNIST 28x28; jscc-cifar10: CIFAR-10 partial",
    )
    _train_common(p)
    p.set_defaults(func=_cmd_jscc)

    p = train_subparsers.add_parser(
        "stego", help="INN steganography over the shipped DeepJSCC (Bob's link)"
    )
    p.add_argument(
        "--setting",
        default="mnist-in-fashion",
        choices=_SETTINGS,
        help="private/host datasets (mnist-in-fashion: MNIST digit in a Fashion host)",
    )
    for i, default in enumerate((1.0, 1.0, None, 1.0, 1.0), start=1):
        if i == 3:
            continue
        p.add_argument(f"--lambda{i}", type=float, default=None, help=f"default {default}")
    p.add_argument(
        "--lambda3",
        type=float,
        default=None,
        choices=(2.0, 4.0),
        help="weight of |z_p - z_p_hat|^2: 2 (default) or 4, as in the slides",
    )
    p.add_argument(
        "--l-hat",
        default=None,
        choices=("zeros", "gaussian"),
        help="Bob's stand-in for the dropped l (default zeros)",
    )
    p.add_argument("--channel", default=None, choices=("awgn", "rayleigh"))
    p.add_argument("--hidden", type=int, default=None, help="INN sub-network width (256)")
    p.add_argument("--depth", type=int, default=None, help="INN sub-network hidden layers (2)")
    p.add_argument(
        "--finetune-decoder",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Bob fine-tunes his own copy of the DeepJSCC decoder (default: yes)",
    )
    p.add_argument("--name", default=None, type=checkpoint_name,
                   help="checkpoint name (default stego-SETTING-lam3-X)")
    p.add_argument("--eval-pairs", type=int, default=None, help="test pairs for the manifest")
    _train_common(p)
    p.set_defaults(func=_cmd_stego)

    p = train_subparsers.add_parser(
        "stego-mia", help="Eve's model-inversion network against the plain DeepJSCC encoder"
    )
    p.add_argument("--jscc", default="jscc-gray28", choices=_JSCC)
    p.add_argument("--hidden", type=int, default=None, help="inversion net width (512)")
    p.add_argument("--name", default=None, type=checkpoint_name,
                   help="checkpoint name (default stego-mia-<codec>)")
    _train_common(p)
    p.set_defaults(func=_cmd_mia)


def add_eval_commands(eval_subparsers: argparse._SubParsersAction) -> None:
    """Register ``eval stego``."""
    p = eval_subparsers.add_parser(
        "stego", help="the slides' table (Bob, Eve naive + MIA), SNR sweep and example grid"
    )
    p.add_argument("--setting", default="mnist-in-fashion", choices=_SETTINGS)
    p.add_argument(
        "--lambda3",
        type=float,
        nargs="+",
        default=[2.0],
        help="which shipped stego checkpoints (by lambda3) to evaluate",
    )
    p.add_argument("--names", nargs="+", default=None, type=checkpoint_name,
                   help="explicit stego checkpoint names")
    p.add_argument("--snr", type=float, default=15.0, help="AWGN SNR of Bob's and Eve's links")
    p.add_argument("--eve-snr", type=float, default=None, help="Eve's SNR (default: --snr)")
    p.add_argument("--channel", default="awgn", choices=("awgn", "rayleigh"))
    p.add_argument("--pairs", type=int, default=2000, help="test pairs (default %(default)s)")
    p.add_argument("--sweep-snrs", type=float, nargs="*", default=[5.0, 10.0, 15.0, 20.0])
    p.add_argument("--figure-dir", default=None, help="where PNGs go (default: --out)")
    _common(p, "output folder (default results/eval/stego)")
    p.set_defaults(func=_cmd_eval)
