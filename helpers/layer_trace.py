"""One forward and backward pass of a small MLP, recorded layer by layer with the network's own code.

The adapter behind :mod:`helpers.layer_walkthrough`: :func:`trace_pass` accepts a network of
:mod:`helpers.layers` (``Linear`` layers, each followed by at most one activation; loss ``MSELoss``) or a
:class:`helpers.mynet.MyNet` (loss Σ (y - ŷ)², backward ``backpropagation(model, y_true, y_pred)``) and returns
a :class:`LayerPass` in one notation for both: a[0] = x, z[l] = the l-th linear layer's output,
a[l] = f(z[l]), δ[l] = dL/dz[l], l = 1..L. :func:`autograd_reference` recomputes every one of those
quantities with torch autograd on an independent float64 replay of the forward pass.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch

from helpers.layer_base import Layer
from helpers.layers import Activation, Linear, MSELoss, Sequential
from helpers.runtime.validation import check_tensor

TORCH_ACTIVATIONS: dict[str, Callable] = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                                          "identity": lambda t: t}
NOT_A_NETWORK = ("the layer walkthrough expects a network of helpers.layers (Linear layers with forward and "
                 "backward, e.g. layers.MLP) or a MyNet (L, z, a, df, fc, walked through with "
                 "backpropagation(model, y_true, y_pred)); got {name}, which has no backward pass to walk through")


@dataclass(frozen=True)
class LayerPass:
    """What one pass computed. Per layer l = 1..L (dict keys; ``a`` also has 0), N = batch size:

    a[l] (N, n_l); z[l], upstream[l] = dL/da[l], slope[l] = f'(z[l]), delta[l] = δ[l] = dL/dz[l]: (N, n_l);
    weight[l] and weight_grad[l] in the model's layout: (n_(l-1), n_l) when ``layout`` is 'xW'
    (helpers.layers, z = a W + b), (n_l, n_(l-1)) when 'xWᵀ' (MyNet, z = a Wᵀ + b); bias[l], bias_grad[l]:
    (n_l,). ``y`` (N, n_L); ``loss`` a 0-dim tensor. ``functions[l]`` is f of layer l, ``activations`` their names.
    """
    layout: str
    activations: tuple[str, ...]
    functions: dict[int, Callable]
    a: dict[int, torch.Tensor]
    z: dict[int, torch.Tensor]
    weight: dict[int, torch.Tensor]
    bias: dict[int, torch.Tensor]
    upstream: dict[int, torch.Tensor]
    slope: dict[int, torch.Tensor]
    delta: dict[int, torch.Tensor]
    weight_grad: dict[int, torch.Tensor]
    bias_grad: dict[int, torch.Tensor]
    y: torch.Tensor
    loss: torch.Tensor
    loss_name: str
    mean_loss: bool

    @property
    def L(self) -> int:
        return len(self.z)

    @property
    def dtype(self) -> torch.dtype:
        return self.weight[1].dtype


def trace_pass(model, x: torch.Tensor, y: torch.Tensor, backpropagation=None) -> LayerPass:
    """Run ``model`` forward on ``x`` (N, n_0) and backward against ``y`` (N, n_L), on a copy of the model.

    Raises TypeError for a model without a backward pass, ValueError for x or y of the wrong shape or dtype,
    empty or not finite.
    """
    for name, t in (("x", x), ("y", y)):
        if not (isinstance(t, torch.Tensor) and t.ndim == 2):
            continue  # the network's own check below says which shape it expects
        check_tensor(f"layer walkthrough {name}", t, (None, None), finite=True)
        if t.shape[0] == 0:
            raise ValueError(f"layer walkthrough {name}: expected a batch of at least one sample, got {tuple(t.shape)}")
    if isinstance(model, Sequential):
        return _trace_layers(model, x, y)
    if all(hasattr(model, name) for name in ("L", "z", "a", "df", "fc")):
        if backpropagation is None:
            from helpers.mynet import backpropagation
        if not callable(backpropagation):
            raise TypeError(f"backpropagation must be a function (model, y_true, y_pred), got {backpropagation!r}")
        return _trace_mynet(model, x, y, backpropagation)
    raise TypeError(NOT_A_NETWORK.format(name=type(model).__name__))


def _groups(model: Sequential) -> list[tuple[Linear, Activation | None]]:
    """The network as (Linear, its activation or None) pairs, checked to have real backward passes."""
    groups, layers = [], list(model.layers)
    for name, layer in zip(model.layer_names, layers):
        if type(layer).backward is Layer.backward or not callable(getattr(layer, "backward", None)):
            raise TypeError(f"layer {name} ({type(layer).__name__}) defines no backward(): " +
                            NOT_A_NETWORK.format(name=type(model).__name__))
        if isinstance(layer, Linear):
            groups.append([layer, None])
        elif isinstance(layer, Activation) and groups and groups[-1][1] is None:
            groups[-1][1] = layer
        else:
            raise ValueError(f"layer {name} ({type(layer).__name__}): the layer walkthrough expects Linear layers, "
                             "each followed by at most one activation (ReLU, Sigmoid, Tanh, Identity)")
    if not groups:
        raise ValueError("the network has no Linear layer: there is nothing to walk through")
    return [tuple(group) for group in groups]


def _trace_layers(model: Sequential, x, y) -> LayerPass:
    """The pass of a helpers.layers network, each layer's forward and backward called as Sequential does."""
    groups = _groups(copy.deepcopy(model).train())  # backward takes an SGD step: not on the caller's model
    first = groups[0][0]
    check_tensor("layer walkthrough x", x, (None, first.d_in), first.weight.dtype, first.weight.device)
    L, a, z, weight, bias = len(groups), {0: x}, {}, {}, {}
    for l, (linear, act) in enumerate(groups, 1):
        weight[l], bias[l] = linear.weight.clone(), linear.bias.clone()  # before backward's SGD step
        z[l] = linear.forward(a[l - 1])
        a[l] = act.forward(z[l]) if act is not None else z[l]
    loss_fn = MSELoss()
    check_tensor("layer walkthrough y", y, tuple(a[L].shape), a[L].dtype, a[L].device)
    loss = loss_fn(a[L], y)
    upstream, slope, delta, weight_grad, bias_grad = {L: loss_fn.backward()}, {}, {}, {}, {}
    for l in range(L, 0, -1):
        linear, act = groups[l - 1]
        delta[l] = act.backward(upstream[l]) if act is not None else upstream[l]
        passed_down = linear.backward(delta[l])
        weight_grad[l], bias_grad[l] = linear.grad_weight, linear.grad_bias
        if l > 1:
            upstream[l - 1] = passed_down
        slope[l] = _slope(act, z[l])
    names = tuple(act.kind if act is not None else "identity" for _, act in groups)
    return LayerPass("xW", names, {l: TORCH_ACTIVATIONS[n] for l, n in enumerate(names, 1)}, a, z, weight, bias,
                     upstream, slope, delta, weight_grad, bias_grad, y, loss, "L = mean((ŷ - y)²)", True)


def _slope(act: Activation | None, z: torch.Tensor) -> torch.Tensor:
    """f'(z) by the layer's own backward: its backward of an upstream gradient of ones (N, n)."""
    if act is None:
        return torch.ones_like(z)
    act.forward(z)
    return act.backward(torch.ones_like(z))


def _trace_mynet(model, x, y, backpropagation) -> LayerPass:
    """The pass of a MyNet-like model: its forward, then ``backpropagation`` fills dL_dw and dL_db."""
    net = copy.deepcopy(model)  # forward and backpropagation overwrite z, a, dL_dw: not the caller's
    weight1 = net.fc["1"].weight
    check_tensor("layer walkthrough x", x, (None, weight1.shape[1]), weight1.dtype, weight1.device)
    y_pred = net(x)
    check_tensor("layer walkthrough y", y, tuple(y_pred.shape), y_pred.dtype, y_pred.device)
    deltas = backpropagation(net, y, y_pred)
    L = net.L
    with torch.no_grad():
        weight = {l: net.fc[str(l)].weight.detach().clone() for l in range(1, L + 1)}
        bias = {l: net.fc[str(l)].bias.detach().clone() for l in range(1, L + 1)}
        z = {l: net.z[l].detach() for l in range(1, L + 1)}
        slope = {l: net.df[l](z[l]) for l in range(1, L + 1)}
    # dL/da[l] as the model's δ[l+1] passes it down: a vector-Jacobian product of the model's own layer by
    # autograd (spelling it out here would print exercise 3.1's answer in the student's copy)
    upstream, delta = {L: _vjp(lambda p: ((y - p) ** 2).sum(), y_pred.detach(), None)}, {}
    for l in range(L, 0, -1):
        own = deltas.get(l) if isinstance(deltas, dict) else None  # the model's δ when backpropagation returns it
        delta[l] = own.detach() if isinstance(own, torch.Tensor) else _vjp(net.f[l], z[l], upstream[l])
        if l > 1:
            upstream[l - 1] = _vjp(net.fc[str(l)], net.a[l - 1].detach(), delta[l])
    for name in ("dL_dw", "dL_db"):
        empty = [l for l in range(1, L + 1) if not isinstance(getattr(net, name)[l], torch.Tensor)]
        if empty:
            raise RuntimeError(f"backpropagation left model.{name}[{empty[0]}] empty: it must fill dL_dw[l] and "
                               "dL_db[l] for every layer l = 1..L")
    names = tuple(getattr(net, "activations", ("f",) * L))
    return LayerPass("xWᵀ", names, dict(net.f), {l: net.a[l].detach() for l in range(L + 1)}, z, weight, bias,
                     upstream, slope, delta, {l: net.dL_dw[l].detach() for l in range(1, L + 1)},
                     {l: net.dL_db[l].detach() for l in range(1, L + 1)}, y, ((y - y_pred) ** 2).sum().detach(),
                     "L = Σ(y - ŷ)²", False)


def _vjp(function: Callable, point: torch.Tensor, cotangent: torch.Tensor | None) -> torch.Tensor:
    """The gradient at ``point`` of ``function`` (a scalar when ``cotangent`` is None) or of its product with
    ``cotangent`` (the shape of ``function(point)``), by autograd: a tensor shaped like ``point``."""
    with torch.enable_grad():
        point = point.detach().requires_grad_()
        output = function(point)
        (gradient,) = torch.autograd.grad(output, point, cotangent)
    return gradient.detach()


def autograd_reference(record: LayerPass) -> dict[str, dict]:
    """Every quantity of ``record`` recomputed by torch autograd on a float64 replay of the forward pass from
    the same x, weights and biases: keys 'a', 'z', 'upstream', 'slope', 'delta', 'weight_grad', 'bias_grad'
    (dicts by layer, shapes as in :class:`LayerPass`) and 'loss' (0-dim)."""
    as64 = lambda t: t.detach().to(torch.float64).clone()  # noqa: E731
    weight = {l: as64(w).requires_grad_() for l, w in record.weight.items()}
    bias = {l: as64(b).requires_grad_() for l, b in record.bias.items()}
    a, z, slope = {0: as64(record.a[0])}, {}, {}
    for l in range(1, record.L + 1):
        w = weight[l] if record.layout == "xW" else weight[l].T
        z[l] = a[l - 1] @ w + bias[l]
        a[l] = record.functions[l](z[l])
        z[l].retain_grad()
        a[l].retain_grad()
        point = z[l].detach().requires_grad_()
        (slope[l],) = torch.autograd.grad(record.functions[l](point).sum(), point)  # element-wise f' by autograd
    squared = (a[record.L] - as64(record.y)) ** 2
    loss = squared.mean() if record.mean_loss else squared.sum()
    loss.backward()
    layers = range(1, record.L + 1)
    return {"a": {l: t.detach() for l, t in a.items()}, "z": {l: z[l].detach() for l in layers},
            "upstream": {l: a[l].grad for l in layers}, "slope": slope, "delta": {l: z[l].grad for l in layers},
            "weight_grad": {l: weight[l].grad for l in layers}, "bias_grad": {l: bias[l].grad for l in layers},
            "loss": loss.detach()}
