"""Stand-ins for notebook 00's exercises written in notebook cells, while they are not done.

A stand-in for an undone exercise uses the library tool the exercise replaces (:mod:`helpers.runtime.exercises`):
``fit_line`` (0.1) writes the gradient-descent update itself, so its stand-in is ``torch.optim.SGD`` (which
exercise 0.1 refuses: the stand-in is no answer); the derivations by hand (0.4, 0.5, 0.7) are replaced by torch
autograd of the plain formula (which those exercises refuse). The notebook's first cell imports these four; the
checks (:mod:`helpers.checks.exercises_scalar_notebook`) compare with them. Under a check's
``forbid=("references",)`` the student's code may not call them.
"""
from __future__ import annotations

import torch

TWO_NEURON_NAMES = {"y": "y", "w1": "w₁", "x": "x", "b1": "b₁", "w2": "w₂", "b2": "b₂", "lam": "λ"}


def fit_line_reference(x: torch.Tensor, y: torch.Tensor, steps: int = 100, learning_rate: float = 0.01,
                       zero_grad: bool = True, *, reduction: str = "mean", ascent: bool = False):
    """The stand-in for the notebook's ``fit_line``: ``torch.optim.SGD`` on the mean squared error of
    ŷ = Wx + b from W = 0.3, b = -0.3 (tensors of x's dtype and device), the loss recorded before every step.

    Shapes: x, y (N,); returns W, b (0-dim leaf tensors that require grad) and a list of ``steps`` floats.
    ``zero_grad=False`` lets the gradients accumulate; ``reduction``/``ascent`` make the checks' mistakes.
    """
    W = torch.tensor(0.3, dtype=x.dtype, device=x.device, requires_grad=True)
    b = torch.tensor(-0.3, dtype=x.dtype, device=x.device, requires_grad=True)
    optimizer = torch.optim.SGD([W, b], lr=learning_rate, maximize=ascent)
    losses = []
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(W * x + b, y, reduction=reduction)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return W, b, losses


# ---- the plain formulas, and torch autograd of them ------------------------------------------------------------

def line_loss(w, x, b, y):
    """L = [(wx + b) - y]² (CS475 task 1)."""
    return ((w * x + b) - y) ** 2


def exp_log(x, b, w):
    """f = (w·exp(bx) + ln(wx))·b (CS475 task 2)."""
    return (w * torch.exp(b * x) + torch.log(w * x)) * b


def two_neurons(y, w1, x, b1, w2, b2, lam):
    """f = (y - σ(w₂σ(w₁x + b₁) + b₂))² + λ(w₁² + w₂²) (CS475 task 5)."""
    return (y - torch.sigmoid(w2 * torch.sigmoid(w1 * x + b1) + b2)) ** 2 + lam * (w1 ** 2 + w2 ** 2)


def autograd_floats(function, **inputs) -> dict[str, float]:
    """{input name: ∂function/∂input} by torch autograd in float64 at the point ``inputs`` (floats in and out)."""
    leaves = {name: torch.tensor(float(value), dtype=torch.float64, requires_grad=True)
              for name, value in inputs.items()}
    gradients = torch.autograd.grad(function(**leaves), list(leaves.values()), allow_unused=True,
                                    materialize_grads=True)
    return {name: gradient.item() for name, gradient in zip(leaves, gradients)}


def line_loss_reference(w, x, b, y) -> dict:
    """Torch autograd's {"w", "x", "b", "y": ∂L/∂input} of L = [(wx + b) - y]² (floats in and out)."""
    return autograd_floats(line_loss, w=w, x=x, b=b, y=y)


def exp_log_reference(x, b, w) -> dict:
    """Torch autograd's {"x", "b", "w": ∂f/∂input} of f = (w·exp(bx) + ln(wx))·b (floats in and out)."""
    return autograd_floats(exp_log, x=x, b=b, w=w)


def two_neuron_reference(values) -> dict:
    """Torch autograd's {name: ∂f/∂name} of the two-neuron loss with weight decay (floats by name, as
    ``two_neuron_gradients`` takes and returns them)."""
    by_argument = {argument: values[name] for argument, name in TWO_NEURON_NAMES.items()}
    return {TWO_NEURON_NAMES[k]: v for k, v in autograd_floats(two_neurons, **by_argument).items()}
