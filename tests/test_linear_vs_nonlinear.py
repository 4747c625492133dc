"""helpers.experiments.linear_vs_nonlinear: the four maps are what their names say, stacked linear layers
collapse to one matrix, and XOR separates what an affine model can do from what two ReLU units do."""
import math

import matplotlib.pyplot as plt
import pytest
import torch

from helpers.experiments.linear_vs_nonlinear import (LINEAR_MAPS, XOR_INPUTS, XOR_TARGETS, best_affine_fit,
                                                  collapse, xor_relu_net)
from helpers.plots.linear_maps import plot_linear_maps

E1, E2 = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)


def by_kind(kind):
    return next(matrix for name, matrix in LINEAR_MAPS.items() if name.startswith(kind))


def test_each_map_has_its_defining_property():
    identity = torch.eye(2, dtype=torch.float64)
    reflection, rotation = by_kind("reflection"), by_kind("rotation")
    scaling, shear = by_kind("scaling"), by_kind("shear")
    assert torch.equal(reflection @ reflection, identity) and torch.linalg.det(reflection).item() == -1.0
    torch.testing.assert_close(rotation.T @ rotation, identity)  # lengths and angles kept
    assert math.isclose(torch.linalg.det(rotation).item(), 1.0)
    assert math.isclose(math.degrees(math.atan2(*(rotation @ E1).flip(0).tolist())), 30.0)
    assert torch.equal(scaling, torch.diag(torch.tensor([1.5, 0.5], dtype=torch.float64)))
    assert torch.equal(shear @ E1, E1) and torch.equal(shear @ E2, torch.tensor([0.8, 1.0], dtype=torch.float64))


def test_a_stack_of_linear_layers_is_one_matrix():
    generator = torch.Generator().manual_seed(0)
    weights = [torch.randn(a, b, dtype=torch.float64, generator=generator) for a, b in ((5, 3), (4, 5), (2, 4))]
    x = torch.randn(3, 7, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(weights[2] @ (weights[1] @ (weights[0] @ x)), collapse(weights) @ x)


def test_xor_needs_the_non_linearity():
    # by symmetry the best affine fit is the constant 1/2, with squared error 1/4 at every point
    coefficients, mse = best_affine_fit(XOR_INPUTS, XOR_TARGETS)
    assert math.isclose(mse, 0.25) and torch.allclose(coefficients, torch.tensor([0.0, 0.0, 0.5],
                                                                                  dtype=torch.float64), atol=1e-12)
    assert torch.equal(xor_relu_net(XOR_INPUTS), XOR_TARGETS)


def test_the_picture_has_one_panel_per_map_and_one_for_relu():
    fig = plot_linear_maps(LINEAR_MAPS)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:4] == list(LINEAR_MAPS) and titles[4].startswith("ReLU")
    plt.close(fig)


def test_mismatched_layers_and_targets_get_a_clear_error():
    with pytest.raises(ValueError, match=r"weights\[1\]: expected shape \(any, 5\)"):
        collapse([torch.ones(5, 3, dtype=torch.float64), torch.ones(2, 4, dtype=torch.float64)])
    with pytest.raises(ValueError, match=r"y: expected shape \(4\)"):
        best_affine_fit(XOR_INPUTS, XOR_TARGETS[:3])


def test_the_student_edition_names_the_maps_neutrally(monkeypatch):
    import importlib

    import helpers.experiments.linear_vs_nonlinear as module
    from helpers.runtime import edition
    from tools.editions import strip_solutions
    instructor = dict(LINEAR_MAPS)
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)
    try:
        student = importlib.reload(module).LINEAR_MAPS
    finally:
        monkeypatch.undo()
        importlib.reload(module)
    assert list(student) == ["map A", "map B", "map C", "map D"]
    assert all(torch.equal(a, b) for a, b in zip(student.values(), instructor.values()))
    source = strip_solutions(open(module.__file__, encoding="utf-8").read())
    assert "student edition:" not in source  # the one mechanism: a branch on edition.SHOWS_ANSWERS
    assert all(kind not in " ".join(student).lower() for kind in ("reflection", "rotation", "scaling", "shear"))
