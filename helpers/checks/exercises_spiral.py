"""The checks of notebook 01's exercises: 1.1 the spiral's gradient, 1.2 the gradient-descent step.

1.1 runs ``spiral_grad`` against autograd (a differently written spiral, ``atan2``) at random points and
against central differences on the line x1 = 0 and at the origin. Its diagnoses come from what autograd
gives for a *wrong* chain: the same spiral with one derivative scaled, dropped or replaced (the forward
value unchanged), so no formula of the answer is written here. 1.2 runs ``gradient_descent`` (with the
reference gradient in place of the student's ``spiral_grad``, :mod:`.harness_spiral`) against
``torch.optim.SGD``. The student's code runs in the sandbox (``code``, a
:class:`helpers.checks.sandbox.StudentCode`); everything compared is computed here.
"""
from __future__ import annotations

import torch

from helpers import spiral
from helpers.checks.exercise_outcomes import exact_outcome, randn, replaced, seeded, tensor_outcome
from helpers.checks.toolkit import CheckOutcome
from helpers.gradcheck import FINITE_DIFFERENCE_TOLERANCE, numerical_gradient

AXIS_POINTS = ((0.0, 1.5), (0.0, -3.0), (0.0, 4.2), (0.0, 0.0), (2.0, 0.0))


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


def _gradient_mistakes(points: torch.Tensor) -> dict:
    def wrong(**options):
        return lambda reference: _wrong_chain(points, **options)
    return {"sign error in the angle term (∇θ with the wrong sign)": wrong(angle=-1.0),
            "the factor 6 of 6θ is missing from the chain rule": wrong(angle=1 / 6),
            "the factor 2 of 2r inside the sine is missing from the chain rule": wrong(radius_in_phase=0.5),
            "the r-term inside the sine was forgotten (u differentiated as 6θ only)": wrong(radius_in_phase=0.0),
            "forgot the local derivative of sin² (the chain rule stops at the square)":
                wrong(sine_slope_only=True),
            "product rule incomplete: the derivative of the r² factor is missing": wrong(outer_radius=0.0),
            "product rule incomplete: the derivative of the sin² factor is missing": wrong(ridge=0.0),
            "the derivative of r is wrong (inside the sine)": wrong(radius_slope="inside"),
            "the derivative of r is wrong (in both places)": wrong(radius_slope="everywhere"),
            "sign error: the whole gradient is negated": lambda reference: -reference,
            "the two components are swapped": lambda reference: reference.flip(-1)}


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
                             "" if same_layout else "return one (dy/dx1, dy/dx2) pair per point, stacked on the "
                             "last axis, in the dtype of x")]
    outcomes.append(tensor_outcome("against autograd at 500 random points of [-5, 5]² (float64)", student(points),
                                   spiral.spiral_grad_reference(points), _gradient_mistakes(points),
                                   what="your gradient"))
    axis = torch.tensor(AXIS_POINTS, dtype=torch.float64)
    perturbed = axis.clone()
    numerical = numerical_gradient(lambda: spiral.spiral(perturbed).sum(), perturbed)
    on_axis = student(axis)
    mistakes = {"on the line x1 = 0 the angle term is missing: differentiate θ by its formula, which is finite "
                "there, not through the code's branch for θ": lambda reference: _autograd_of_the_code(axis),
                **_gradient_mistakes(axis)}
    outcomes.append(tensor_outcome("against central differences on the line x1 = 0, at (2, 0) and at the origin",
                                   on_axis, numerical, mistakes, FINITE_DIFFERENCE_TOLERANCE,
                                   f_value=spiral.spiral(axis).sum().item(), what="your gradient"))
    if isinstance(on_axis, torch.Tensor) and not torch.isfinite(on_axis).all():
        outcomes[-1] = CheckOutcome(outcomes[-1].name, False, "inf or nan on the line x1 = 0 or at the origin: "
                                    "simplify by hand until no division by x1 or r is left")
    return outcomes


def _autograd_of_the_code(points: torch.Tensor) -> torch.Tensor:
    """What autograd of ``spiral`` itself gives (its branch for θ on x1 = 0 has derivative 0)."""
    x = points.detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(spiral.spiral(x).sum(), x)
    return gradient


def _replayed(x0: torch.Tensor, lr: float, n_steps: int, update) -> torch.Tensor:
    """Iterates (n_steps + 1, 2) of ``x <- update(x, lr, gradient)``: how a mistaken step would have moved."""
    points = [x0]
    for _ in range(n_steps):
        points.append(update(points[-1], lr, spiral.spiral_grad_reference(points[-1])))
    return torch.stack(points)


def check_gradient_descent(code) -> list[CheckOutcome]:
    """Exercise 1.2 (with the reference gradient in place of the student's ``spiral_grad``)."""
    x0, lr, n_steps = randn(seeded(12), 2) * 2, 1e-3, 30
    run = code.function("helpers.checks.harness_spiral:gradient_descent_on_reference_gradient")
    student, large = run(x0, lr, n_steps), run(x0, 1.0, 20)
    with replaced(spiral, spiral_grad=spiral.spiral_grad_reference):  # the same gradients as the sandbox's
        reference = spiral.gradient_descent_reference(x0, lr, n_steps)
        reference_large = spiral.gradient_descent_reference(x0, 1.0, 20)
    first = reference.trajectory[0]
    mistakes = {
        "step in the wrong direction: x + λ·dy/dx climbs the spiral": lambda r: _replayed(first, lr, n_steps,
                                                                                        lambda x, a, g: x + a * g),
        "the learning rate is missing: x - dy/dx": lambda r: _replayed(first, lr, n_steps, lambda x, a, g: x - g),
        "x never moves: the new iterate is not the stepped one": lambda r: first.expand_as(r),
    }
    outcomes = [exact_outcome(f"iterates bit for bit as torch.optim.SGD (λ = {lr:g}, {n_steps} steps)",
                              student.trajectory, reference.trajectory, mistakes, "your trajectory")]
    outcomes.append(tensor_outcome("the saved gradients are dy/dx at x_0 .. x_(T-1)", student.gradients,
                                   reference.gradients, {"saved the gradient at the new iterate x_t (after the "
                                                         "step)": lambda r: spiral.spiral_grad_reference(
                                                             student.trajectory[1:])}, what="the gradients"))
    stopped = (large.diverged and torch.isfinite(large.trajectory).all().item()
               and large.trajectory.shape == reference_large.trajectory.shape)
    outcomes.append(CheckOutcome("λ = 1 diverges: the run stops with diverged = True and finite iterates", stopped,
                                 "" if stopped else "with λ = 1 your steps do not leave the ball |x| ≤ 1000 when "
                                 "torch.optim.SGD's do: check the step size and direction"))
    return outcomes
