"""helpers.plots.maps: the map grid and its mask, values back on the grid, curves of diverged runs."""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers.layers import MLP
from helpers.experiments.rainfall_fit import History, Standardizer, prediction_map
from helpers.data.rainfall import in_michigan, rainfall_field
from helpers.plots.maps import grid_points, map_grid, on_grid, plot_curves, plot_map


def test_grid_covers_both_peninsulas_and_masks_the_lakes():
    lon, lat, inside = map_grid(resolution=80)
    assert lon.shape == lat.shape == inside.shape and lon.shape[1] == 80
    assert 0.2 < inside.mean() < 0.6
    assert inside[lat > 46].any() and inside[lat < 43].any()  # Upper and Lower Peninsula
    points = grid_points(lon, lat, inside)
    assert points.shape == (int(inside.sum()), 2) and bool(in_michigan(points[:, 0], points[:, 1]).all())


def test_on_grid_puts_values_back_and_blanks_the_water():
    lon, lat, inside = map_grid(resolution=40)
    image = on_grid(rainfall_field(lon[inside], lat[inside]), inside)
    assert np.isnan(image[~inside]).all() and np.isfinite(image[inside]).all()
    np.testing.assert_array_equal(image[inside], rainfall_field(lon[inside], lat[inside]))


def test_prediction_map_matches_predicting_point_by_point():
    lon, lat, inside = map_grid(resolution=30)
    points = grid_points(lon, lat, inside)
    standardize = Standardizer.fit(points)
    model = MLP(2, 1, 8, 0.1, dtype=torch.float64)
    image = prediction_map(model, standardize, lon, lat, inside)
    model.eval()
    expected = model.forward(standardize(points)).reshape(-1).numpy()
    np.testing.assert_allclose(image[inside], expected, rtol=1e-12, atol=1e-12)


def test_curves_leave_out_non_finite_values_and_label_divergence():
    fine = History(lr=0.01, train_mse=[4.0, 3.0, 2.5], val_mse=[4.1, 3.2, 2.6])
    diverged = History(lr=1.0, train_mse=[4.0, math.inf], val_mse=[4.1, math.nan], diverged=True)
    fig, ax = plt.subplots()
    plot_curves(ax, [fine, diverged], noise_floor=2.25)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"lr=1, validation", "lr=1: diverged at epoch 1", "noise floor"} <= set(lines)
    for line in ax.get_lines():
        assert np.isfinite(np.asarray(line.get_ydata(), dtype=float)).all()
    assert list(lines["lr=1: diverged at epoch 1"].get_xdata()) == [1, 1]  # a vertical line at the epoch
    # the diverged run kept one finite point (epoch 0): drawn as a marker, on an axis from epoch 0 to 2
    assert lines["lr=1, validation"].get_marker() == "o" and lines["lr=0.01, validation"].get_marker() in ("None", None, "")
    assert ax.get_xlim() == (0, 2) and ax.get_yscale() == "log"


def test_a_run_that_diverged_at_once_still_gets_an_axis_from_epoch_0_to_1():
    diverged = History(lr=1.0, train_mse=[4.0, math.inf], val_mse=[4.1, math.nan], diverged=True)
    fig, ax = plt.subplots()
    plot_curves(ax, [diverged])
    assert ax.get_xlim() == (0, 1)
    plt.close(fig)


def test_plot_map_keeps_true_proportions():
    lon, lat, inside = map_grid(resolution=20)
    fig, ax = plt.subplots()
    plot_map(ax, lon, lat, on_grid(np.zeros(int(inside.sum())), inside), "zeros", vmin=-1, vmax=1)
    assert ax.get_aspect() == 1 / np.cos(np.radians(44.5)) and ax.get_title() == "zeros"
    plt.close(fig)
