"""The math of the hand-written layers, each op's backward right below its forward (no autograd).

Shared by the layer classes of :mod:`helpers.layers` (CSE 849) and the NYU API of :mod:`helpers.mlp`.
Shapes are batch-first: ``x`` is (batch, d_in); weights follow the course's ``W ∈ R^{d_in × d_out}``, so
``out = x @ weight + bias``. Every backward takes the upstream gradient dL/d(output) and returns dL/d(input);
the loss carries the ``1/N`` of its mean, so linear layers sum over the batch and never divide.
"""
from __future__ import annotations

import math

import torch

from helpers import backprop_references as reference
from helpers.runtime.exercises import reference_until_done
from helpers.runtime.validation import check_tensor

LOG_CLAMP = -100.0
"""``torch.nn.BCELoss`` clamps each log at -100, so a saturated sigmoid gives a finite loss."""
BCE_EPSILON = torch.tensor(1e-12, dtype=torch.float32).item()
"""``torch.nn.BCELoss``'s backward clamps the divisor of its gradient from below at 1e-12 (no 0/0), with 1e-12
held as a float32 (9.99999996e-13); the same constant gives bit-identical gradients."""
BIAS_INIT_STD = 0.01


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ weight + bias``: x (N, d_in), weight (d_in, d_out), bias (d_out,) -> (N, d_out)."""
    return torch.addmm(bias, x, weight)


@reference_until_done(reference.linear_backward, "autograd of the linear layer")
def linear_backward(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, input_grad: bool = True):
    """Exercise 2.1: the gradients of ``out = x @ weight + bias`` given ``grad_out`` = dL/d(out), (N, d_out).

    x: (N, d_in), weight: (d_in, d_out). Returns ``(grad_x (N, d_in) or None when not input_grad,
    grad_weight (d_in, d_out), grad_bias (d_out,))``, vectorised (no Python loops). The 1/N of a mean
    belongs to the loss: the layer divides by nothing.
    """
    ### BEGIN SOLUTION
    grad_x = grad_out.mm(weight.t()) if input_grad else None
    grad_weight = x.t().mm(grad_out)
    grad_bias = grad_out.sum(0)
    ### END SOLUTION
    return grad_x, grad_weight, grad_bias


@reference_until_done(reference.linear_backward_loops, "autograd of the linear layer")
def linear_backward_loops(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor):
    """Exercise 2.1, first part: :func:`linear_backward` one scalar at a time (the course's first tip: loops
    first, vectorise after). grad_out (N, d_out), x (N, d_in), weight (d_in, d_out).

    Each entry ``Z[n, j] = sum_i x[n, i] W[i, j] + b[j]`` adds its chain-rule terms to the three gradients,
    one Python loop per index. Slow: for checking the vectorised form on small sizes. Returns
    ``(grad_x (N, d_in), grad_weight (d_in, d_out), grad_bias (d_out,))``.
    """
    check_tensor("linear_backward_loops x", x, (None, None))
    batch, d_in = x.shape
    check_tensor("linear_backward_loops weight", weight, (d_in, None), x.dtype, x.device)
    d_out = weight.shape[1]
    check_tensor("linear_backward_loops grad_out", grad_out, (batch, d_out), x.dtype, x.device)
    grad_x, grad_weight = torch.zeros_like(x), torch.zeros_like(weight)
    grad_bias = torch.zeros(d_out, dtype=x.dtype, device=x.device)
    ### BEGIN SOLUTION
    for n in range(batch):
        for j in range(d_out):
            g = grad_out[n, j]  # dL/dZ[n, j]
            grad_bias[j] += g  # dZ[n, j]/db[j] = 1
            for i in range(d_in):
                grad_weight[i, j] += g * x[n, i]  # dZ[n, j]/dW[i, j] = x[n, i]
                grad_x[n, i] += g * weight[i, j]  # dZ[n, j]/dx[n, i] = W[i, j]
    ### END SOLUTION
    return grad_x, grad_weight, grad_bias


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0), element-wise."""
    return torch.relu(x)


@reference_until_done(reference.relu_backward, "autograd of torch.relu")
def relu_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.2: dL/dx from dL/dy and the output y = relu(x), both of any shape (the same).

    At the kink (x = 0, so y = 0) the derivative is taken as 0, as in PyTorch.
    """
    ### BEGIN SOLUTION
    # The local derivative 1[x > 0] equals sign(y) because y = relu(x) >= 0; one fast kernel, no bool mask.
    return grad_y * y.sign()
    ### END SOLUTION


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-x)), element-wise (torch's version never overflows)."""
    return torch.sigmoid(x)


@reference_until_done(reference.sigmoid_backward, "autograd of torch.sigmoid")
def sigmoid_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.2: dL/dx from dL/dy and the output y = sigmoid(x) alone (x is not kept); same shapes."""
    ### BEGIN SOLUTION
    return grad_y * (1 - y) * y
    ### END SOLUTION


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x), element-wise."""
    return torch.tanh(x)


@reference_until_done(reference.tanh_backward, "autograd of torch.tanh")
def tanh_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.2: dL/dx from dL/dy and the output y = tanh(x) alone (x is not kept); same shapes."""
    ### BEGIN SOLUTION
    return grad_y * (1 - y * y)
    ### END SOLUTION


def identity(x: torch.Tensor) -> torch.Tensor:
    """x itself (a linear output layer)."""
    return x


def identity_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dx = dL/dy."""
    return grad_y


ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "identity": (identity, identity_backward),
}
"""name -> (function, backward(grad_y, y)); every backward needs only the activation's output."""


def mse(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements (a 0-dim tensor), as ``F.mse_loss``."""
    diff = y_hat - y
    return (diff * diff).mean()


@reference_until_done(reference.mse_backward, "autograd of F.mse_loss")
def mse_backward(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.3: dJ/dy_hat of :func:`mse` (the mean over all N elements). y_hat, y: same shape -> that shape."""
    ### BEGIN SOLUTION
    return (y_hat - y) * (2.0 / y_hat.numel())
    ### END SOLUTION


def bce(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy -[y log y_hat + (1-y) log(1-y_hat)], logs clamped at -100 like torch."""
    log_p = torch.log(y_hat).clamp_min(LOG_CLAMP)
    log_not_p = torch.log1p(-y_hat).clamp_min(LOG_CLAMP)
    return ((y - 1) * log_not_p - y * log_p).mean()


@reference_until_done(reference.bce_backward, "autograd of F.binary_cross_entropy")
def bce_backward(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.3: dJ/dy_hat of :func:`bce` (mean over all N elements). y_hat, y: same shape -> that shape.

    Where y_hat is exactly 0 or 1 the derivative divides by zero: clamp that divisor from below at
    :data:`BCE_EPSILON`, as ``torch.nn.BCELoss`` does, so the result equals torch's bit for bit.
    """
    ### BEGIN SOLUTION
    return (y_hat - y) / ((1 - y_hat) * y_hat).clamp_min(BCE_EPSILON) / y_hat.numel()
    ### END SOLUTION


def init_weight(d_in: int, d_out: int, dtype=None, device=None, generator=None) -> torch.Tensor:
    """He initialisation, N(0, 2/d_in), shape (d_in, d_out): keeps activations' scale through ReLUs.

    Drawn on the CPU (``generator``, if given, is a CPU generator) and then moved to ``device``, so a
    seed gives the same initial weights on every device.
    """
    weight = torch.randn(d_in, d_out, dtype=dtype, generator=generator).mul_(math.sqrt(2.0 / d_in))
    return weight.to(device)


def init_bias(d_out: int, dtype=None, device=None, generator=None) -> torch.Tensor:
    """N(0, 0.01^2), shape (d_out,): small offsets, so early steps are driven by the data (CPU draw, as above)."""
    return torch.randn(d_out, dtype=dtype, generator=generator).mul_(BIAS_INIT_STD).to(device)
