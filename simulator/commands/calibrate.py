"""``semsim calibrate``: build a semantic PHY abstraction table (``diffsem-abstract``) from
the shipped checkpoints; arguments -> one call of
:func:`semsim.models.abstract.build.build_diffsem_table`. Light module: no torch at import."""

from __future__ import annotations

import argparse
import sys

__all__ = ["cmd_calibrate", "register"]


def register(subparsers) -> argparse.ArgumentParser:
    from semsim.models.abstract.build import DEFAULT_GRID

    p = subparsers.add_parser(
        "calibrate", help="build a PHY abstraction table from the neural codec "
                          "(docs/abstraction.md)")
    p.add_argument("codec", choices=("diffsem",), help="the neural codec to abstract")
    p.add_argument("--scenario", default=None,
                   help="take dataset, tstar and receiver from this scenario's codec.options")
    p.add_argument("--dataset", default=None, help="mnist | fashion (default mnist)")
    p.add_argument("--tstar", type=int, default=None, help="t* (default 180)")
    p.add_argument("--receiver", default=None, choices=("classifier", "diffsem", "ediffsem"))
    p.add_argument("--images", type=int, default=500, help="first N test images")
    p.add_argument("--draws", type=int, default=4, help="noise draws per image and grid point")
    p.add_argument("--grid-db", default=DEFAULT_GRID,
                   help=f"effective-SNR grid: a:b:step, values, max (default {DEFAULT_GRID})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="table folder (default the shipped one)")
    p.add_argument("--work-dir", default=None, help="keep per-grid-point parts here (resume)")
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    p.add_argument("--batch", type=int, default=256, help="images per model call")
    p.set_defaults(func=cmd_calibrate)
    return p


def _codec_options(args) -> tuple[str, int, str]:
    dataset, tstar, receiver = "mnist", 180, "ediffsem"
    if args.scenario is not None:
        from semsim.simulator.errors import ScenarioError
        from semsim.simulator.scenario import load_scenario

        sc = load_scenario(args.scenario)
        if sc.codec.name not in ("diffsem", "diffsem-abstract"):
            raise ScenarioError("codec.name", "semsim calibrate diffsem needs a diffsem "
                                "scenario", sc.codec.name)
        o = sc.codec.options
        if o is not None:
            dataset, tstar, receiver = o.dataset, o.tstar, o.receiver
    return (args.dataset or dataset, args.tstar if args.tstar is not None else tstar,
            args.receiver or receiver)


def cmd_calibrate(args: argparse.Namespace) -> int:
    dataset, tstar, receiver = _codec_options(args)
    from semsim.models.abstract.table import CalibrationError

    if args.images < 1 or args.draws < 1 or args.batch < 1:
        raise CalibrationError("--images, --draws and --batch must be >= 1")
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    from semsim.models.abstract.build import build_diffsem_table

    def say(line: str) -> None:
        print(f"calibrate diffsem-{dataset} t*={tstar}: {line}", file=sys.stderr, flush=True)

    say(f"{args.images} images x {args.draws} draws per grid point, seed {args.seed}")
    path = build_diffsem_table(dataset=dataset, tstar=tstar, receiver=receiver,
                               images=args.images, draws=args.draws, grid=args.grid_db,
                               seed=args.seed, out_dir=args.out, work_dir=args.work_dir,
                               checkpoint_dir=args.checkpoint_dir, data_dir=args.data_dir,
                               device=args.device, batch=args.batch, progress=say)
    print(path)
    return 0
