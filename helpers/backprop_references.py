"""The stand-ins of notebook 02's backward-pass exercises, computed by torch (autograd, ``torch.optim``).

While an exercise is a stub, :func:`helpers.runtime.exercises.reference_until_done` hands its callers the
function of the same name here; the exercise checks (:mod:`helpers.checks.exercises_mlp`) compare the
student's code with them. Each is computed another way than the exercise: autograd's vector-Jacobian product of a
forward written with torch's own ops, or ``torch.optim.SGD``. They live apart from :mod:`helpers.functional`,
:mod:`helpers.layers` and :mod:`helpers.mlp` so that those stay free of autograd, as the courses ask.
Shapes: each takes and returns what the exercise function of the same name does.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.optim.sgd import sgd as torch_sgd_function

# torch's own activations (never this package's math)
TORCH_ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda t: t}


def vjp(function, inputs: tuple, upstream: torch.Tensor) -> tuple:
    """Autograd's vector-Jacobian product: the gradients of ``(function(*inputs) * upstream).sum()`` with respect
    to each input (shapes of the inputs; ``upstream`` shaped like the output), also under ``torch.no_grad``."""
    leaves = tuple(tensor.detach().clone().requires_grad_(True) for tensor in inputs)
    with torch.enable_grad():
        output = function(*leaves)
    return torch.autograd.grad(output, leaves, upstream)


def linear_backward(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, input_grad: bool = True):
    """grad_out (N, d_out), x (N, d_in), weight (d_in, d_out) -> (grad_x or None, grad_weight, grad_bias)."""
    bias = torch.zeros(weight.shape[1], dtype=weight.dtype, device=weight.device)
    grad_x, grad_weight, grad_bias = vjp(lambda x, w, b: x @ w + b, (x, weight, bias), grad_out)
    return (grad_x if input_grad else None), grad_weight, grad_bias


def linear_backward_loops(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor):
    """As :func:`linear_backward` (its loop version returns all three gradients)."""
    return linear_backward(grad_out, x, weight)


def relu_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``torch.relu`` at x = y (relu(y) = y where y >= 0, and the same 0 at the kink)."""
    return vjp(torch.relu, (y,), grad_y)[0]


def sigmoid_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``torch.sigmoid`` at x = logit(y)."""
    return vjp(torch.sigmoid, (torch.logit(y),), grad_y)[0]


def tanh_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``torch.tanh`` at x = atanh(y)."""
    return vjp(torch.tanh, (torch.atanh(y),), grad_y)[0]


def mse_backward(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``F.mse_loss`` (mean over all elements)."""
    return vjp(lambda prediction: F.mse_loss(prediction, y), (y_hat,), torch.ones((), dtype=y_hat.dtype))[0]


def bce_backward(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``F.binary_cross_entropy`` (mean over all elements; torch clamps as :func:`helpers.functional.bce`)."""
    return vjp(lambda prediction: F.binary_cross_entropy(prediction, y), (y_hat,),
               torch.ones((), dtype=y_hat.dtype))[0]


def torch_sgd(parameters: list[torch.Tensor], gradients: list[torch.Tensor], lr: float) -> None:
    """One plain SGD step in place, by ``torch.optim.sgd.sgd``: the function ``torch.optim.SGD.step`` runs
    (no momentum, no weight decay), called directly so that no optimiser object (and its one-off import of
    torch's compiler, seconds on a busy CPU) is needed. Shapes: each gradient like its parameter."""
    torch_sgd_function(parameters, gradients, [None] * len(parameters), weight_decay=0.0, momentum=0.0, lr=lr,
                        dampening=0.0, nesterov=False, maximize=False)


def sgd_step(layer) -> None:
    """``Linear.sgd_step`` by torch's SGD on the layer's weight (d_in, d_out) and bias (d_out,), in place."""
    torch_sgd([layer.weight, layer.bias], [layer.grad_weight, layer.grad_bias], layer.lr)


def _nyu_forward(net, x: torch.Tensor, **parameters: torch.Tensor) -> dict[str, torch.Tensor]:
    """The NYU net's forward pass with ``F.linear`` and torch's activations: the cache's tensors by name."""
    f, g = TORCH_ACTIVATIONS[net.f_function], TORCH_ACTIVATIONS[net.g_function]
    z1 = F.linear(x, parameters["W1"], parameters["b1"])
    h = f(z1)
    z2 = F.linear(h, parameters["W2"], parameters["b2"])
    return dict(x=x, z1=z1, h=h, z2=z2, y_hat=g(z2))


def mlp_forward(net, x: torch.Tensor) -> torch.Tensor:
    """``mlp.MLP.forward``: x (batch, in1) -> y_hat (batch, out2), cache and record kept as the exercise does."""
    net._check_input(x)
    cache = _nyu_forward(net, x, **net.parameters)
    net._keep(cache)
    return cache["y_hat"]


def mlp_backward(net, dJdy_hat: torch.Tensor) -> None:
    """``mlp.MLP.backward``: vjp of the torch forward at the cached input; fills ``net.grads``."""
    net._check_backward(dJdy_hat)
    names = ("W1", "b1", "W2", "b2")

    def y_hat(*values):
        return _nyu_forward(net, net.cache["x"], **dict(zip(names, values)))["y_hat"]
    gradients = vjp(y_hat, tuple(net.parameters[name] for name in names), dJdy_hat)
    net.grads.update({f"dJd{name}": gradient for name, gradient in zip(names, gradients)})
