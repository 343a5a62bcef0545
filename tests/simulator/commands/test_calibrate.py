"""``semsim calibrate``: a tiny table from the CLI; bad input is one line and exit 2."""

import json
from pathlib import Path

import pytest

from semsim.simulator import cli

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def test_tiny_calibration_writes_table_and_manifest(tmp_path, capsys, data_dir):
    rc = cli.main(["calibrate", "diffsem", "--scenario", str(SCENARIOS / "default.yaml"),
                   "--images", "2", "--draws", "1", "--grid-db=-45,max", "--seed", "9",
                   "--out", str(tmp_path), "--data-dir", str(data_dir)])
    assert rc == 0
    out, err = capsys.readouterr()
    path = Path(out.strip())
    assert path == tmp_path / "diffsem-mnist-t180-ediffsem.json"  # t* from the scenario
    man = json.loads(path.read_text())
    assert man["seed"] == 9 and man["images"]["first"] == 2 and len(man["grid_db"]) == 2
    assert "grid point 2/2" in err  # progress lines


@pytest.mark.parametrize("argv, words", [
    (["--grid-db", "1:0:1"], "bad item"),
    (["--grid-db", "5"], "at least two"),
    (["--grid-db", "0,40"], "largest effective SNR"),
    (["--images", "0"], ">= 1"),
    (["--tstar", "999"], "--tstar"),
    (["--scenario", str(SCENARIOS / "reference.yaml")], "codec.name"),
])
def test_bad_input_is_exit_2_without_traceback(tmp_path, capsys, argv, words, data_dir):
    rc = cli.main(["calibrate", "diffsem", "--out", str(tmp_path), "--images", "2",
                   "--draws", "1", "--data-dir", str(data_dir), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert "semsim: error:" in err and words in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.npz"))


@pytest.mark.parametrize("argv, words", [
    (["--hosts", "0"], ">= 1"),
    (["--scenario", str(SCENARIOS / "default.yaml")], "codec.name"),
    (["--grid-db", "0:x:1"], "bad item"),
])
def test_stego_bad_input_is_exit_2(tmp_path, capsys, argv, words, data_dir):
    rc = cli.main(["calibrate", "stego", "--out", str(tmp_path), "--images", "2",
                   "--data-dir", str(data_dir), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert "semsim: error:" in err and words in err and "Traceback" not in err


def test_tiny_stego_calibration_from_the_cli(tmp_path, capsys, data_dir):
    rc = cli.main(["calibrate", "stego", "--scenario", str(SCENARIOS / "stego_walk_past.yaml"),
                   "--images", "2", "--hosts", "1", "--draws", "1", "--grid-db=0,20",
                   "--out", str(tmp_path), "--data-dir", str(data_dir)])
    assert rc == 0
    man = json.loads(Path(capsys.readouterr().out.strip()).read_text())
    assert man["setting"] == "mnist-in-fashion" and man["grid_db"] == [0.0, 20.0]
