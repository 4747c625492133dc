"""Gradient checks for :mod:`helpers.layers` and :mod:`helpers.mlp`, in float64.

Every check returns :class:`LayerGradients`: the hand-written (analytic) gradients, autograd's, and central
differences (:func:`helpers.gradcheck.numerical_gradient`) of the same scalar, judged by the course's one
gradient-check policy (:mod:`helpers.gradcheck`). A layer is checked through ``L = sum(out * G)`` with a random
upstream gradient ``G``, so ``backward(G)`` must return exactly dL/dx. The reference computations use torch's
own ops (``torch.relu``, ``F.mse_loss``, ``F.binary_cross_entropy``, ``nn.Linear`` ...), never this package's math.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from helpers import mlp as nyu
from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, GradientComparison,
                               compare_gradients, error_floor, numerical_gradient, verdict)
from helpers.layers import BCELoss, Identity, Layer, Linear, MLP, MSELoss, ReLU, Sigmoid, Tanh
from helpers.models.twins import torch_twin

DTYPE = torch.float64

REFERENCE_ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda t: t}
LAYER_CLASSES = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "identity": Identity}
REFERENCE_LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}


@dataclass
class LayerGradients:
    """Analytic, autograd and central-difference gradients of one scalar ``f_value``, by tensor name."""
    name: str
    analytic: dict[str, torch.Tensor]
    autograd: dict[str, torch.Tensor]
    numerical: dict[str, torch.Tensor]
    f_value: float  # the scalar differentiated: sets the finite differences' noise floor

    def comparisons(self, reference: str) -> list[GradientComparison]:
        """The analytic gradients against ``'autograd'`` or ``'numerical'``, under the one policy."""
        if reference == "autograd":
            return compare_gradients(self.analytic, self.autograd, AUTOGRAD_TOLERANCE)
        return compare_gradients(self.analytic, self.numerical, FINITE_DIFFERENCE_TOLERANCE, self.f_value)

    def max_error(self, reference: str) -> float:
        return max(row.max_relative_error for row in self.comparisons(reference))

    @property
    def passed(self) -> bool:
        return all(row.passed for reference in ("autograd", "numerical") for row in self.comparisons(reference))


def _randn(*shape, generator):
    return torch.randn(*shape, dtype=DTYPE, generator=generator)


def away_from_kinks(x: torch.Tensor, margin: float = 1e-3) -> torch.Tensor:
    """``x`` with entries closer than ``margin`` to 0 pushed out to ``±margin`` (ReLU's kink)."""
    return torch.where(x.abs() < margin, torch.where(x < 0, -margin, margin), x)


def _autograd(f, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    leaves = {name: t.detach().clone().requires_grad_(True) for name, t in tensors.items()}
    f(**leaves).backward()
    return {name: leaf.grad for name, leaf in leaves.items()}


def _numerical(f, tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], float]:
    """Central differences of the scalar ``f()`` for every tensor, and ``f()`` itself."""
    return {name: numerical_gradient(f, t) for name, t in tensors.items()}, float(f())


def _layer_loss(layer: Layer, x: torch.Tensor, upstream: torch.Tensor):
    """``L = sum(layer(x) * G)`` with the layer in eval mode (a pure function of x and the parameters)."""
    def loss():
        layer.eval()
        out = layer.forward(x)
        layer.train()
        return (out * upstream).sum()
    return loss


def check_linear(batch: int, d_in: int, d_out: int, generator: torch.Generator) -> LayerGradients:
    """``Linear`` (lr = 0, so backward leaves the parameters alone): dL/dx, dL/dweight, dL/dbias."""
    layer = Linear(d_in, d_out, lr=0.0, dtype=DTYPE, generator=generator)
    x, upstream = _randn(batch, d_in, generator=generator), _randn(batch, d_out, generator=generator)
    layer.forward(x)
    analytic = {"x": layer.backward(upstream), "weight": layer.grad_weight, "bias": layer.grad_bias}
    tensors = {"x": x, "weight": layer.weight, "bias": layer.bias}
    reference = _autograd(lambda x, weight, bias: ((x @ weight + bias) * upstream).sum(), tensors)
    return LayerGradients(f"Linear({d_in}, {d_out}), batch {batch}", analytic, reference,
                          *_numerical(_layer_loss(layer, x, upstream), tensors))


def check_activation(kind: str, batch: int, width: int, generator: torch.Generator) -> LayerGradients:
    """An activation layer ('relu', 'sigmoid', 'tanh', 'identity'): dL/dx."""
    layer = LAYER_CLASSES[kind]()
    x = away_from_kinks(_randn(batch, width, generator=generator))
    upstream = _randn(batch, width, generator=generator)
    layer.forward(x)
    analytic = {"x": layer.backward(upstream)}
    reference = _autograd(lambda x: (REFERENCE_ACTIVATIONS[kind](x) * upstream).sum(), {"x": x})
    return LayerGradients(f"{type(layer).__name__}, batch {batch}", analytic, reference,
                          *_numerical(_layer_loss(layer, x, upstream), {"x": x}))


def loss_inputs(kind: str, batch: int, width: int, generator: torch.Generator):
    """Predictions and targets for a loss: any reals for 'mse'; probabilities in (0, 1) for 'bce'."""
    if kind == "mse":
        return _randn(batch, width, generator=generator), _randn(batch, width, generator=generator)
    y_hat = torch.sigmoid(_randn(batch, width, generator=generator))
    return y_hat, torch.rand(batch, width, dtype=DTYPE, generator=generator)


def check_loss(kind: str, batch: int, width: int, generator: torch.Generator) -> LayerGradients:
    """``MSELoss`` or ``BCELoss``: dJ/dy_hat against ``F.mse_loss`` / ``F.binary_cross_entropy``."""
    loss = {"mse": MSELoss, "bce": BCELoss}[kind]()
    y_hat, y = loss_inputs(kind, batch, width, generator)
    loss.forward(y_hat, y)
    analytic = {"y_hat": loss.backward()}
    reference = _autograd(lambda y_hat: REFERENCE_LOSSES[kind](y_hat, y), {"y_hat": y_hat})

    def value():
        loss.eval()
        return loss.forward(y_hat, y)
    return LayerGradients(f"{type(loss).__name__}, batch {batch}", analytic, reference,
                          *_numerical(value, {"y_hat": y_hat}))


def check_layers_mlp(batch: int, d_in: int, hid_dim: int, d_out: int, generator: torch.Generator) -> LayerGradients:
    """The course ``MLP`` under MSE, against its ``nn.Sequential`` twin: dL/dX and every parameter."""
    model = MLP(d_in, d_out, hid_dim, lr=0.0, dtype=DTYPE, generator=generator)
    x, y = _randn(batch, d_in, generator=generator), _randn(batch, d_out, generator=generator)
    twin = torch_twin(model)
    loss_fn = MSELoss()
    loss_fn.forward(model.forward(x), y)
    analytic = {"X": model.backward(loss_fn.backward())}
    for name in ("layer1", "layer2", "layer3"):
        layer = getattr(model, name)
        analytic.update({f"{name}.weight": layer.grad_weight, f"{name}.bias": layer.grad_bias})
    x_leaf = x.clone().requires_grad_(True)
    F.mse_loss(twin(x_leaf), y).backward()
    reference = {"X": x_leaf.grad}
    for name, twin_layer in zip(("layer1", "layer2", "layer3"), twin[::2]):
        reference.update({f"{name}.weight": twin_layer.weight.grad.t(), f"{name}.bias": twin_layer.bias.grad})

    def value():
        model.eval()
        out = loss_fn.forward(model.forward(x), y)
        model.train()
        return out
    tensors = {"X": x, **model.parameters()}
    return LayerGradients(f"MLP({d_in}, {d_out}, {hid_dim}), batch {batch}", analytic, reference,
                          *_numerical(value, tensors))


def nyu_reference(net: nyu.MLP, x: torch.Tensor, y: torch.Tensor, loss: str) -> dict[str, torch.Tensor]:
    """Autograd gradients (``dJdW1`` ...) of the NYU network's loss, built from ``F.linear`` and torch ops."""
    f, g = REFERENCE_ACTIVATIONS[net.f_function], REFERENCE_ACTIVATIONS[net.g_function]

    def objective(W1, b1, W2, b2):
        y_hat = g(F.linear(f(F.linear(x, W1, b1)), W2, b2))
        return REFERENCE_LOSSES[loss](y_hat, y)
    grads = _autograd(objective, net.parameters)
    return {f"dJd{name}": grad for name, grad in grads.items()}


def check_nyu(f_function: str, g_function: str, loss: str, batch: int, sizes: tuple[int, int, int],
              generator: torch.Generator) -> LayerGradients:
    """The NYU ``MLP`` with activations ``f``, ``g`` under ``mse_loss`` or ``bce_loss`` (needs g = sigmoid)."""
    in1, hidden, out2 = sizes
    net = nyu.MLP(in1, hidden, f_function, hidden, out2, g_function, dtype=DTYPE, generator=generator)
    x = _randn(batch, in1, generator=generator)
    y = loss_inputs(loss, batch, out2, generator)[1]
    loss_fn = {"mse": nyu.mse_loss, "bce": nyu.bce_loss}[loss]
    net.clear_grad_and_cache()
    _, dJdy_hat = loss_fn(y, net.forward(x))
    net.backward(dJdy_hat)
    analytic = dict(net.grads)
    objective = lambda: loss_fn(y, net.forward(x))[0]  # noqa: E731 - re-evaluated at perturbed parameters
    numerical = {f"dJd{name}": numerical_gradient(objective, p) for name, p in net.parameters.items()}
    return LayerGradients(f"f={f_function}, g={g_function}, {loss}", analytic,
                          nyu_reference(net, x, y, loss), numerical, float(objective()))


def entry_table(check: LayerGradients, per_tensor: int = 2) -> str:
    """cs231n style: a few entries of each gradient, analytic next to numerical, and the verdict.

    Values are rounded to 4 significant digits; each entry's relative error (round-off level, so it varies
    between machines) is shown as its verdict under the policy of :mod:`helpers.gradcheck`.
    """
    lines = [f"{'entry':<12}  {'analytic':>11}  {'numerical':>11}  relative error"]
    for name, analytic in check.analytic.items():
        numerical = check.numerical[name]
        floor = error_floor(numerical, check.f_value)
        for i in range(min(per_tensor, analytic.numel())):
            a, n = analytic.reshape(-1)[i].item(), numerical.reshape(-1)[i].item()
            error = abs(a - n) / max(abs(a) + abs(n), floor)
            index = tuple(int(k) for k in np.unravel_index(i, tuple(analytic.shape)))
            lines.append(f"{name + str(list(index)):<12}  {a:>11.4g}  {n:>11.4g}  "
                         f"{verdict(error, FINITE_DIFFERENCE_TOLERANCE)}")
    return "\n".join(lines)


def summary_table(checks: list[LayerGradients]) -> str:
    """One line per check, verdicts only (raw round-off errors vary between machines)."""
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  {'vs autograd':<13}  vs central differences"]
    for c in checks:
        auto = verdict(c.max_error("autograd"), AUTOGRAD_TOLERANCE)
        num = verdict(c.max_error("numerical"), FINITE_DIFFERENCE_TOLERANCE)
        lines.append(f"{c.name:<{width}}  {auto:<13}  {num}")
    return "\n".join(lines)
