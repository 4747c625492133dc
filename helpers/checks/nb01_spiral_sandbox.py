"""Sandbox side of notebook 01's checks (:mod:`helpers.checks.nb01_spiral`): runs in the sandbox,
calls the student's ``helpers/spiral.py`` and returns data only."""
from __future__ import annotations

from helpers.checks.sandbox_worker import resolve, stand_in, student_running


def gradient_descent_on_reference_gradient(x0, lr: float, n_steps: int):
    """Exercise 1.2 alone: the student's ``gradient_descent`` with autograd's gradient in place of their
    ``spiral_grad`` (so a mistake of exercise 1.1 never fails 1.2)."""
    from helpers import spiral
    from helpers.checks.nb01_spiral import spiral_grad_reference
    spiral.spiral_grad = stand_in(spiral_grad_reference)
    with student_running():
        return spiral.gradient_descent(x0, lr, n_steps)


def sweep_on_reference_descent(seeds, learning_rates, n_steps: int):
    """Exercise 1.3 alone: the student's ``sweep`` (``helpers/experiments/spiral_sweep.py``) with the reference
    gradient descent and gradient in place of theirs (so a mistake of 1.1 or 1.2 never fails 1.3). Returns the
    student's [(seed, lr, result)] as data."""
    from helpers import spiral
    from helpers.checks.nb01_spiral import gradient_descent_reference, spiral_grad_reference
    spiral.spiral_grad = stand_in(spiral_grad_reference)
    spiral.gradient_descent = stand_in(gradient_descent_reference)  # before spiral_sweep imports it
    sweep = resolve("helpers.experiments.spiral_sweep:sweep", [])
    with student_running():
        return sweep(seeds, learning_rates, n_steps)


def _arrows(ax):
    """Every arrow drawn on ``ax`` as rows (tail x1, tail x2, direction x1, direction x2), a float64 (k, 4) tensor:
    annotations with an arrow (tail at the text point), ``ax.arrow``, ``FancyArrowPatch`` and ``quiver``."""
    import numpy
    import torch
    from matplotlib.patches import FancyArrow, FancyArrowPatch
    from matplotlib.quiver import Quiver
    rows = []
    for text in ax.texts:
        if getattr(text, "arrow_patch", None) is not None and text.xyann is not None:
            (tail_x, tail_y), (head_x, head_y) = text.xyann, text.xy
            rows.append((tail_x, tail_y, head_x - tail_x, head_y - tail_y))
    for patch in ax.patches:
        if isinstance(patch, FancyArrow):
            rows.append((patch._x, patch._y, patch._dx, patch._dy))
        elif isinstance(patch, FancyArrowPatch) and patch._posA_posB is not None:
            (tail_x, tail_y), (head_x, head_y) = patch._posA_posB
            rows.append((tail_x, tail_y, head_x - tail_x, head_y - tail_y))
    for collection in ax.collections:
        if isinstance(collection, Quiver):
            tails = numpy.asarray(collection.get_offsets(), dtype=float).reshape(-1, 2)
            u, v = (numpy.broadcast_to(numpy.ravel(component), (len(tails),)) for component in (collection.U, collection.V))
            rows += list(zip(tails[:, 0], tails[:, 1], u, v))
    return torch.tensor([[float(value) for value in row] for row in rows], dtype=torch.float64).reshape(-1, 4)


def _contours(ax) -> dict:
    """How many filled and line contour sets ``ax`` holds, and the filled ones' extent (x1 min, x2 min, x1 max,
    x2 max) as a (4,) tensor."""
    import numpy
    import torch
    from matplotlib.contour import ContourSet
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    filled = [c for c in sets if c.filled]
    vertices = [path.vertices for c in filled for path in c.get_paths() if len(path.vertices)]
    points = numpy.concatenate(vertices) if vertices else numpy.zeros((1, 2))
    extent = torch.tensor([*points.min(axis=0), *points.max(axis=0)], dtype=torch.float64)
    return {"filled_contours": len(filled), "line_contours": len(sets) - len(filled), "contour_extent": extent}


def drawn_trajectory_plot(x0, lr: float, n_steps: int) -> dict:
    """Exercise 1.4: the student's ``plot_landscape`` and ``plot_trajectory`` draw the landscape and one run (the
    reference gradient descent from ``x0`` (2,)) on a fresh figure; returns what the axes then hold, as data:
    the run's trajectory (T+1, 2), the arrows (k, 4) and the contour sets (:func:`_contours`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import spiral
    from helpers.checks.nb01_spiral import gradient_descent_reference, spiral_grad_reference
    spiral.spiral_grad = stand_in(spiral_grad_reference)
    result = gradient_descent_reference(x0, lr, n_steps)
    grid = resolve("helpers.experiments.spiral_sweep:landscape", [])(81)
    plot_landscape = resolve("helpers.experiments.spiral_sweep:plot_landscape", [])
    plot_trajectory = resolve("helpers.experiments.spiral_sweep:plot_trajectory", [])
    figure, ax = plt.subplots()
    try:
        with student_running():
            plot_landscape(ax, grid)
            plot_trajectory(ax, result)
        return {"trajectory": result.trajectory, "arrows": _arrows(ax), **_contours(ax)}
    finally:
        plt.close(figure)
