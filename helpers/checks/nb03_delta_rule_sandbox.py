"""Sandbox side of notebook 03's checks (:mod:`helpers.checks.nb03_delta_rule`).

Runs in the sandbox only: builds a ``MyNet`` from plain data, calls the student's function inside
:func:`student_running` and returns plain data: what it returned and everything it changed (parameters,
stored gradients, and whether it modified its inputs). The verdict is made by the trusted side.
"""
from __future__ import annotations

import torch
from torch import nn

from helpers.checks.sandbox_worker import student_running


def _snapshot(tensors: dict) -> dict:
    return {name: t.detach().clone() for name, t in tensors.items() if isinstance(t, torch.Tensor)}


def _changed(tensors: dict, before: dict) -> list[str]:
    """The names of the tensors whose values differ from their snapshot (modified in place)."""
    return sorted(name for name, t in before.items()
                  if not (isinstance(tensors[name], torch.Tensor) and tensors[name].shape == t.shape
                          and torch.equal(tensors[name].detach(), t)))


def _mynet(n_l, activations, state: dict) -> nn.Module:
    from helpers.mynet import MyNet
    model = MyNet(list(n_l), activations).double()
    model.load_state_dict(state)
    return model


def _parameters(model: nn.Module) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def backpropagation_run(n_l, activations, state: dict, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Exercise 3.1: ``MyNet(n_l, activations)`` with ``state``, forward on ``x``, then the student's
    ``backpropagation(model, y, y_pred)``. Returns what it returned, ``dL_dw``/``dL_db`` ({l: tensor}),
    the parameters afterwards, and the names of the inputs it modified in place."""
    from helpers import mynet
    model = _mynet(n_l, activations, state)
    y_pred = model(x)
    watched = {"y_true": y, "y_pred": y_pred}
    watched.update({f"a[{l}]": model.a[l] for l in range(model.L + 1)})
    watched.update({f"z[{l}]": model.z[l] for l in range(1, model.L + 1)})
    before = _snapshot(watched)
    with student_running():
        returned = mynet.backpropagation(model, y, y_pred)
    return {"returned": returned, "dL_dw": dict(model.dL_dw), "dL_db": dict(model.dL_db),
            "parameters": _parameters(model), "changed_inputs": _changed(watched, before)}


def manual_sgd_step_run(n_l, activations, state: dict, dL_dw: dict, dL_db: dict, lr: float) -> dict:
    """Exercise 3.2: the student's ``manual_sgd_step(model, lr)`` on a ``MyNet`` whose ``dL_dw``/``dL_db``
    are given (and whose ``p.grad`` are ones, which a correct step ignores). Returns the parameters in
    ``model.parameters()`` order and the stored gradients afterwards."""
    from helpers import mynet
    model = _mynet(n_l, activations, state)
    for l in range(1, model.L + 1):
        layer = model.fc[str(l)]
        model.dL_dw[l], model.dL_db[l] = dL_dw[l].clone(), dL_db[l].clone()
        layer.weight.grad, layer.bias.grad = torch.ones_like(layer.weight), torch.ones_like(layer.bias)
    with student_running():
        mynet.manual_sgd_step(model, lr)
    return {"parameters": [p.detach().clone() for p in model.parameters()],
            "dL_dw": dict(model.dL_dw), "dL_db": dict(model.dL_db)}
