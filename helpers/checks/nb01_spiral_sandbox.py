"""Sandbox side of notebook 01's checks (:mod:`helpers.checks.nb01_spiral`): runs in the sandbox,
calls the student's ``helpers/spiral.py`` and returns data only."""
from __future__ import annotations

from helpers.checks.sandbox_worker import stand_in, student_running


def gradient_descent_on_reference_gradient(x0, lr: float, n_steps: int):
    """Exercise 1.2 alone: the student's ``gradient_descent`` with autograd's gradient in place of their
    ``spiral_grad`` (so a mistake of exercise 1.1 never fails 1.2)."""
    from helpers import spiral
    from helpers.checks.nb01_spiral import spiral_grad_reference
    spiral.spiral_grad = stand_in(spiral_grad_reference)
    with student_running():
        return spiral.gradient_descent(x0, lr, n_steps)
