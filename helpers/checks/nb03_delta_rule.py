"""The exercises of notebook 03 (INF265 §2: the delta rule), for :mod:`helpers.checks.exercises`; checks in
:mod:`helpers.checks.exercises_delta_rule`."""
from __future__ import annotations

from helpers.checks.exercises_delta_rule import (BACKPROP_DIAGNOSES, STEP_DIAGNOSES as GD_DIAGNOSES,
                                                 check_backpropagation, check_manual_sgd_step)
from helpers.checks.toolkit import Exercise

NB03 = "03_mynet_delta_rule"
MANUAL_GRADIENTS, MANUAL_UPDATE = ("autograd", "references"), ("torch.optim", "references")
EXERCISES = (
    Exercise("3.1", "backpropagation by the delta rule", NB03, "INF265 §2.1", 4, ("helpers/mynet.py",),
              ("backpropagation",), check_backpropagation, tuple(BACKPROP_DIAGNOSES), MANUAL_GRADIENTS),
    Exercise("3.2", "a gradient-descent step with the delta-rule gradients", NB03, "INF265 §1, eq. (3)", 1,
              ("helpers/mynet.py",), ("manual_sgd_step",), check_manual_sgd_step, tuple(GD_DIAGNOSES), MANUAL_UPDATE),
)
