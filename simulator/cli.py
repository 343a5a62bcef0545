"""Thin command-line front end: ``semsim run|validate|report|sweep|map|train|eval|calibrate``.

Each family registers its own sub-commands from a light module (no torch import at module
level) so ``semsim validate`` stays fast; the real work lives in library functions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Assemble the full ``semsim`` argument parser from each family's registrations."""
    from semsim.simulator.commands import calibrate as calibrate_commands
    from semsim.simulator.commands import diffsem as diffsem_commands
    from semsim.simulator.commands import map as map_commands
    from semsim.simulator.commands import sim as sim_commands
    from semsim.simulator.commands import stego as stego_commands

    parser = argparse.ArgumentParser(
        prog="semsim", description="Discrete-event simulator for secure semantic communication."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sim_commands.register(sub)  # run, validate, report, sweep
    map_commands.register(sub)
    calibrate_commands.register(sub)

    train = sub.add_parser("train", help="train a model family (writes checkpoints + manifest)")
    train_sub = train.add_subparsers(dest="family", required=True, metavar="FAMILY")
    evaluate = sub.add_parser("eval", help="evaluate shipped checkpoints (tables + figures)")
    eval_sub = evaluate.add_subparsers(dest="family", required=True, metavar="FAMILY")

    diffsem_commands.add_train_commands(train_sub)
    diffsem_commands.add_eval_commands(eval_sub)
    stego_commands.add_train_commands(train_sub)
    stego_commands.add_eval_commands(eval_sub)
    return parser


#: errors the model commands raise for bad input (missing checkpoint or data file, a
#: modified weight file, an unavailable device): (module, class) so that checking them
#: never imports torch.
_USER_ERRORS = (("semsim.models.checkpoint", "CheckpointError"),
                ("semsim.models.manifests", "CheckpointError"),
                ("semsim.models.abstract.table", "CalibrationError"),
                ("semsim.models.data", "DatasetError"),
                ("semsim.models.common.device", "DeviceError"),
                ("semsim.models.diffsem.config", "ConfigError"),
                ("semsim.simulator.errors", "ScenarioError"))


def _is_user_error(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError):
        return True
    return any(m in sys.modules and isinstance(exc, getattr(sys.modules[m], c))
               for m, c in _USER_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``semsim`` console script; returns the process exit code (2 with
    a one-line message, no traceback, for bad input such as a missing checkpoint)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        print(f"semsim: error: {exc}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
