from pathlib import Path

from semsim.simulator import cli
from semsim.simulator.trace import read_traces

DEFAULT = str(Path(__file__).resolve().parents[3] / "scenarios" / "reference.yaml")


def _main(argv):
    """The real entry point (``semsim``): named errors become exit 2 there."""
    return cli.main(argv)


def test_validate_ok_and_error(tmp_path, capsys):
    assert _main(["validate", DEFAULT]) == 0
    assert "ok: reference" in capsys.readouterr().out
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


def test_run_without_a_scenario_runs_the_mission_default(tmp_path, capsys, data_dir,
                                                         monkeypatch):
    """``semsim run`` with no argument runs scenarios/default.yaml (the DiffSem mission) and
    ends with the summary table naming each Eve's worst-case attacker."""
    from semsim.simulator.scenario import load_scenario

    monkeypatch.chdir(tmp_path)  # not the repo: the source tree's default is found
    rc = _main(["run", "--out", str(tmp_path), "--run-id", "mission", "--no-progress",
                "--set", "run.duration_s=0.2", "--device", "cpu"])
    assert rc == 0
    out = capsys.readouterr().out
    df = read_traces(tmp_path / "mission")
    sc = load_scenario(Path(DEFAULT).parent / "default.yaml")
    assert sc.codec.name == "diffsem" and len(sc.eves) == 3
    motions = {(type(e.mobility).__name__, getattr(e.mobility, "speed_mps", None),
                getattr(e.mobility, "mode", None)) for e in sc.eves}
    assert len(motions) == 3  # a walker, a wanderer and a looping vehicle
    assert set(df.node) == {"bob", *(e.name for e in sc.eves)}
    for eve in sc.eves:
        line = next(ln for ln in out.splitlines()
                    if ln.startswith(eve.name) and "leakage (worst case)" in ln)
        assert line.split()[4] in sc.codec.options.attackers  # the attacker is named
    assert "accuracy" in out and "secrecy outage" in out


def test_the_mission_default_sits_where_mismatch_matters():
    """At Bob's nominal SNR (link budget, no fading or shadowing) Alice self-noises
    (0 < t' < t*) and t' moves with the report by several steps per dB: an error in
    Bob's fed-back estimate changes what everyone receives."""
    import tempfile

    import torch

    from semsim.models.diffusion.schedule import select_tprime
    from semsim.simulator.engine import run_scenario
    from semsim.simulator.scenario import load_scenario

    path = Path(DEFAULT).parent / "default.yaml"
    sc = load_scenario(path, ["run.duration_s=null", "run.num_packets=1", "codec.name=reference",
                              "codec.options=null", "source.kind=synthetic",
                              "source.options=null", "propagation.shadowing_std_db=0"])
    with tempfile.TemporaryDirectory() as tmp:
        run_scenario(sc, tmp, write_metadata=False)
        snr = float(read_traces(tmp).query("node == 'bob'").mean_snr_db.iloc[0])
    tstar = load_scenario(path).codec.options.tstar
    tp = {d: int(select_tprime(torch.tensor([tstar]), torch.tensor([snr + d]))[0])
          for d in (-3.0, 0.0, 3.0)}
    assert 0 < tp[0.0] < tstar and tp[3.0] - tp[-3.0] >= 10, (snr, tp)
