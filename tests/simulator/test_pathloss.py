import math

import numpy as np
import pytest

from semsim.simulator.errors import ScenarioError
from semsim.simulator.pathloss import (
    PropagationConfig,
    free_space_path_loss_db,
    log_distance_path_loss_db,
    shadowing_correlation,
)


def test_free_space_matches_friis():
    d, f = 100.0, 2.4e9
    wavelength = 299_792_458.0 / f
    friis = -20 * math.log10(wavelength / (4 * math.pi * d))
    assert abs(free_space_path_loss_db(d, f) - friis) < 1e-9
    # +20 dB per decade
    assert abs(free_space_path_loss_db(1000.0, f) - free_space_path_loss_db(100.0, f) - 20) < 1e-9


def test_log_distance_slope_and_clamp():
    pl = log_distance_path_loss_db(np.array([0.1, 1.0, 10.0, 100.0]), 3.5, 1.0, 40.0)
    np.testing.assert_allclose(pl, [40.0, 40.0, 75.0, 110.0])


def test_propagation_config_reference_loss():
    free = PropagationConfig(model="free_space")
    assert free.path_loss_db(250.0, 5e9) == pytest.approx(free_space_path_loss_db(250.0, 5e9))
    custom = PropagationConfig(exponent=3.0, ref_loss_db=30.0, ref_distance_m=10.0)
    assert custom.path_loss_db(100.0, 2.4e9) == pytest.approx(60.0)
    with pytest.raises(ScenarioError, match="exponent"):
        PropagationConfig(model="free_space", exponent=3.0)


def test_shadowing_correlation():
    np.testing.assert_allclose(shadowing_correlation([0.0, 10.0], 10.0), [1.0, math.exp(-1)])
    assert shadowing_correlation(5.0, 0.0) == 1.0
