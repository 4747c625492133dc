"""Notebook 01 (the spiral): the checks of exercises 1.1 (the spiral's gradient) and 1.2 (the gradient-descent
step), their references and their registry entries.

1.1 runs ``spiral_grad`` against autograd (a differently written spiral, ``atan2``) at random points and
against central differences on the line x1 = 0 and at the origin. Its diagnoses come from what autograd
gives for a *wrong* chain: the same spiral with one derivative scaled, dropped or replaced (the forward
value unchanged), so no formula of the answer is written here. 1.2 runs ``gradient_descent`` (with the
reference gradient in place of the student's ``spiral_grad``, :mod:`.nb01_spiral_sandbox`) against
torch's SGD step. The student's code runs in the sandbox (``code``, a
:class:`helpers.checks.sandbox.StudentCode`); everything compared is computed here.

The references double as the student edition's stand-ins while an exercise is not done
(:attr:`helpers.checks.toolkit.Exercise.stand_ins`).
"""
from __future__ import annotations

import torch

from helpers import spiral
from helpers.checks.toolkit import (CheckOutcome, Exercise, exact_outcome, outcome, randn, replaced, seeded,
                                   torch_sgd_step)
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


EXERCISES: tuple[Exercise, ...] = (
    Exercise("1.1", "the spiral's gradient by the chain rule", SPIRAL, "CSE 849 project 1, q1", 3,
             ("helpers/spiral.py",), ("spiral_grad",), check_spiral_gradient,
             (*GRADIENT_MISTAKES, AXIS_MISTAKE, NOT_FINITE), forbid=("autograd", "references"),
             stand_ins={"helpers.spiral:spiral_grad": (spiral_grad_reference, "torch autograd of the spiral")}),
    Exercise("1.2", "the gradient-descent step", SPIRAL, "CSE 849 project 1, q1", 2,
             ("helpers/spiral.py",), ("gradient_descent",), check_gradient_descent, DESCENT_MISTAKES,
             forbid=("torch.optim", "references"),
             stand_ins={"helpers.spiral:gradient_descent": (gradient_descent_reference, "torch's SGD step")}),
)
