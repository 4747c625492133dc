"""Gradient checks for :mod:`helpers.layers` and :mod:`helpers.mlp`, in float64.

Every check returns a :class:`GradientCheck`: the hand-written (analytic) gradients, autograd's, and
central differences (:func:`helpers.gradcheck.numerical_gradient`) of the same scalar. A layer is
checked through ``L = sum(out * G)`` with a random upstream gradient ``G``, so ``backward(G)`` must
return exactly dL/dx. The reference computations use torch's own ops (``torch.relu``,
``F.mse_loss``, ``F.binary_cross_entropy``, ``nn.Linear`` ...), never this package's math.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from helpers import mlp as nyu
from helpers.gradcheck import DEFAULT_EPS, GradCheckRow, compare_gradients, numerical_gradient
from helpers.layers import BCELoss, Identity, Layer, Linear, MLP, MSELoss, ReLU, Sigmoid, Tanh
from helpers.experiments.rainfall_fit import torch_twin

AUTOGRAD_TOLERANCE = 1e-10
NUMERICAL_TOLERANCE = 1e-6
SCALE_FLOOR = 1e-3
"""Relative errors divide by ``max(|a| + |n|, SCALE_FLOOR * max |n|)`` over the tensor: an entry a
thousand times smaller than the tensor's largest (often a near-cancelling sum over the batch) is
judged by its absolute error at the tensor's scale, not by a ratio of two round-off-sized numbers."""
FINITE_DIFFERENCE_STEP = 1e-5
DTYPE = torch.float64

TORCH_ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda t: t}
LAYER_CLASSES = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "identity": Identity}
TORCH_LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}


@dataclass
class GradientCheck:
    """Analytic, autograd and central-difference gradients of one scalar, by tensor name."""
    name: str
    analytic: dict[str, torch.Tensor]
    autograd: dict[str, torch.Tensor]
    numerical: dict[str, torch.Tensor]

    def rows(self, reference: str) -> list[GradCheckRow]:
        """Errors of the analytic gradients against ``'autograd'`` or ``'numerical'`` (see SCALE_FLOOR)."""
        references = getattr(self, reference)
        return [compare_gradients({name: a}, {name: references[name]}, eps=scaled_floor(references[name]))[0]
                for name, a in self.analytic.items()]

    def max_error(self, reference: str) -> float:
        return max(row.max_relative_error for row in self.rows(reference))

    @property
    def passed(self) -> bool:
        return (self.max_error("autograd") <= AUTOGRAD_TOLERANCE
                and self.max_error("numerical") <= NUMERICAL_TOLERANCE)


def scaled_floor(reference: torch.Tensor) -> float:
    """The denominator floor of a tensor's relative errors: SCALE_FLOOR times its largest magnitude."""
    scale = reference.detach().abs().max().item() if reference.numel() else 0.0
    return max(DEFAULT_EPS, SCALE_FLOOR * scale)


def _randn(*shape, generator):
    return torch.randn(*shape, dtype=DTYPE, generator=generator)


def away_from_kinks(x: torch.Tensor, margin: float = 1e-3) -> torch.Tensor:
    """``x`` with entries closer than ``margin`` to 0 pushed out to ``±margin`` (ReLU's kink)."""
    return torch.where(x.abs() < margin, torch.where(x < 0, -margin, margin), x)


def _autograd(f, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    leaves = {name: t.detach().clone().requires_grad_(True) for name, t in tensors.items()}
    f(**leaves).backward()
    return {name: leaf.grad for name, leaf in leaves.items()}


def _numerical(f, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: numerical_gradient(f, t, FINITE_DIFFERENCE_STEP) for name, t in tensors.items()}


def _layer_loss(layer: Layer, x: torch.Tensor, upstream: torch.Tensor):
    """``L = sum(layer(x) * G)`` with the layer in eval mode (a pure function of x and the parameters)."""
    def loss():
        layer.eval()
        out = layer.forward(x)
        layer.train()
        return (out * upstream).sum()
    return loss


def check_linear(batch: int, d_in: int, d_out: int, generator: torch.Generator) -> GradientCheck:
    """``Linear`` (lr = 0, so backward leaves the parameters alone): dL/dx, dL/dweight, dL/dbias."""
    layer = Linear(d_in, d_out, lr=0.0, dtype=DTYPE, generator=generator)
    x, upstream = _randn(batch, d_in, generator=generator), _randn(batch, d_out, generator=generator)
    layer.forward(x)
    analytic = {"x": layer.backward(upstream), "weight": layer.grad_weight, "bias": layer.grad_bias}
    tensors = {"x": x, "weight": layer.weight, "bias": layer.bias}
    reference = _autograd(lambda x, weight, bias: ((x @ weight + bias) * upstream).sum(), tensors)
    return GradientCheck(f"Linear({d_in}, {d_out}), batch {batch}", analytic, reference,
                         _numerical(_layer_loss(layer, x, upstream), tensors))


def check_activation(kind: str, batch: int, width: int, generator: torch.Generator) -> GradientCheck:
    """An activation layer ('relu', 'sigmoid', 'tanh', 'identity'): dL/dx."""
    layer = LAYER_CLASSES[kind]()
    x = away_from_kinks(_randn(batch, width, generator=generator))
    upstream = _randn(batch, width, generator=generator)
    layer.forward(x)
    analytic = {"x": layer.backward(upstream)}
    reference = _autograd(lambda x: (TORCH_ACTIVATIONS[kind](x) * upstream).sum(), {"x": x})
    return GradientCheck(f"{type(layer).__name__}, batch {batch}", analytic, reference,
                         _numerical(_layer_loss(layer, x, upstream), {"x": x}))


def loss_inputs(kind: str, batch: int, width: int, generator: torch.Generator):
    """Predictions and targets for a loss: any reals for 'mse'; probabilities in (0, 1) for 'bce'."""
    if kind == "mse":
        return _randn(batch, width, generator=generator), _randn(batch, width, generator=generator)
    y_hat = torch.sigmoid(_randn(batch, width, generator=generator))
    return y_hat, torch.rand(batch, width, dtype=DTYPE, generator=generator)


def check_loss(kind: str, batch: int, width: int, generator: torch.Generator) -> GradientCheck:
    """``MSELoss`` or ``BCELoss``: dJ/dy_hat against ``F.mse_loss`` / ``F.binary_cross_entropy``."""
    loss = {"mse": MSELoss, "bce": BCELoss}[kind]()
    y_hat, y = loss_inputs(kind, batch, width, generator)
    loss.forward(y_hat, y)
    analytic = {"y_hat": loss.backward()}
    reference = _autograd(lambda y_hat: TORCH_LOSSES[kind](y_hat, y), {"y_hat": y_hat})

    def value():
        loss.eval()
        return loss.forward(y_hat, y)
    return GradientCheck(f"{type(loss).__name__}, batch {batch}", analytic, reference,
                         _numerical(value, {"y_hat": y_hat}))


def check_layers_mlp(batch: int, d_in: int, hid_dim: int, d_out: int, generator: torch.Generator) -> GradientCheck:
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
    return GradientCheck(f"MLP({d_in}, {d_out}, {hid_dim}), batch {batch}", analytic, reference,
                         _numerical(value, tensors))


def nyu_reference(net: nyu.MLP, x: torch.Tensor, y: torch.Tensor, loss: str) -> dict[str, torch.Tensor]:
    """Autograd gradients (``dJdW1`` ...) of the NYU network's loss, built from ``F.linear`` and torch ops."""
    f, g = TORCH_ACTIVATIONS[net.f_function], TORCH_ACTIVATIONS[net.g_function]

    def objective(W1, b1, W2, b2):
        y_hat = g(F.linear(f(F.linear(x, W1, b1)), W2, b2))
        return TORCH_LOSSES[loss](y_hat, y)
    grads = _autograd(objective, net.parameters)
    return {f"dJd{name}": grad for name, grad in grads.items()}


def check_nyu(f_function: str, g_function: str, loss: str, batch: int, sizes: tuple[int, int, int],
              generator: torch.Generator) -> GradientCheck:
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
    numerical = {f"dJd{name}": numerical_gradient(lambda: loss_fn(y, net.forward(x))[0], p, FINITE_DIFFERENCE_STEP)
                 for name, p in net.parameters.items()}
    return GradientCheck(f"f={f_function}, g={g_function}, {loss}", analytic,
                         nyu_reference(net, x, y, loss), numerical)


def entry_table(check: GradientCheck, per_tensor: int = 2) -> str:
    """cs231n style: a few entries of each gradient, analytic next to numerical, and the verdict.

    Values are rounded to 4 significant digits; the relative error (at round-off level, so it varies
    between machines) is shown as a pass/fail against its tolerance.
    """
    lines = [f"{'entry':<12}  {'analytic':>11}  {'numerical':>11}  {'relative error':>16}"]
    for name, analytic in check.analytic.items():
        numerical = check.numerical[name]
        floor = scaled_floor(numerical)
        for i in range(min(per_tensor, analytic.numel())):
            a, n = analytic.reshape(-1)[i].item(), numerical.reshape(-1)[i].item()
            error = abs(a - n) / max(abs(a) + abs(n), floor)
            verdict = f"<= {NUMERICAL_TOLERANCE:.0e}: " + ("ok" if error <= NUMERICAL_TOLERANCE else "FAIL")
            index = tuple(int(k) for k in np.unravel_index(i, tuple(analytic.shape)))
            lines.append(f"{name + str(list(index)):<12}  {a:>11.4g}  {n:>11.4g}  {verdict:>16}")
    return "\n".join(lines)


def summary_table(checks: list[GradientCheck]) -> str:
    """One line per check, verdicts only (raw round-off errors vary between machines)."""
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  {'vs autograd':>18}  {'vs central diff.':>18}"]
    for c in checks:
        auto = "ok" if c.max_error("autograd") <= AUTOGRAD_TOLERANCE else "FAIL"
        num = "ok" if c.max_error("numerical") <= NUMERICAL_TOLERANCE else "FAIL"
        lines.append(f"{c.name:<{width}}  {f'<= {AUTOGRAD_TOLERANCE:.0e}: ' + auto:>18}  "
                     f"{f'<= {NUMERICAL_TOLERANCE:.0e}: ' + num:>18}")
    return "\n".join(lines)
