"""One time convention everywhere: noise at t = 0, data at t = 1."""

import numpy as np
import pytest

from collapse_theory.theory import conventions


def test_interpolation_endpoints():
    noise, data = np.array([1.0, -2.0]), np.array([5.0, 7.0])
    assert np.array_equal(conventions.interpolate(noise, data, conventions.NOISE_TIME), noise)
    assert np.array_equal(conventions.interpolate(noise, data, conventions.DATA_TIME), data)
    assert np.allclose(conventions.interpolate(noise, data, 0.25), 0.25 * data + 0.75 * noise)


def test_dae_noise_level_vanishes_at_the_data_end():
    sigma = conventions.dae_noise_std(np.array([0.0, 0.5, 1.0]))
    assert sigma[0] == np.inf and sigma[1] == pytest.approx(1.0) and sigma[2] == 0.0
    t = np.linspace(0.05, 1, 20)
    assert np.all(np.diff(conventions.dae_noise_std(t)) < 0)  # less noise as t moves toward the data


def test_time_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match=r"^t must lie in \[0, 1\]"):
        conventions.interpolate(0.0, 1.0, 1.5)
