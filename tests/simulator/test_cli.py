"""The ``semsim`` entry point: bad input to the model commands is one line, exit 2."""

from __future__ import annotations

import pytest

from semsim.simulator.cli import main


def test_missing_checkpoint_is_one_line_exit_2(tmp_path, capsys):
    rc = main(["eval", "diffsem", "--dataset", "mnist", "--parts", "judges", "--n-test", "4",
               "--checkpoint-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("semsim: error: checkpoint manifest")
    assert "diffsem-mnist.json not found" in err and "Traceback" not in err


def test_report_without_folder_is_exit_2(tmp_path, capsys):
    rc = main(["eval", "diffsem", "--parts", "report", "--out", str(tmp_path / "none")])
    assert rc == 2 and "no evaluation folder" in capsys.readouterr().err


def test_out_of_range_training_config_is_exit_2(tmp_path, capsys):
    work = tmp_path / "work"
    rc = main(["train", "diffsem", "--preset", "tiny", "--pair-tstar-max", "700",
               "--work-dir", str(work)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("semsim: error: pair_tstar_max = 700: must be in 0..499")
    assert not work.exists()  # refused before anything was written


@pytest.mark.parametrize("family", ["stego", "stego-mia"])
@pytest.mark.parametrize("name", ["../escape", "/abs/x", "a" * 101])
def test_training_names_stay_in_the_checkpoint_folder(tmp_path, capsys, family, name):
    with pytest.raises(SystemExit) as exit_:
        main(["train", family, "--name", name, "--epochs", "1",
              "--checkpoint-dir", str(tmp_path / "ck")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "argument --name" in err and "Traceback" not in err
    assert not (tmp_path / "ck").exists() and not (tmp_path / "escape").exists()


def test_programming_errors_still_raise(monkeypatch):
    import semsim.models.diffsem.evaluation as ev

    def boom(args):
        raise ZeroDivisionError("a bug, not bad input")

    monkeypatch.setattr(ev, "run_eval", boom)
    with pytest.raises(ZeroDivisionError):
        main(["eval", "diffsem", "--parts", "report"])
