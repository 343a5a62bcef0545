"""``semsim calibrate``: build a semantic PHY abstraction table (``diffsem-abstract``,
``stego-abstract``) from the shipped checkpoints; arguments -> one call of
:func:`semsim.models.abstract.build.build_diffsem_table` or
:func:`semsim.models.abstract.stego_calibration.build_stego_table`. Light module: no
torch at import."""

from __future__ import annotations

import argparse
import sys

__all__ = ["STEGO_GRID", "cmd_calibrate", "register"]

#: default SNR grid (dB) of stego tables: 1 dB over -12..30, coarser outside (-100..100:
#: deep fades and receivers next to Alice)
STEGO_GRID = "-100,-80,-60,-45,-30:-15:5,-12:30:1,33,36,40,45,50,60,70,80,100"


def register(subparsers) -> argparse.ArgumentParser:
    from semsim.models.abstract.build import DEFAULT_GRID

    p = subparsers.add_parser(
        "calibrate", help="build a PHY abstraction table from the neural codec "
                          "(docs/abstraction.md)")
    p.add_argument("codec", choices=("diffsem", "stego"), help="the neural codec to abstract")
    p.add_argument("--scenario", default=None,
                   help="take dataset, tstar and receiver from this scenario's codec.options")
    p.add_argument("--dataset", default=None, help="mnist | fashion (default mnist)")
    p.add_argument("--tstar", type=int, default=None, help="t* (default 180)")
    p.add_argument("--receiver", default=None, choices=("classifier", "diffsem", "ediffsem"))
    p.add_argument("--setting", default=None, help="stego: setting (default "
                   "mnist-in-fashion, or the scenario's)")
    p.add_argument("--checkpoint", default=None, help="stego: checkpoint (setting's default)")
    p.add_argument("--host-split", default=None, choices=("train", "test"))
    p.add_argument("--l-hat", default=None, choices=("zeros", "gaussian"))
    p.add_argument("--hosts", type=int, default=2, help="stego: hosts per private image")
    p.add_argument("--images", type=int, default=500, help="first N test images")
    p.add_argument("--draws", type=int, default=None,
                   help="noise draws per image and grid point (default 4; stego 2 per host)")
    p.add_argument("--grid-db", default=None,
                   help=f"SNR grid: a:b:step, values, max (default diffsem: {DEFAULT_GRID}, "
                        f"effective SNR; stego: {STEGO_GRID})")
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


def _stego(args, say) -> object:
    from semsim.models.abstract.build import parse_grid
    from semsim.models.abstract.stego_calibration import build_stego_table

    setting, checkpoint, host_split, l_hat = "mnist-in-fashion", None, "test", "zeros"
    if args.scenario is not None:
        from semsim.simulator.errors import ScenarioError
        from semsim.simulator.scenario import load_scenario

        sc = load_scenario(args.scenario)
        if sc.codec.name not in ("stego", "stego-abstract"):
            raise ScenarioError("codec.name", "semsim calibrate stego needs a stego scenario",
                                sc.codec.name)
        o = sc.codec.options
        if o is not None:
            setting, checkpoint, host_split, l_hat = (o.setting, o.checkpoint, o.host_split,
                                                      o.l_hat)
    grid = parse_grid(args.grid_db or STEGO_GRID, float("inf"))
    return build_stego_table(
        setting=args.setting or setting, checkpoint=args.checkpoint or checkpoint,
        host_split=args.host_split or host_split, l_hat=args.l_hat or l_hat,
        images=args.images, hosts=args.hosts, draws=args.draws or 2, grid_db=grid,
        seed=args.seed, out_dir=args.out, work_dir=args.work_dir,
        checkpoint_dir=args.checkpoint_dir, data_dir=args.data_dir, batch=args.batch,
        progress=say)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from semsim.models.abstract.table import CalibrationError

    if args.images < 1 or (args.draws is not None and args.draws < 1) or args.batch < 1 \
            or args.hosts < 1:
        raise CalibrationError("--images, --draws, --hosts and --batch must be >= 1")
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    if args.codec == "stego":
        def say_stego(line: str) -> None:
            print(f"calibrate stego: {line}", file=sys.stderr, flush=True)

        print(_stego(args, say_stego))
        return 0
    dataset, tstar, receiver = _codec_options(args)
    from semsim.models.abstract.build import DEFAULT_GRID, build_diffsem_table

    def say(line: str) -> None:
        print(f"calibrate diffsem-{dataset} t*={tstar}: {line}", file=sys.stderr, flush=True)

    draws = args.draws or 4
    say(f"{args.images} images x {draws} draws per grid point, seed {args.seed}")
    path = build_diffsem_table(dataset=dataset, tstar=tstar, receiver=receiver,
                               images=args.images, draws=draws, grid=args.grid_db or DEFAULT_GRID,
                               seed=args.seed, out_dir=args.out, work_dir=args.work_dir,
                               checkpoint_dir=args.checkpoint_dir, data_dir=args.data_dir,
                               device=args.device, batch=args.batch, progress=say)
    print(path)
    return 0
