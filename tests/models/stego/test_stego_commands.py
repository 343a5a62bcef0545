"""``semsim train jscc|stego|stego-mia`` and ``semsim eval stego`` register without torch."""

from __future__ import annotations

import pytest


def test_cli_registers_commands_without_importing_torch():
    import argparse
    import subprocess
    import sys

    code = (
        "import sys; from semsim.simulator.commands import stego; "
        "assert 'torch' not in sys.modules, 'the stego commands imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from semsim.simulator.commands import stego as stego_cli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    stego_cli.add_train_commands(sub.add_parser("train").add_subparsers(dest="family"))
    stego_cli.add_eval_commands(sub.add_parser("eval").add_subparsers(dest="family"))
    for argv in (
        ["train", "jscc"],
        ["train", "stego", "--lambda3", "4"],
        ["train", "stego-mia"],
        ["eval", "stego", "--lambda3", "2", "4"],
    ):
        args = parser.parse_args(argv)
        assert callable(args.func)
    assert parser.parse_args(["train", "stego", "--lambda3", "4"]).lambda3 == 4.0
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "stego", "--lambda3", "3"])
