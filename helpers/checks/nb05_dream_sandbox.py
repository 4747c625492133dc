"""Sandbox side of notebook 05's checks (:mod:`helpers.checks.nb05_dream`):
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
    The trusted side seeds it (:func:`helpers.checks.nb05_dream.tiny_classifier`) and sends its
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

SGD_SCALE = 100.0  # the check update's steps move pixels by up to ~0.2 over the course's call: the objective's
                   # gain clearly outweighs what the octaves' resizing and the jitter change


def check_update(kind: str):
    """The update the check of 5.2 puts in place of ``dream_step`` (no DeepDream step: 5.1 is not judged here):
    ``"sgd"``, a plain gradient step ``image - SGD_SCALE * lr * energy_grad`` (torch.optim.SGD's form; the raw
    gradients of the check's model are small, and ``lr`` is meant in pixel units; the other options are only
    recorded); ``"drift"``, a fixed change that ignores the gradient (each pixel moves a tenth of the
    way to its right-hand neighbour), so that the images a loop hands its steps do not depend on the gradients
    it handed before. Same signature as ``dream_step``."""
    def sgd(image, energy_grad, iteration, *, lr, **options):
        return torch.add(torch.as_tensor(image).detach(), torch.as_tensor(energy_grad).detach(), alpha=-SGD_SCALE * lr)

    def drift(image, energy_grad, iteration, **options):
        image = torch.as_tensor(image).detach()
        return image + 0.1 * (image.roll(-1, dims=-1) - image)
    return {"sgd": sgd, "drift": drift}[kind]


def loop_with_check_step(state: dict, spec, start, iterations: int, options: dict, requires_grad: bool = False,
                         update: str = "sgd"):
    """Exercise 5.2 alone: the student's ``gradient_descent(start, model, objective, iterations, **options)``
    with every step taken by :func:`check_update` (so a mistake of 5.1 never fails 5.2), recording what the
    loop hands each step.

    Returns a dict: ``image`` (the result, or what came back), ``records`` (one (image, energy_grad) per call
    of ``dream_step``), ``options`` (the keyword options of each call), ``history`` (``options["history"]`` as
    filled: the DreamSteps), ``input_after`` (the start tensor after the call), ``parameter_grads`` (whether any
    parameter of the model got a ``.grad``)."""
    from helpers import dream
    torch.set_num_threads(1)
    model = classifier(state)
    records, handed, history = [], [], []
    step = check_update(update)

    def recorded(image, energy_grad, iteration, **step_options):
        image, energy_grad = torch.as_tensor(image), torch.as_tensor(energy_grad)
        records.append((image.detach().clone(), energy_grad.detach().clone()))
        handed.append({name: value.detach().clone() if isinstance(value, torch.Tensor) else value
                       for name, value in step_options.items()})
        return step(image, energy_grad, iteration, **step_options)

    dream.dream_step = stand_in(recorded)
    given = start.clone().requires_grad_(requires_grad)
    with student_running():
        result = dream.gradient_descent(given, model, objective(spec), iterations, history=history, **options)
    return {"image": result, "records": records, "options": handed, "history": list(history),
            "input_after": given.detach(), "parameter_grads": any(p.grad is not None for p in model.parameters())}


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
