"""Sandbox side of notebook 05's checks (:mod:`helpers.checks.exercises_dream`, :mod:`.exercises_dream_loop`):
runs in the sandbox, calls the student's ``helpers/dream.py`` and returns data only.

The trusted side sends data (tensors, numbers, a model's ``state_dict``, the objective as a small spec) and
compares what comes back with references it computed itself; nothing here decides a verdict.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from helpers.checks.sandbox_worker import stand_in, student_running


def classifier_architecture() -> nn.Module:
    """The check's tiny CNN without weights drawn on purpose: (N, 3, H, W) -> (N, 5), float64, eval mode.
    The trusted side seeds it (:func:`helpers.checks.exercises_dream_loop.tiny_classifier`) and sends its
    ``state_dict``; :func:`classifier` rebuilds it here."""
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.Tanh(), nn.Conv2d(6, 8, 3, stride=2, padding=1),
                          nn.Tanh(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5))
    return model.double().eval()


def classifier(state: dict) -> nn.Module:
    """The check's classifier with the weights ``state`` (a ``state_dict`` of tensors)."""
    model = classifier_architecture()
    model.load_state_dict(state)
    return model


def objective(spec) -> callable:
    """The objective ``(label, sign)`` as the course writes it: ``lambda tensor: sign * tensor[0, label].mean()``."""
    label, sign = int(spec[0]), float(spec[1])
    if sign == 1.0:
        return lambda tensor: tensor[0, label].mean()
    return lambda tensor: sign * tensor[0, label].mean()


# ---------------------------------------------------------------------------------- 5.1 dream_step

def dream_step_with_inputs(image, energy_grad, iteration: int, options: dict):
    """Exercise 5.1: (the student's new image, ``image`` and ``energy_grad`` as they are after the call), so
    the trusted side can see an in-place change. Runs under ``torch.no_grad`` (as ``gradient_descent`` calls it)."""
    from helpers import dream
    torch.set_num_threads(1)
    given_image, given_grad = image.clone(), energy_grad.clone()
    with torch.no_grad(), student_running():
        new = dream.dream_step(given_image, given_grad, iteration, **options)
    return new, given_image, given_grad


# ---------------------------------------------------------------------------- 5.2 gradient_descent

def loop_with_reference_step(state: dict, spec, start, iterations: int, options: dict, requires_grad: bool = False):
    """Exercise 5.2 alone: the student's ``gradient_descent(start, model, objective, iterations, **options)``
    with every step taken by the reference update (so a mistake of 5.1 never fails 5.2), recording what the
    loop hands each step.

    Returns a dict: ``image`` (the result, or what came back), ``records`` (one (image, energy_grad) per call
    of ``dream_step``), ``history`` (``options["history"]`` as filled: the DreamSteps), ``input_after`` (the
    start tensor after the call), ``parameter_grads`` (whether any parameter of the model got a ``.grad``)."""
    from helpers import dream, dream_references as references
    torch.set_num_threads(1)
    model = classifier(state)
    records, history = [], []

    def update(image, energy_grad, iteration, **step_options):
        image, energy_grad = torch.as_tensor(image), torch.as_tensor(energy_grad)
        records.append((image.detach().clone(), energy_grad.detach().clone()))
        return references.step_by_add_and_lerp(image, energy_grad, iteration, **step_options)

    dream.dream_step = stand_in(update)
    given = start.clone().requires_grad_(requires_grad)
    with student_running():
        result = dream.gradient_descent(given, model, objective(spec), iterations, history=history, **options)
    return {"image": result, "records": records, "history": list(history), "input_after": given.detach(),
            "parameter_grads": any(p.grad is not None for p in model.parameters())}


# ---------------------------------------------------------------------------- 5.3 channel_objective

def channel_objective_with_gradient(activation, channels):
    """Exercise 5.3: (the student's objective, whether it is a tensor that requires grad, its gradient with
    respect to ``activation`` by autograd, or None when it is cut off from the graph)."""
    from helpers import dream
    torch.set_num_threads(1)
    leaf = activation.clone().requires_grad_(True)
    with student_running():
        value = dream.channel_objective(leaf, channels)
        flows = isinstance(value, torch.Tensor) and value.requires_grad
        gradient = torch.autograd.grad(value, leaf, allow_unused=True)[0] if flows else None
    if flows and gradient is None:
        flows = False
    return value.detach() if isinstance(value, torch.Tensor) else value, flows, gradient
