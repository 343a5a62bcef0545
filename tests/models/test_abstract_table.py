"""The abstraction table's numpy core: Eq. 24, effective SNR, cell/draw choice, file checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsim.models.abstract import (
    OutOfRangeError,
    cell_and_draw,
    effective_snr_db,
    load_table,
    save_table,
    select_tprime_np,
)
from semsim.models.diffusion import NoiseSchedule, esnr_db, select_tprime
from semsim.models.manifests import CheckpointError


def test_eq24_in_numpy_equals_torch():
    sch = NoiseSchedule(500)
    abar = sch.abar.numpy()
    snr = np.linspace(-20, 40, 241)
    for tstar in (0, 50, 180, 499):
        want = select_tprime(torch.full((snr.size,), tstar), torch.as_tensor(snr), sch)
        np.testing.assert_array_equal(select_tprime_np(abar, tstar, snr), want.numpy())


def test_matched_receiver_sits_at_esnr_of_tstar():
    sch = NoiseSchedule(500)
    abar = sch.abar.numpy()
    snr = np.array([3.0, 5.0, 10.0, 20.0])
    tp = select_tprime_np(abar, 180, snr)
    power = abar[180] + 1 - abar[tp]
    g = effective_snr_db(abar, 180, tp, power, snr)
    # Eq. 24 picks the largest t' whose total noise is <= the t* level: matched to ~0.2 dB
    e = float(esnr_db(180, sch))
    assert np.all(g >= e - 1e-9) and np.all(g < e + 0.3)
    assert np.all(effective_snr_db(abar, 180, tp, power, snr - 6) < g - 0.1)  # worse channel


def test_cells_interpolate_linearly_and_draws_are_uniform():
    grid = np.array([-10.0, 0.0, 10.0])
    rng = np.random.default_rng(0)
    x = np.full(100_000, 2.5)
    cell, draw = cell_and_draw(grid, x, rng.random((x.size, 2)), 4)
    assert set(np.unique(cell)) == {1, 2}
    assert (cell == 2).mean() == pytest.approx(0.25, abs=0.01)
    np.testing.assert_allclose(np.bincount(draw) / x.size, 0.25, atol=0.01)
    cell, _ = cell_and_draw(grid, np.array([-10.0, 10.0]), np.zeros((2, 2)), 4)
    np.testing.assert_array_equal(cell, [0, 2])  # both ends are inside


def test_outside_the_grid_is_an_error_not_an_extrapolation():
    with pytest.raises(OutOfRangeError) as info:
        cell_and_draw(np.array([-10.0, 10.0]), np.array([0.0, 10.5, -11.0, np.nan]),
                      np.zeros((4, 2)), 2)
    np.testing.assert_array_equal(info.value.args[1], [1, 2, 3])


def test_saved_table_loads_and_a_damaged_one_is_refused(tmp_path):
    arrays = {"grid_db": np.array([0.0, 1.0]), "labels": np.arange(3),
              "bob_pred": np.zeros((2, 3, 1), np.uint8)}
    save_table(tmp_path, "t", arrays, {"draws": 1, "seed": 5})
    table = load_table(tmp_path, "t")
    assert table.manifest["seed"] == 5 and table.num_images == 3 and table.num_draws == 1
    np.testing.assert_array_equal(table.arrays["labels"], np.arange(3))
    raw = bytearray((tmp_path / "t.npz").read_bytes())
    raw[-30] ^= 0xFF
    (tmp_path / "t.npz").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="sha256"):
        load_table(tmp_path, "t")
    with pytest.raises(CheckpointError, match="semsim calibrate"):
        load_table(tmp_path, "missing")
