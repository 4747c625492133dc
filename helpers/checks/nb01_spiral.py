"""Notebook 01 (the spiral): the checks of exercises 1.1 (the spiral's gradient) and 1.2 (the gradient-descent
step), their references and their registry entries.

1.1 runs ``spiral_grad`` against autograd (a differently written spiral, ``atan2``) at random points and
against central differences on the line x1 = 0 and at the origin. Its diagnoses come from what autograd
gives for a *wrong* chain: the same spiral with one derivative scaled, dropped or replaced (the forward
value unchanged), so no formula of the answer is written here. 1.2 runs ``gradient_descent`` (with the
reference gradient in place of the student's ``spiral_grad``, :mod:`.nb01_spiral_sandbox`) against
torch's SGD step. The student's code runs in the sandbox (``code``, a
:class:`helpers.checks.sandbox.StudentCode`); everything compared is computed here.

1.3 (the runs over λ and seeds) and 1.4 (the contour and arrow plot) are CSE 849 q1's experiment, written in
``helpers/experiments/spiral_sweep.py``: 1.3 runs the student's ``sweep`` with the reference gradient descent
in place of theirs and compares every run with the reference's for its (seed, λ); 1.4 has the student's plot
functions draw one run on a figure in the sandbox, which returns what was drawn (filled contours, arrows) as
data, and checks the contours cover the start box and every arrow starts at an iterate and points downhill.

The references double as the student edition's stand-ins while an exercise is not done
(:attr:`helpers.checks.toolkit.Exercise.stand_ins`).
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from helpers import spiral
from helpers.checks.toolkit import (CheckOutcome, Exercise, as_float64, exact_outcome, outcome, randn, replaced,
                                   seeded, torch_sgd_step)
from helpers.gradcheck import FINITE_DIFFERENCE_TOLERANCE, numerical_gradient

SPIRAL = "01_spiral_gradient_descent"
AXIS_POINTS = ((0.0, 1.5), (0.0, -3.0), (0.0, 4.2), (0.0, 0.0), (2.0, 0.0))


# -- references (the stand-ins while 1.1 and 1.2 are not done, and the checks' references) -------------------


def spiral_grad_reference(x) -> torch.Tensor:
    """dy/dx by torch autograd of the spiral written with ``atan2`` and a guarded square root.
    x: (..., 2)  ->  (..., 2).

    ``atan2`` has the true derivative on the line x1 = 0 (the branch ``spiral`` takes there has none), and
    the guard keeps the origin's derivative finite (0) where autograd of ``sqrt`` would give NaN.
    """
    x = spiral._as_points(x).detach().clone().requires_grad_(True)
    squared_radius = (x * x).sum(-1)
    safe_radius = torch.sqrt(torch.where(squared_radius > 0, squared_radius, torch.ones_like(squared_radius)))
    radius = torch.where(squared_radius > 0, safe_radius, torch.zeros_like(squared_radius))
    angle = torch.atan2(x[..., 1], x[..., 0])
    y = squared_radius * (torch.sin(6 * angle + 2 * radius) ** 2 + 1)
    (gradient,) = torch.autograd.grad(y.sum(), x)
    return gradient


def gradient_descent_reference(x0, lr: float, n_steps: int, max_radius: float = 1e3) -> spiral.DescentResult:
    """:func:`helpers.spiral.gradient_descent` with each step taken by torch's SGD (``torch.optim.sgd.sgd``, the
    function ``torch.optim.SGD.step`` runs, without an optimiser object). Same arguments and result."""
    x0 = spiral._check_descent(x0, lr, n_steps, max_radius)

    def sgd_step(x):
        gradient, parameter = spiral.spiral_grad(x), x.clone()
        torch_sgd_step([parameter], [gradient], [None], lr=lr)
        return gradient, parameter
    return spiral._descend(x0, n_steps, max_radius, sgd_step)


# -- 1.1 the spiral's gradient ------------------------------------------------------------------------------


def _scaled_gradient(value: torch.Tensor, scale) -> torch.Tensor:
    """``value`` unchanged, its gradient multiplied by ``scale`` (a number or a tensor) on the way back."""
    return value.detach() + scale * (value - value.detach())


def _wrong_chain(points: torch.Tensor, angle=1.0, radius_in_phase=1.0, outer_radius=1.0, ridge=1.0,
                 radius_slope=None, sine_slope_only=False) -> torch.Tensor:
    """Autograd's gradient of the spiral (points (N, 2)) with one chain-rule factor made wrong on purpose."""
    x = points.detach().clone().requires_grad_(True)
    squared = (x * x).sum(-1)
    radius = torch.sqrt(squared)
    if radius_slope is not None:  # the derivative of r replaced: multiplied by r
        radius = _scaled_gradient(radius, radius.detach())
    theta = torch.atan2(x[:, 1], x[:, 0])
    phase = 6 * _scaled_gradient(theta, angle) + 2 * _scaled_gradient(radius, radius_in_phase)
    sine_squared = torch.sin(phase) ** 2
    if sine_slope_only:  # sin^2 differentiated without the local derivative of sin
        sine_squared = sine_squared.detach() + 2 * torch.sin(phase).detach() * (phase - phase.detach())
    outer = radius * radius if radius_slope == "everywhere" else squared
    y = _scaled_gradient(outer, outer_radius) * (_scaled_gradient(sine_squared, ridge) + 1)
    (gradient,) = torch.autograd.grad(y.sum(), x)
    return gradient


def _autograd_of_the_code(points: torch.Tensor) -> torch.Tensor:
    """What autograd of ``spiral`` itself gives (its branch for θ on x1 = 0 has derivative 0)."""
    x = points.detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(spiral.spiral(x).sum(), x)
    return gradient


# diagnosis -> what that mistake makes of the reference at ``points`` (N, 2): mistake(points)(reference)
GRADIENT_MISTAKES = {
    "sign error in the angle term (∇θ with the wrong sign)": dict(angle=-1.0),
    "the factor 6 of 6θ is missing from the chain rule": dict(angle=1 / 6),
    "the factor 2 of 2r inside the sine is missing from the chain rule": dict(radius_in_phase=0.5),
    "the r-term inside the sine was forgotten (u differentiated as 6θ only)": dict(radius_in_phase=0.0),
    "forgot the local derivative of sin² (the chain rule stops at the square)": dict(sine_slope_only=True),
    "product rule incomplete: the derivative of the r² factor is missing": dict(outer_radius=0.0),
    "product rule incomplete: the derivative of the sin² factor is missing": dict(ridge=0.0),
    "the derivative of r is wrong (inside the sine)": dict(radius_slope="inside"),
    "the derivative of r is wrong (in both places)": dict(radius_slope="everywhere"),
    "sign error: the whole gradient is negated": lambda reference: -reference,
    "the two components are swapped": lambda reference: reference.flip(-1),
}
AXIS_MISTAKE = ("on the line x1 = 0 the angle term is missing: differentiate θ by its formula, which is finite "
                "there, not through the code's branch for θ")
NOT_FINITE = "inf or nan on the line x1 = 0 or at the origin: simplify by hand until no division by x1 or r is left"
LAYOUT = "return one (dy/dx1, dy/dx2) pair per point, stacked on the last axis, in the dtype of x"


def _gradient_mistakes(points: torch.Tensor) -> dict:
    """:data:`GRADIENT_MISTAKES` at ``points`` (N, 2): {diagnosis: reference -> what that mistake gives}."""
    return {text: mistake if callable(mistake) else (lambda options: lambda _: _wrong_chain(points, **options))(mistake)
            for text, mistake in GRADIENT_MISTAKES.items()}


def check_spiral_gradient(code) -> list[CheckOutcome]:
    """Exercise 1.1: shapes and dtype, autograd at random points, central differences on x1 = 0 and at 0."""
    student = code.function("helpers.spiral:spiral_grad")
    points = (torch.rand(500, 2, dtype=torch.float64, generator=seeded(11)) * 2 - 1) * spiral.START_BOX
    batch = points[:24].reshape(2, 3, 4, 2)
    shaped = student(batch)
    single = student(points[0].float())
    same_layout = (isinstance(shaped, torch.Tensor) and shaped.shape == batch.shape and shaped.dtype == batch.dtype
                   and isinstance(single, torch.Tensor) and single.shape == (2,) and single.dtype == torch.float32)
    outcomes = [CheckOutcome("(..., 2) in, the same shape and dtype out (float32 and float64)", same_layout,
                             "" if same_layout else LAYOUT)]
    outcomes.append(outcome("against autograd at 500 random points of [-5, 5]² (float64)", student(points),
                            spiral_grad_reference(points), _gradient_mistakes(points), "your gradient"))
    axis = torch.tensor(AXIS_POINTS, dtype=torch.float64)
    perturbed = axis.clone()
    numerical = numerical_gradient(lambda: spiral.spiral(perturbed).sum(), perturbed)
    on_axis = student(axis)
    mistakes = {AXIS_MISTAKE: lambda reference: _autograd_of_the_code(axis), **_gradient_mistakes(axis)}
    outcomes.append(outcome("against central differences on the line x1 = 0, at (2, 0) and at the origin",
                            on_axis, numerical, mistakes, "your gradient", FINITE_DIFFERENCE_TOLERANCE,
                            f_value=spiral.spiral(axis).sum().item()))
    if isinstance(on_axis, torch.Tensor) and not torch.isfinite(on_axis).all():
        outcomes[-1] = CheckOutcome(outcomes[-1].name, False, NOT_FINITE)
    return outcomes


# -- 1.2 the gradient-descent step --------------------------------------------------------------------------


def _replayed(x0: torch.Tensor, lr: float, n_steps: int, update) -> torch.Tensor:
    """Iterates (n_steps + 1, 2) of ``x <- update(x, lr, gradient)``: how a mistaken step would have moved."""
    points = [x0]
    for _ in range(n_steps):
        points.append(update(points[-1], lr, spiral_grad_reference(points[-1])))
    return torch.stack(points)


WRONG_DIRECTION = "step in the wrong direction: x + λ·dy/dx climbs the spiral"
NO_LR = "the learning rate is missing: x - dy/dx"
NEVER_MOVES = "x never moves: the new iterate is not the stepped one"
GRADIENT_AFTER_STEP = "saved the gradient at the new iterate x_t (after the step)"
NO_DIVERGENCE = ("with λ = 1 your steps do not leave the ball |x| ≤ 1000 when torch.optim.SGD's do: check the step "
                 "size and direction")
DESCENT_MISTAKES = (WRONG_DIRECTION, NO_LR, NEVER_MOVES, GRADIENT_AFTER_STEP, NO_DIVERGENCE)


def check_gradient_descent(code) -> list[CheckOutcome]:
    """Exercise 1.2 (with the reference gradient in place of the student's ``spiral_grad``)."""
    x0, lr, n_steps = randn(seeded(12), 2) * 2, 1e-3, 30
    run = code.function("helpers.checks.nb01_spiral_sandbox:gradient_descent_on_reference_gradient")
    student, large = run(x0, lr, n_steps), run(x0, 1.0, 20)
    with replaced(spiral, spiral_grad=spiral_grad_reference):  # the same gradients as the sandbox's
        reference = gradient_descent_reference(x0, lr, n_steps)
        reference_large = gradient_descent_reference(x0, 1.0, 20)
    first = reference.trajectory[0]
    mistakes = {WRONG_DIRECTION: lambda r: _replayed(first, lr, n_steps, lambda x, a, g: x + a * g),
                NO_LR: lambda r: _replayed(first, lr, n_steps, lambda x, a, g: x - g),
                NEVER_MOVES: lambda r: first.expand_as(r)}
    outcomes = [exact_outcome(f"iterates bit for bit as torch.optim.SGD (λ = {lr:g}, {n_steps} steps)",
                              student.trajectory, reference.trajectory, mistakes, "your trajectory")]
    outcomes.append(outcome("the saved gradients are dy/dx at x_0 .. x_(T-1)", student.gradients,
                            reference.gradients,
                            {GRADIENT_AFTER_STEP: lambda r: spiral_grad_reference(student.trajectory[1:])},
                            "the gradients"))
    stopped = (large.diverged and torch.isfinite(large.trajectory).all().item()
               and large.trajectory.shape == reference_large.trajectory.shape)
    outcomes.append(CheckOutcome("λ = 1 diverges: the run stops with diverged = True and finite iterates", stopped,
                                 "" if stopped else NO_DIVERGENCE))
    return outcomes


# -- 1.3 the runs over λ and seeds ----------------------------------------------------------------------------


def sweep_reference(seeds, learning_rates, n_steps: int) -> list[tuple[int, float, spiral.DescentResult]]:
    """``helpers.experiments.spiral_sweep.sweep`` written another way: every (seed, λ) of the product, each run
    :func:`helpers.spiral.gradient_descent` from ``random_start(seed)``. Returns [(seed, lr, result)]."""
    return [(seed, lr, spiral.gradient_descent(spiral.random_start(seed), lr, n_steps))
            for seed, lr in itertools.product(seeds, learning_rates)]


SWEEP_SEEDS, SWEEP_RATES, SWEEP_STEPS = (3, 7), (1e-3, 1e-1, 1.0), 40  # not the notebook's: the arguments count
NOT_TRIPLES = "return a list of (seed, λ, result) triples, one per run"
SEED_AND_LR_SWAPPED = "the seed and λ are swapped: each run is (seed, λ, result), seeds outer"
WRONG_GRID = ("the runs are not one per (seed, λ) asked for: loop over the seeds and step sizes passed in (not the "
              "notebook's constants), seeds outer")
NEW_START_PER_RUN = ("the start changes from step size to step size: draw x0 once per seed with random_start(seed), "
                     "so every λ of a seed starts at the same point")
SAME_START_EVERY_SEED = "every seed starts at the same point: x0 must come from random_start(seed)"
WRONG_START = "a run does not start at random_start(seed)"
WRONG_STEP_SIZE = "a run's trajectory is that of another step size: give each run its own λ"
WRONG_LENGTH = "a run does not take n_steps steps (or stop where gradient descent flags divergence)"
NOT_DESCENDING = "the smallest step size's loss does not fall at every step: are these gradient-descent runs?"
SWEEP_MISTAKES = (NOT_TRIPLES, SEED_AND_LR_SWAPPED, WRONG_GRID, NEW_START_PER_RUN, SAME_START_EVERY_SEED, WRONG_START,
                  WRONG_STEP_SIZE, WRONG_LENGTH, NOT_DESCENDING)


def _grid_outcome(runs) -> CheckOutcome:
    """Check 1 of 1.3: one (seed, λ, result) triple per pair of the grid, in order."""
    name = f"one run per (seed, λ): seeds {SWEEP_SEEDS}, λ {SWEEP_RATES}, as (seed, λ, result), seeds outer"
    if not isinstance(runs, (list, tuple)) or not all(isinstance(r, (list, tuple)) and len(r) == 3 for r in runs):
        return CheckOutcome(name, False, NOT_TRIPLES)
    pairs, wanted = [(r[0], r[1]) for r in runs], list(itertools.product(SWEEP_SEEDS, SWEEP_RATES))
    if pairs == wanted:
        return CheckOutcome(name, True)
    swapped = {(second, first) for first, second in pairs} == set(wanted)
    return CheckOutcome(name, False, SEED_AND_LR_SWAPPED if swapped else WRONG_GRID)


def _start_outcome(runs) -> CheckOutcome:
    """Check 2 of 1.3: each run starts at random_start(seed), the same start for every λ of a seed."""
    name = "every run starts at random_start(seed): one start per seed, the same for every λ"
    starts = [as_float64(result.trajectory[0]) for _, _, result in runs]
    if all(torch.equal(start, spiral.random_start(seed)) for start, (seed, _, _) in zip(starts, runs)):
        return CheckOutcome(name, True)
    by_seed = {}
    for start, (seed, _, _) in zip(starts, runs):
        by_seed.setdefault(seed, []).append(start)
    if any(not all(torch.equal(s, group[0]) for s in group) for group in by_seed.values()):
        return CheckOutcome(name, False, NEW_START_PER_RUN)
    if len(by_seed) > 1 and all(torch.equal(group[0], starts[0]) for group in by_seed.values()):
        return CheckOutcome(name, False, SAME_START_EVERY_SEED)
    return CheckOutcome(name, False, WRONG_START)


def _trajectory_outcome(runs) -> CheckOutcome:
    """Check 3 of 1.3: each run's trajectory is the reference gradient descent's for its (seed, λ)."""
    name = f"each run is gradient descent's for its (seed, λ), {SWEEP_STEPS} steps (λ = 1 stopped as diverged)"
    with replaced(spiral, spiral_grad=spiral_grad_reference):  # the sandbox ran the same reference descent
        expected = {(seed, lr): gradient_descent_reference(spiral.random_start(seed), lr, SWEEP_STEPS)
                    for seed, lr in itertools.product(SWEEP_SEEDS, SWEEP_RATES)}
    for seed, lr, result in runs:
        reference = expected[seed, lr]
        trajectory = as_float64(result.trajectory)
        if trajectory.shape == reference.trajectory.shape and torch.equal(trajectory, reference.trajectory):
            continue
        others = [r for (s, rate), r in expected.items() if s == seed and rate != lr]
        if any(trajectory.shape == r.trajectory.shape and torch.equal(trajectory, r.trajectory) for r in others):
            return CheckOutcome(name, False, WRONG_STEP_SIZE)
        return CheckOutcome(name, False, WRONG_LENGTH if trajectory.shape != reference.trajectory.shape
                            else WRONG_STEP_SIZE)
    return CheckOutcome(name, True)


def check_sweep(code) -> list[CheckOutcome]:
    """Exercise 1.3 (with the reference gradient descent in place of the student's, so 1.1-1.2 do not count)."""
    runs = code.call("helpers.checks.nb01_spiral_sandbox:sweep_on_reference_descent", SWEEP_SEEDS, SWEEP_RATES,
                     SWEEP_STEPS)
    outcomes = [_grid_outcome(runs)]
    if not outcomes[0].passed:
        return outcomes
    outcomes += [_start_outcome(runs), _trajectory_outcome(runs)]
    smallest = [as_float64(result.losses) for _, lr, result in runs if lr == min(SWEEP_RATES)]
    falling = all(bool((losses[1:] < losses[:-1]).all()) for losses in smallest)
    outcomes.append(CheckOutcome(f"the loss of the smallest step size (λ = {min(SWEEP_RATES):g}) falls at every step",
                                 falling, "" if falling else NOT_DESCENDING))
    return outcomes


# -- 1.4 the contour and arrow plot ---------------------------------------------------------------------------


def plot_landscape_reference(ax, grid, colorbar: bool = False):
    """``spiral_sweep.plot_landscape`` written another way: ``contourf`` of log10 y (clipped at 1e-2); grid
    (X1, X2, Y), each (n, n). Returns the contour set."""
    x1, x2, y = grid
    filled = ax.contourf(x1, x2, np.log10(np.clip(y, 1e-2, None)), levels=30, cmap="viridis")
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if colorbar:
        ax.figure.colorbar(filled, ax=ax, label="log10 y")
    return filled


def plot_trajectory_reference(ax, result, color: str = "#D55E00", max_arrows: int = 25):
    """``spiral_sweep.plot_trajectory`` written another way: the path, and ``quiver`` arrows along every
    k-th step (at most ``max_arrows``); the trajectory is (T+1, 2)."""
    path = as_float64(result.trajectory).numpy()
    ax.plot(path[:, 0], path[:, 1], color=color, lw=1)
    every = max(1, -(-(len(path) - 1) // max_arrows))
    tails, steps = path[:-1:every], (path[1:] - path[:-1])[::every]
    if len(steps):
        ax.quiver(tails[:, 0], tails[:, 1], steps[:, 0], steps[:, 1], angles="xy", scale_units="xy", scale=1,
                  color=color, width=0.004)
    ax.plot(*path[0], "o", color="white", mec="black", ms=6)
    ax.plot(*path[-1], "X" if result.diverged else "*", color="red" if result.diverged else "gold", mec="black", ms=9)
    ax.set_xlim(-spiral.START_BOX, spiral.START_BOX)
    ax.set_ylim(-spiral.START_BOX, spiral.START_BOX)


PLOT_SEED, PLOT_RATE, PLOT_STEPS = 4, 1e-2, 150
NO_CONTOURF = "no filled contour plot on the axes: draw the landscape with ax.contourf"
ONLY_LINES = "ax.contour draws contour lines only: the handout asks for the filled contourf"
PARTIAL_LANDSCAPE = "the filled contours do not cover the start box [-5, 5]²: draw the whole grid you are given"
NO_ARROWS = "no arrows on the axes: mark the steps with arrows (ax.annotate with arrowprops, ax.arrow or ax.quiver)"
OFF_PATH = "the arrows do not start at the iterates x_t of the trajectory"
UPHILL = ("the arrows point along +∇y, uphill: a gradient-descent step goes along -∇y, so draw the negative "
          "gradient (the step x_t -> x_(t+1))")
ASKEW = "some arrows do not point along the step x_t -> x_(t+1)"
PLOT_MISTAKES = (NO_CONTOURF, ONLY_LINES, PARTIAL_LANDSCAPE, NO_ARROWS, OFF_PATH, UPHILL, ASKEW)


def _contour_outcome(drawn: dict) -> CheckOutcome:
    name = "a filled contour plot (contourf) of the landscape covering [-5, 5]²"
    if not drawn["filled_contours"]:
        return CheckOutcome(name, False, ONLY_LINES if drawn["line_contours"] else NO_CONTOURF)
    low, high = as_float64(drawn["contour_extent"]).reshape(2, 2)  # (x1, x2) minima, maxima
    covers = bool((low <= -0.95 * spiral.START_BOX).all() and (high >= 0.95 * spiral.START_BOX).all())
    return CheckOutcome(name, covers, "" if covers else PARTIAL_LANDSCAPE)


def _arrow_outcomes(drawn: dict) -> list[CheckOutcome]:
    arrows, path = as_float64(drawn["arrows"]).reshape(-1, 4), as_float64(drawn["trajectory"])
    on_path_name, direction_name = "arrows along the trajectory, each starting at an iterate x_t", \
        "every arrow points along the step x_t -> x_(t+1) = x_t - λ∇y(x_t), downhill"
    if len(arrows) < 5:
        return [CheckOutcome(on_path_name, False, NO_ARROWS)]
    distance = torch.cdist(arrows[:, :2], path).min(dim=1).values
    on_path = bool((distance <= 1e-6 * (1 + path.abs().max())).all())
    outcomes = [CheckOutcome(on_path_name, on_path, "" if on_path else OFF_PATH)]
    if not on_path:
        return outcomes
    downhill = -spiral_grad_reference(arrows[:, :2])
    moving = downhill.norm(dim=1) > 1e-12
    cosine = torch.nn.functional.cosine_similarity(arrows[moving, 2:], downhill[moving], dim=1)
    along = bool((cosine >= 0.99).all())
    diagnosis = "" if along else (UPHILL if float(cosine.median()) <= -0.9 else ASKEW)  # most point uphill
    return outcomes + [CheckOutcome(direction_name, along, diagnosis)]


def check_plots(code) -> list[CheckOutcome]:
    """Exercise 1.4: the student's plot functions draw one run (the reference's) in the sandbox; what they drew
    comes back as data (:func:`helpers.checks.nb01_spiral_sandbox.drawn_trajectory_plot`)."""
    drawn = code.call("helpers.checks.nb01_spiral_sandbox:drawn_trajectory_plot",
                      spiral.random_start(PLOT_SEED), PLOT_RATE, PLOT_STEPS)
    return [_contour_outcome(drawn), *_arrow_outcomes(drawn)]


EXERCISES: tuple[Exercise, ...] = (
    Exercise("1.1", "the spiral's gradient by the chain rule", SPIRAL, "CSE 849 project 1, q1", 3,
             ("helpers/spiral.py",), ("spiral_grad",), check_spiral_gradient,
             (*GRADIENT_MISTAKES, AXIS_MISTAKE, NOT_FINITE), forbid=("autograd", "references"),
             stand_ins={"helpers.spiral:spiral_grad": (spiral_grad_reference, "torch autograd of the spiral")}),
    Exercise("1.2", "the gradient-descent step", SPIRAL, "CSE 849 project 1, q1", 2,
             ("helpers/spiral.py",), ("gradient_descent",), check_gradient_descent, DESCENT_MISTAKES,
             forbid=("torch.optim", "references"),
             stand_ins={"helpers.spiral:gradient_descent": (gradient_descent_reference, "torch's SGD step")}),
    Exercise("1.3", "the runs over λ and seeds", SPIRAL, "CSE 849 project 1, q1 (λ sweep, fixed seeds)", 2,
             ("helpers/experiments/spiral_sweep.py",), ("sweep",), check_sweep, SWEEP_MISTAKES,
             forbid=("references",),
             stand_ins={"helpers.experiments.spiral_sweep:sweep": (sweep_reference, "the reference sweep")}),
    Exercise("1.4", "the contour and arrow plot of a run", SPIRAL, "CSE 849 project 1, q1 (contourf and arrows)", 2,
             ("helpers/experiments/spiral_sweep.py",), ("plot_landscape", "plot_trajectory"), check_plots,
             PLOT_MISTAKES, forbid=("references",),
             stand_ins={"helpers.experiments.spiral_sweep:plot_landscape":
                        (plot_landscape_reference, "the reference contour plot"),
                        "helpers.experiments.spiral_sweep:plot_trajectory":
                        (plot_trajectory_reference, "the reference arrows (quiver)")}),
)
