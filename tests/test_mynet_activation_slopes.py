"""helpers.experiments.delta_norms.activation_slopes: the mean slopes behind NYU 1.3 (c), against bounds and
values computed another way (numpy's trapezoid rule on the normal density)."""
import math

import numpy as np
import pytest

from helpers.experiments.delta_norms import activation_slopes


def reference_mean(slope, scale):
    z = np.linspace(-12 * scale, 12 * scale, 200_001)
    density = np.exp(-z ** 2 / (2 * scale ** 2)) / (scale * math.sqrt(2 * math.pi))
    return np.trapezoid(slope(z) * density, z)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_means_match_an_independent_quadrature(scale):
    row = activation_slopes((scale,))[scale]
    assert math.isclose(row["sigmoid"], reference_mean(lambda z: sigmoid(z) * (1 - sigmoid(z)), scale), rel_tol=1e-6)
    assert math.isclose(row["tanh"], reference_mean(lambda z: 1 - np.tanh(z) ** 2, scale), rel_tol=1e-6)
    assert math.isclose(row["relu"], 0.5, rel_tol=1e-9)  # slope 1 on the active half, 0 on the other


def test_sigmoid_never_exceeds_a_quarter_and_tanh_saturates_as_inputs_spread():
    table = activation_slopes((0.01, 1.0, 4.0, 16.0))
    assert all(row["sigmoid"] <= 0.25 for row in table.values())
    assert table[0.01]["tanh"] > 0.999 and table[0.01]["tanh saturated"] == 0.0
    tanh_means = [row["tanh"] for row in table.values()]
    saturated = [row["tanh saturated"] for row in table.values()]
    assert tanh_means == sorted(tanh_means, reverse=True) and saturated == sorted(saturated)
    assert table[16.0]["tanh saturated"] > 0.9
