"""Custom ``torch.autograd.Function``s: a forward, a hand-written backward, and double backward.

* :func:`sin_over_x` — sin(x)/x with its removable singularity: value 1 and derivative 0 at x = 0,
  and a Taylor branch for |x| < 0.5 where the closed-form derivative would cancel catastrophically.
* :func:`quadratic_form` — f(x, y) = a x² + b x y + c y².
* :func:`softplus` — ln(1 + eˣ) = max(x, 0) + ln(1 + e^-|x|), finite for every float.
* :func:`sigmoid` — σ(x), finite for every float; its backward is written with Functions of this module, so
  derivatives of any order work (``create_graph=True``).

The backward passes are exercises 0.8–0.10 (notebook 00b §2).

Every backward is written with differentiable torch operations on the saved inputs, so autograd can
differentiate the backward itself (``gradgradcheck``). All functions work element-wise on tensors of
any shape; the wrappers check their inputs and say what they expected.
"""
from __future__ import annotations

import math
import numbers

import torch


# Below this |x|, sin(x)/x and its derivative come from their Taylor series: at |x| = 0.5 the
# derivative's closed form has lost ~3·eps/x² ≈ 1e-15 relative to cancellation, while the series,
# truncated after SINC_TAYLOR_TERMS terms, is exact to ~1e-20 relative.
SINC_TAYLOR_THRESHOLD = 0.5
SINC_TAYLOR_TERMS = 9
# sin(x)/x = Σ_k (-1)^k x^(2k) / (2k+1)!, and its term-by-term derivative divided by x.
_VALUE_COEFFICIENTS = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(SINC_TAYLOR_TERMS))
_SLOPE_COEFFICIENTS = tuple((-1) ** k * 2 * k / math.factorial(2 * k + 1) for k in range(1, SINC_TAYLOR_TERMS + 1))


def _series_in_x_squared(x: torch.Tensor, coefficients: tuple[float, ...]) -> torch.Tensor:
    """Σ_k c_k (x²)^k by Horner's rule (differentiable torch operations)."""
    x2 = x * x
    total = torch.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        total = total * x2 + c
    return total


def _split_at_zero(x: torch.Tensor):
    """(mask of the Taylor branch, x with that branch replaced by 1).

    The closed-form branch is evaluated on the safe copy, so it never computes 0/0: torch.where
    passes a zero gradient to the branch it does not select, but 0·nan would still be nan.
    """
    near_zero = x.abs() < SINC_TAYLOR_THRESHOLD
    return near_zero, torch.where(near_zero, torch.ones_like(x), x)


def sin_over_x_value(x: torch.Tensor) -> torch.Tensor:
    """sin(x)/x element-wise, 1 at 0 (differentiable torch operations, no custom backward)."""
    near_zero, safe = _split_at_zero(x)
    return torch.where(near_zero, _series_in_x_squared(x, _VALUE_COEFFICIENTS), torch.sin(safe) / safe)


def sin_over_x_derivative(x: torch.Tensor) -> torch.Tensor:
    """d/dx sin(x)/x element-wise (exercise 0.8): the closed form away from 0, the Taylor series
    (``_SLOPE_COEFFICIENTS``) where |x| < 0.5, 0 at 0; differentiable torch operations. Shape of x."""
    near_zero, safe = _split_at_zero(x)
    ### BEGIN SOLUTION
    closed_form = (safe * torch.cos(safe) - torch.sin(safe)) / (safe * safe)  # (x cos x - sin x)/x²
    series = x * _series_in_x_squared(x, _SLOPE_COEFFICIENTS)
    ### END SOLUTION
    return torch.where(near_zero, series, closed_form)


class SinOverX(torch.autograd.Function):
    """y = sin(x)/x, with y(0) = 1 and y'(0) = 0 (the limits)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return sin_over_x_value(x)

    @staticmethod
    def backward(ctx, grad_output):
        """grad_output × dy/dx (exercise 0.8); shape of x."""
        (x,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return grad_output * sin_over_x_derivative(x)
        ### END SOLUTION


class QuadraticForm(torch.autograd.Function):
    """f = a x² + b x y + c y² for number coefficients a, b, c (no gradient w.r.t. them)."""

    @staticmethod
    def forward(ctx, x, y, a, b, c):
        ctx.save_for_backward(x, y)
        ctx.coefficients = (a, b, c)
        return a * x * x + b * x * y + c * y * y

    @staticmethod
    def backward(ctx, grad_output):
        """(∂f/∂x, ∂f/∂y) × grad_output, each of x's shape, None where an input needs no gradient, and None
        for a, b, c (exercise 0.9)."""
        x, y = ctx.saved_tensors
        a, b, c = ctx.coefficients
        grad_x = grad_y = None
        ### BEGIN SOLUTION
        if ctx.needs_input_grad[0]:
            grad_x = grad_output * (2 * a * x + b * y)
        if ctx.needs_input_grad[1]:
            grad_y = grad_output * (b * x + 2 * c * y)
        ### END SOLUTION
        return grad_x, grad_y, None, None, None


def stable_logistic(x: torch.Tensor) -> torch.Tensor:
    """1/(1 + e^-x) element-wise with plain torch operations, never exponentiating a large positive number
    (each branch is evaluated on a copy that keeps the other's exponent ≤ 0). Shape of x."""
    positive = x >= 0
    e = torch.exp(torch.where(positive, -x, x))  # in (0, 1]
    return torch.where(positive, 1 / (1 + e), e / (1 + e))


class Sigmoid(torch.autograd.Function):
    """σ(x) = 1/(1 + e^-x), computed without overflow, with a backward differentiable to any order and
    accurate where 1 - σ(x) rounds to 0 (x ≳ 37 in float64)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return stable_logistic(x)

    @staticmethod
    def backward(ctx, grad_output):
        """grad_output × σ'(x) (exercise 0.10); shape of x."""
        (x,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        # σ' = σ(1 - σ) = σ(x)σ(-x): no cancellation, and Sigmoid again, so differentiable to any order.
        return grad_output * Sigmoid.apply(x) * Sigmoid.apply(-x)
        ### END SOLUTION


class Softplus(torch.autograd.Function):
    """softplus(x) = ln(1 + eˣ) = max(x, 0) + ln(1 + e^-|x|): finite for every finite x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad_output):
        """grad_output × d/dx ln(1 + eˣ) (exercise 0.10), differentiable to any order; shape of x."""
        (x,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return grad_output * Sigmoid.apply(x)
        ### END SOLUTION


# ---- checked entry points ---------------------------------------------------------------------

def _check_tensor(x, function: str, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{function} expects {name} to be a torch.Tensor, got {type(x).__name__}; "
                        f"wrap it with torch.tensor(..., dtype=torch.float64)")
    if not x.is_floating_point():
        raise TypeError(f"{function} expects a floating-point {name} (float32 or float64), got {x.dtype}")
    return x


def _check_coefficient(value, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"coefficient {name} must be a scalar (a number or a one-element tensor), "
                             f"got a tensor of shape {tuple(value.shape)}")
        if value.requires_grad:
            raise ValueError(f"coefficient {name} requires grad, but quadratic_form has no gradient w.r.t. "
                             "its coefficients; pass a plain number (e.g. a.item())")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"coefficient {name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"coefficient {name} must be finite, got {value}")
    return float(value)


def sin_over_x(x: torch.Tensor) -> torch.Tensor:
    """sin(x)/x element-wise (1 at x = 0), any shape, float32/float64."""
    return SinOverX.apply(_check_tensor(x, "sin_over_x"))


def quadratic_form(x: torch.Tensor, y: torch.Tensor, a=1.0, b=1.0, c=1.0) -> torch.Tensor:
    """a x² + b x y + c y² element-wise; x and y: same shape, dtype and device; a, b, c: numbers."""
    x, y = _check_tensor(x, "quadratic_form", "x"), _check_tensor(y, "quadratic_form", "y")
    if x.shape != y.shape or x.dtype != y.dtype or x.device != y.device:
        raise ValueError(f"quadratic_form needs x and y of the same shape, dtype and device, got "
                         f"{tuple(x.shape)} {x.dtype} {x.device} and {tuple(y.shape)} {y.dtype} {y.device}")
    a, b, c = (_check_coefficient(v, n) for v, n in ((a, "a"), (b, "b"), (c, "c")))
    return QuadraticForm.apply(x, y, a, b, c)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """σ(x) element-wise, stable for every finite x, differentiable to any order."""
    return Sigmoid.apply(_check_tensor(x, "sigmoid"))


def softplus(x: torch.Tensor) -> torch.Tensor:
    """ln(1 + eˣ) element-wise, stable for every finite x, differentiable to any order."""
    return Softplus.apply(_check_tensor(x, "softplus"))
