"""The exercises of notebook 01 (the spiral), for :mod:`helpers.checks.exercises`; checks in
:mod:`helpers.checks.exercises_spiral`."""
from __future__ import annotations

from helpers.checks import exercises_spiral as spiral_checks
from helpers.checks.toolkit import Exercise

SPIRAL = "01_spiral_gradient_descent"

EXERCISES: tuple[Exercise, ...] = (
    Exercise("1.1", "the spiral's gradient by the chain rule", SPIRAL, "CSE 849 project 1, q1", 3,
             ("helpers/spiral.py",), ("spiral_grad",), spiral_checks.check_spiral_gradient,
             ("sign error in the angle term", "factor 6 of 6θ missing", "factor 2 of 2r missing",
              "r-term inside the sine forgotten", "forgot the local derivative of sin²",
              "product rule incomplete (either factor)", "the derivative of r is wrong",
              "whole gradient negated", "components swapped", "angle term missing on the line x1 = 0",
              "inf or nan on x1 = 0 or at the origin"), forbid=("autograd", "references")),
    Exercise("1.2", "the gradient-descent step", SPIRAL, "CSE 849 project 1, q1", 2,
             ("helpers/spiral.py",), ("gradient_descent",), spiral_checks.check_gradient_descent,
             ("step in the wrong direction", "learning rate missing", "x never moves",
              "gradient saved at the new iterate"),
             forbid=("torch.optim", "references")),
)
