"""Sandbox side of notebook 04's checks (:mod:`helpers.checks.nb04_catcar`).

Runs in the sandbox only: builds the objects an exercise works on (a ``MyMLP``, an optimizer, parameters with
gradients) from plain data, calls the student's function inside :func:`student_running` and returns plain
data: what it returned and everything it changed (parameters, momentum buffers, and whether it modified its
inputs). The verdict is made by the trusted side.
"""
from __future__ import annotations

import torch
from torch import nn

from helpers.checks.sandbox_worker import stand_in, student_running


def stratified_split_run(labels: torch.Tensor, fraction: float, seed: int) -> dict:
    """Exercise 4.1: the student's ``stratified_split(labels, fraction, seed=seed)``; also whether it
    modified ``labels`` in place."""
    from helpers.data import catcar
    before = labels.clone()
    with student_running():
        result = catcar.stratified_split(labels, fraction, seed=seed)
    return {"result": result, "labels_changed": not torch.equal(labels, before)}


def _mlp(n_inputs: int, n_hidden, state: dict) -> nn.Module:
    from helpers.training import MyMLP
    model = MyMLP(n_inputs=n_inputs, n_hidden=tuple(n_hidden)).double()
    model.load_state_dict(state)
    return model


def mlp_forward_run(n_inputs: int, n_hidden, state: dict, x: torch.Tensor, backward: bool = False) -> dict:
    """Exercise 4.2: the student's ``MyMLP.forward`` on ``x``; with ``backward``, cross-entropy against
    class 0 is backpropagated through the logits and every parameter's gradient returned (None: not reached)."""
    model = _mlp(n_inputs, n_hidden, state)
    before = x.clone()
    with student_running():
        logits = model(x)
    result = {"logits": logits, "changed_input": not torch.equal(x, before)}
    if backward:
        grads = dict.fromkeys((name for name, _ in model.named_parameters()), None)
        if isinstance(logits, torch.Tensor) and logits.requires_grad and logits.dim() == 2:
            try:
                nn.functional.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.int64)).backward()
                grads = {name: p.grad for name, p in model.named_parameters()}
            except RuntimeError:
                pass
        result["grads"] = grads
    return result


def training_step_run(n_inputs: int, n_hidden, state: dict, batches: list, optimizer_settings: dict) -> dict:
    """Exercise 4.3 alone: the student's ``training_step`` on each batch with ``torch.optim.SGD``, the model's
    forward being the reference (so a mistake of exercise 4.2 never fails 4.3). Returns the parameters
    afterwards, each returned loss, each batch's loss before its step, whether a gradient was left in
    ``.grad`` after each step, and whether a batch was modified in place."""
    from helpers import training
    from helpers.checks.nb04_catcar import mlp_forward_reference
    training.MyMLP.forward = stand_in(mlp_forward_reference)
    model = _mlp(n_inputs, n_hidden, state)
    optimizer = torch.optim.SGD(model.parameters(), **optimizer_settings)
    losses, before, left, changed = [], [], [], False
    for x, y in batches:
        with torch.no_grad():
            before.append(nn.functional.cross_entropy(model(x), y).item())
        x_before, y_before = x.clone(), y.clone()
        with student_running():
            loss = training.training_step(model, nn.functional.cross_entropy, optimizer, x, y)
        losses.append(loss)
        left.append(any(p.grad is not None and bool(p.grad.any()) for p in model.parameters()))
        changed |= not (torch.equal(x, x_before) and torch.equal(y, y_before))
    return {"parameters": [p.detach().clone() for p in model.parameters()], "losses": losses,
            "losses_before": before, "left": left, "changed_input": changed}


def sgd_step_run(start: list, gradients: list, settings: dict) -> dict:
    """Exercise 4.4: the student's ``sgd_step`` for each step's ``gradients`` (put in ``.grad``) from the
    parameters ``start``, with one momentum buffer list kept across the steps. Returns the parameters and
    buffers afterwards and, per step, whether every gradient was cleared."""
    from helpers import training
    params = [p.clone() for p in start]
    buffers: list = [None] * len(params)
    cleared = []
    for step in gradients:
        for p, g in zip(params, step):
            p.grad = g.clone()
        with student_running():
            training.sgd_step(params, buffers, **settings)
        cleared.append(all(p.grad is None or not p.grad.any() for p in params))
    return {"parameters": [p.detach().clone() for p in params], "buffers": list(buffers), "cleared": cleared}
