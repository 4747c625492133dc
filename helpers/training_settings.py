"""What the two training loops of :mod:`helpers.training` refuse: nonsense settings, a foreign optimizer.

Each check raises a ``ValueError`` (or ``TypeError``) saying what was expected; shapes: none (numbers and
objects in, nothing out).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn


def check_n_epochs(n_epochs) -> None:
    if not isinstance(n_epochs, int) or isinstance(n_epochs, bool) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive int, got {n_epochs!r}")


def _is_finite_nonnegative(value) -> bool:
    """An int or float (NumPy scalars too), finite and >= 0; not a bool, which Python counts as an int."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return real and math.isfinite(value) and value >= 0


def check_hyperparameters(lr, momentum, weight_decay, dampening, nesterov) -> None:
    """What ``torch.optim.SGD`` refuses, refused with the same meaning, and what it accepts but makes nonsense."""
    # torch refuses lr, momentum, weight_decay < 0. It lets NaN through (NaN < 0 is False) and inf: either makes
    # the parameters non-finite at the first step. It takes bools as numbers: True is almost surely an argument out of
    # place. It checks no dampening τ (buffer ← μ buffer + (1 − τ) g): τ < 0 amplifies the gradient.
    for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay), ("dampening", dampening)):
        if not _is_finite_nonnegative(value):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    # μ >= 1: past gradients never fade (μ = 1) or grow (μ > 1) in the buffer, so the steps grow without bound.
    if momentum >= 1:
        raise ValueError(f"momentum must be < 1 (0.9 is typical), got {momentum!r}: with momentum >= 1 past "
                         "gradients never fade and the steps grow without bound")
    # τ > 1 flips the sign of each new gradient (gradient ascent); τ = 1 ignores every gradient after the first.
    if dampening >= 1:
        raise ValueError(f"dampening must be < 1 (it scales each new gradient by 1 - dampening), got {dampening!r}")
    if not isinstance(nesterov, bool):
        raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0 (as in torch.optim.SGD)")


def check_optimizer(optimizer, model: nn.Module) -> None:
    """Every trainable parameter of ``model`` must be one the optimizer updates (else it never moves)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("model has no trainable parameters (none with requires_grad=True)")
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [name for name, p in trainable if id(p) not in held]
    if missing:
        which = ("none of the model's parameters" if len(missing) == len(trainable) else
                 f"{len(missing)} of the model's {len(trainable)} trainable parameters (missing: {', '.join(missing)})")
        raise ValueError(f"the optimizer updates {which}: build it over model.parameters() of the model you "
                         "train (not another instance), or set requires_grad=False on parameters to freeze")


def epoch_lr(lr: float, lr_schedule: Callable[[int], float] | None, epoch: int) -> float:
    """lr times ``lr_schedule(epoch)``, the factor checked: a negative one would climb the loss (ascent)."""
    if lr_schedule is None:
        return lr
    factor = lr_schedule(epoch)
    if not _is_finite_nonnegative(factor):
        raise ValueError(f"lr_schedule({epoch}) must return a finite number >= 0 (the lr factor of epoch "
                         f"{epoch + 1}), got {factor!r}: a negative factor would climb the loss")
    return lr * factor
