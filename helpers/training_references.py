"""Reference results for notebooks 03 and 04 while an exercise is not done yet, each computed another way.

An exercise function wrapped in :func:`helpers.runtime.exercises.reference_until_done` returns one of
these while its body is still a stub, so the student's notebook runs to the end with clearly labelled
stand-ins. None repeats the solution: gradients come from torch's autograd, updates from
``torch.optim.SGD``, the MLP's forward pass from ``torch.nn.functional``. Each takes the same arguments
as the exercise function, returns the same thing and has the same side effects (stored gradients,
updated parameters and momentum buffers), so the notebooks' numbers are those of a correct solution.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn


def backpropagation_by_autograd(model: nn.Module, y_true: torch.Tensor, y_pred: torch.Tensor
                                ) -> dict[int, torch.Tensor]:
    """Stand-in for :func:`helpers.mynet.backpropagation`: autograd replays the stored forward pass.

    Shapes: y_true broadcastable to y_pred (N, n_L). Fills ``model.dL_dw[l]`` (n_l, n_(l-1)) and
    ``model.dL_db[l]`` (n_l,), returns ``{l: ∂loss/∂z[l]}`` each (N, n_l), for loss = Σ (y_true - y_pred)²;
    leaves every ``p.grad`` as it was.
    """
    layers = range(1, model.L + 1)
    with torch.enable_grad():
        activation, pre_activations = model.a[0].detach(), {}
        for l in layers:
            pre_activations[l] = model.fc[str(l)](activation)
            activation = model.f[l](pre_activations[l])
        loss = nn.functional.mse_loss(activation, y_true.expand_as(activation), reduction="sum")
        parameters = [p for l in layers for p in (model.fc[str(l)].weight, model.fc[str(l)].bias)]
        gradients = torch.autograd.grad(loss, [pre_activations[l] for l in layers] + parameters)
    local = dict(zip(layers, gradients[:model.L]))
    for index, l in enumerate(layers):
        model.dL_dw[l], model.dL_db[l] = gradients[model.L + 2 * index], gradients[model.L + 2 * index + 1]
    return local


def _step_with(parameters: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor],
               optimizer_factory: Callable[[list[torch.Tensor]], torch.optim.Optimizer]) -> None:
    """Step ``optimizer_factory(parameters)`` once with ``gradients`` in ``.grad``, then restore the old grads."""
    saved = [p.grad for p in parameters]
    for p, g in zip(parameters, gradients):
        p.grad = g
    try:
        optimizer_factory(list(parameters)).step()
    finally:
        for p, g in zip(parameters, saved):
            p.grad = g


def gradient_step_by_torch_optim(model: nn.Module, lr: float) -> None:
    """Stand-in for :func:`helpers.mynet.manual_sgd_step`: ``torch.optim.SGD(lr)`` with ``dL_dw``, ``dL_db``.

    Shapes: every ``fc[str(l)]`` weight (n_l, n_(l-1)) and bias (n_l,) updated in place; grads untouched.
    """
    layers = [model.fc[str(l)] for l in range(1, model.L + 1)]
    parameters = [p for layer in layers for p in (layer.weight, layer.bias)]
    gradients = [g for l in range(1, model.L + 1) for g in (model.dL_dw[l], model.dL_db[l])]
    _step_with(parameters, gradients, lambda params: torch.optim.SGD(params, lr=lr, foreach=False))


def sgd_step_by_torch_optim(params: Sequence[torch.Tensor], momentum_buffers: list[torch.Tensor | None],
                            lr: float, momentum: float = 0.0, weight_decay: float = 0.0, dampening: float = 0.0,
                            nesterov: bool = False) -> None:
    """Stand-in for :func:`helpers.training.sgd_step`: one ``torch.optim.SGD`` step, its buffers kept.

    Shapes: params any; ``momentum_buffers`` (one entry per parameter, None before the first step) is read
    into the optimizer's state and written back, so the next call continues the same momentum. Clears grads.
    """
    stepped = [p for p in params if p.grad is not None]
    if not stepped:
        return
    optimizer = torch.optim.SGD(stepped, lr=lr, momentum=momentum, weight_decay=weight_decay,
                                dampening=dampening, nesterov=nesterov, foreach=False)
    position = {id(p): i for i, p in enumerate(params)}
    for p in stepped:
        if momentum_buffers[position[id(p)]] is not None:
            optimizer.state[p]["momentum_buffer"] = momentum_buffers[position[id(p)]]
    with torch.no_grad():
        optimizer.step()
    for p in stepped:
        if momentum != 0:
            momentum_buffers[position[id(p)]] = optimizer.state[p]["momentum_buffer"]
        p.grad = None


def mlp_forward_by_functional(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Stand-in for ``MyMLP.forward``: ``torch.nn.functional`` on the model's parameters.

    Shapes: x (N, 3, 16, 16) or (N, n_inputs) -> logits (N, n_classes).
    """
    hidden = x.reshape(len(x), -1)
    for layer in (model.fc1, model.fc2):
        hidden = nn.functional.relu(nn.functional.linear(hidden, layer.weight, layer.bias))
    return nn.functional.linear(hidden, model.fc3.weight, model.fc3.bias)


def training_step_by_autograd_grad(model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                                   x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Stand-in for :func:`helpers.training.training_step`: gradients by ``torch.autograd.grad``.

    Shapes: x (N, ...), y (N,) -> the batch's loss (a 0-d tensor); the optimizer has stepped once and
    every parameter's ``.grad`` is cleared afterwards.
    """
    loss = loss_fn(model(x), y)
    parameters = [p for p in model.parameters() if p.requires_grad]
    for p, g in zip(parameters, torch.autograd.grad(loss, parameters)):
        p.grad = g
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()
