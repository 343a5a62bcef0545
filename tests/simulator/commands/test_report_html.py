"""``semsim report``: a self-contained report.html with every figure embedded, checked in a
real headless Chromium when one is installed (Debian's ``chromium``)."""

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from simhelpers import BASE, merge

from semsim.simulator.cli import main

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
FIGURES = ("Trajectories", "SNR over time", "Accuracy and leakage over time",
           "Leakage against Eve SNR", "Leakage against distance",
           "Leakage against secrecy capacity")


def _report(tmp_path, scenario, *extra):
    assert main(["run", str(scenario), "--out", str(tmp_path), "--run-id", "r",
                 "--no-progress", *extra]) == 0
    assert main(["report", str(tmp_path / "r")]) == 0
    return (tmp_path / "r" / "report" / "report.html")


def test_diffsem_report_embeds_every_figure(tmp_path, data_dir, capsys):
    page = _report(tmp_path, GOLDEN / "diffsem.yaml", "--set", "run.num_packets=30")
    out = capsys.readouterr().out
    from semsim.models.diffsem.config import ATTACKERS

    named = re.findall(r"^\w+\s+leakage \(worst case\)\s+(\w+)", out, re.M)
    assert len(named) == 2 and set(named) <= set(ATTACKERS)  # the summary names them
    text = page.read_text()
    imgs = re.findall(r"<h2>([^<]+)</h2><img alt='[^']*' src='data:image/png;base64,([^']+)'",
                      text)
    assert [t for t, _ in imgs] == list(FIGURES)
    assert all(len(b) > 2000 for _, b in imgs) and "http" not in text  # self-contained
    assert "accuracy" in text and "wilson" in text and "block bootstrap" in text
    if shutil.which("chromium"):
        shot = tmp_path / "shot.png"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'u'}",
                        "--window-size=1000,2400", f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, timeout=120, check=True)
        assert shot.stat().st_size > 50_000  # a rendered page with figures, not a blank one


def test_reference_report_has_no_leakage_figures(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(merge(BASE, {"run": {"num_packets": 40}})))
    text = _report(tmp_path, path).read_text()
    assert "no leakage column" in text and text.count("<img") == 2
