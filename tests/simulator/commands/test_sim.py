from pathlib import Path

from semsim.simulator import cli
from semsim.simulator.trace import read_traces

DEFAULT = str(Path(__file__).resolve().parents[3] / "scenarios" / "default.yaml")


def _main(argv):
    """The real entry point (``semsim``): named errors become exit 2 there."""
    return cli.main(argv)


def test_validate_ok_and_error(tmp_path, capsys):
    assert _main(["validate", DEFAULT]) == 0
    assert "ok: default" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: {num_packets: 5}\neves: [{mobility: {kind: static, posiion_m: [1, 2]}}]\n")
    assert _main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "eves[0].mobility.posiion_m" in err and "'position_m'" in err
    assert _main(["validate", DEFAULT, "--set", "bob.channel.m=3"]) == 2


def test_run_with_overrides(tmp_path, capsys):
    rc = _main(["run", DEFAULT, "--out", str(tmp_path), "--seed", "11", "--run-id", "cli",
                "--set", "run.num_packets=30", "--set", "eves[0].estimator.kind=perfect",
                "--device", "cpu", "--no-progress"])
    assert rc == 0
    df = read_traces(tmp_path / "cli")
    assert len(df) == 90 and (df.seed == 11).all() and (df.run_id == "cli").all()
    eve0 = df[df.node == "eve0"]
    assert (eve0.snr_rx_est_db == eve0.snr_true_db).all()
    assert "run folder" in capsys.readouterr().out


def test_commands_module_is_light():
    import subprocess
    import sys

    code = ("import sys, semsim.simulator.commands.sim; "
            "print('torch' in sys.modules, 'simpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(DEFAULT).parents[1], check=True).stdout
    assert out.split() == ["False", "False"]
