"""``semsim map``: grid geometry, one run with every Eve, the per-cell table and heatmaps,
named errors for bad grids."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from simhelpers import BASE, merge

from semsim.simulator.cli import main
from semsim.simulator.errors import ScenarioError
from semsim.simulator.leakage_map import grid_axis, grid_scenario
from semsim.simulator.scenario import parse_scenario

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def test_grid_geometry():
    np.testing.assert_allclose(grid_axis("-10:10:5", "--x"), [-10, -5, 0, 5, 10])
    np.testing.assert_allclose(grid_axis("3:3:1", "--y"), [3])
    sc = parse_scenario(merge(BASE, {"coalitions": [{"name": "c", "members": ["eve0"]}]}))
    g = grid_scenario(sc, np.array([0.0, 10.0, 20.0]), np.array([-5.0, 5.0]))
    assert [e.name for e in g.eves][:4] == ["cell_000_000", "cell_001_000", "cell_002_000",
                                            "cell_000_001"]
    assert [e.mobility.position_m for e in g.eves][2:4] == [(20.0, -5.0), (0.0, 5.0)]
    assert g.coalitions == () and g.bob == sc.bob
    assert all(e.channel == sc.eves[0].channel for e in g.eves)


@pytest.mark.parametrize("text", ["0:10:0", "0:10", "a:1:2", "0:10:2.5", "0:inf:3"])
def test_bad_grids_are_named_errors(text):
    with pytest.raises(ScenarioError) as err:
        grid_axis(text, "--x")
    assert err.value.path == "--x"


def test_bad_grid_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(merge(BASE, {"run": {"num_packets": 5}})))
    assert main(["map", str(path), "--x=0:10:0", "--y=0:1:2", "--out", str(tmp_path)]) == 2
    assert "--x" in capsys.readouterr().err


def test_diffsem_map_writes_cells_and_heatmaps(tmp_path, data_dir, capsys):
    args = ["map", str(GOLDEN / "diffsem.yaml"), "--x=0:60:3", "--y=-20:20:2",
            "--set", "run.num_packets=20", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    (run_dir,) = list(tmp_path.iterdir())
    cells = pd.read_parquet(run_dir / "map" / "cells.parquet")
    assert len(cells) == 6 and (cells.num_packets == 20).all()
    cells_xy = set(zip(cells.x_m, cells.y_m, strict=True))
    assert cells_xy == {(x, y) for x in (0, 30, 60) for y in (-20, 20)}
    assert ((cells.leakage_ci_low <= cells.leakage) & (cells.leakage <= cells.leakage_ci_high)
            ).all() and cells.leakage.between(0, 1).all()
    for name in ("leakage", "mean_snr_db", "secrecy_capacity_bps_hz", "secrecy_outage"):
        assert (run_dir / "map" / f"{name}.png").stat().st_size > 10_000
    # nearer Alice, higher SNR
    near = cells.loc[cells.x_m == 0, "mean_snr_db"].mean()
    far = cells.loc[cells.x_m == 60, "mean_snr_db"].mean()
    assert near > far
    capsys.readouterr()
    assert main(args) == 0  # the same command: resumes, nothing rerun
    assert "cells" in capsys.readouterr().out
