"""Gradient checking: central finite differences and the relative error, cs231n style.

The relative error of an analytic gradient ``a`` against a reference ``n`` is, element-wise,
``|a - n| / max(eps, |a| + |n|)``; a tensor's error is the maximum over its elements.
Use float64: central differences with ``h = 1e-6`` are then accurate to about 1e-9 relative on
smooth functions, and analytic-vs-autograd agreement should be ~1e-15.

Finite differences cannot resolve gradient entries smaller than their own round-off noise
(about ``eps_mach |f| / h`` in absolute terms, see :func:`finite_difference_eps`), which matters
for tiny entries (vanishing gradients, sums that cancel). :func:`finite_difference_check` takes
that into account; :func:`autograd_check` compares with autograd at round-off level.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import torch

DEFAULT_EPS = 1e-12
# Measured: round-off makes central differences of float64 networks wrong by up to ~1.2 eps_mach |f| / h.
FD_NOISE_SAFETY = 4.0


def relative_error(analytic: torch.Tensor, reference: torch.Tensor, eps: float = DEFAULT_EPS) -> float:
    """Max element-wise ``|a - n| / max(eps, |a| + |n|)``; shapes must match."""
    analytic, reference = torch.as_tensor(analytic), torch.as_tensor(reference)
    if analytic.shape != reference.shape:
        raise ValueError(f"shape mismatch: analytic {tuple(analytic.shape)} vs reference {tuple(reference.shape)}")
    if analytic.numel() == 0:
        return 0.0
    a, n = analytic.detach().double(), reference.detach().double()
    return ((a - n).abs() / (a.abs() + n.abs()).clamp_min(eps)).max().item()


def _scalar(value, what: str = "f()") -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{what} must return a scalar, got a tensor of shape {tuple(value.shape)}")
        return value.detach().item()
    return float(value)


def numerical_gradient(f: Callable[[], torch.Tensor], x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every element of ``x``.

    ``f`` takes no arguments and returns a scalar computed from ``x``, which is perturbed in place
    (and restored, also if ``f`` raises) element by element, so ``x`` may be a model parameter.
    """
    if x.dtype != torch.float64:
        raise ValueError(f"finite differences need float64 tensors for a meaningful check, got {x.dtype}")
    grad = torch.zeros_like(x)
    values = x.data  # any strides: indexed element by element, never viewed as flat
    with torch.no_grad():
        for index in np.ndindex(*x.shape):
            original = values[index].item()
            try:
                values[index] = original + h
                plus = _scalar(f())
                values[index] = original - h
                minus = _scalar(f())
            finally:
                values[index] = original
            grad[index] = (plus - minus) / (2 * h)
    return grad


def numerical_input_gradients(f: Callable[..., torch.Tensor], *inputs: torch.Tensor, h: float = 1e-6):
    """Central-difference gradients of the scalar ``f(*inputs)`` w.r.t. each input (a tuple)."""
    return tuple(numerical_gradient(lambda: f(*inputs), x, h) for x in inputs)


def numerical_parameter_gradients(model: torch.nn.Module, loss: Callable[[], torch.Tensor],
                                  h: float = 1e-6) -> dict[str, torch.Tensor]:
    """Central-difference gradient of ``loss()`` for every named parameter of ``model``."""
    grads = {}
    for name, p in model.named_parameters():
        if p.dtype != torch.float64:
            raise ValueError(f"parameter {name} is {p.dtype}; call model.double() before finite differences")
        grads[name] = numerical_gradient(loss, p, h)
    return grads


def autograd_parameter_gradients(model: torch.nn.Module, loss: Callable[[], torch.Tensor]) -> dict[str, torch.Tensor]:
    """Autograd's gradient of ``loss()`` for every named parameter (``.grad`` fields are left untouched)."""
    params = dict(model.named_parameters())
    frozen = [name for name, p in params.items() if not p.requires_grad]
    if frozen:
        raise ValueError(f"parameters {frozen} do not require grad: autograd cannot differentiate them")
    value = loss()
    _scalar(value, "loss()")
    grads = torch.autograd.grad(value, list(params.values()), allow_unused=True)
    return {name: torch.zeros_like(p) if g is None else g for (name, p), g in zip(params.items(), grads)}


def finite_difference_eps(f_value: float, tolerance: float, h: float = 1e-6, dtype=torch.float64) -> float:
    """The ``eps`` of :func:`relative_error` for a reference computed by central differences.

    Round-off alone makes each central difference wrong by up to about
    ``noise = FD_NOISE_SAFETY * eps_mach * max(|f|, 1) / h`` (absolute). With ``eps = noise / tolerance``,
    ``relative_error <= tolerance`` holds exactly when ``|a - n| <= max(tolerance (|a| + |n|), noise)``:
    a relative check wherever finite differences can resolve the gradient, an absolute one below.
    """
    if tolerance <= 0 or h <= 0:
        raise ValueError(f"tolerance and h must be positive, got tolerance={tolerance}, h={h}")
    noise = FD_NOISE_SAFETY * torch.finfo(dtype).eps * max(abs(float(f_value)), 1.0) / h
    return noise / tolerance


@dataclass(frozen=True)
class GradCheckRow:
    name: str
    max_relative_error: float
    max_abs_error: float

    def passed(self, tolerance: float) -> bool:
        return self.max_relative_error <= tolerance


def compare_gradients(analytic: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor],
                      eps: float = DEFAULT_EPS) -> list[GradCheckRow]:
    """One row per tensor name: max relative and absolute error of ``analytic`` against ``reference``."""
    if set(analytic) != set(reference):
        raise ValueError(f"gradient names differ: {sorted(analytic)} vs {sorted(reference)}")
    rows = []
    for name in analytic:
        a, n = torch.as_tensor(analytic[name]), torch.as_tensor(reference[name])
        if a.shape != n.shape:
            raise ValueError(f"{name}: shape mismatch: analytic {tuple(a.shape)} vs reference {tuple(n.shape)}")
        abs_error = (a.double() - n.double()).abs().max().item() if a.numel() else 0.0
        rows.append(GradCheckRow(name, relative_error(a, n, eps), abs_error))
    return rows


def autograd_check(model: torch.nn.Module, loss: Callable[[], torch.Tensor],
                   analytic: Mapping[str, torch.Tensor]) -> list[GradCheckRow]:
    """Rows comparing ``analytic`` (keyed by parameter name) with autograd's gradients of ``loss()``."""
    return compare_gradients(analytic, autograd_parameter_gradients(model, loss))


def finite_difference_check(model: torch.nn.Module, loss: Callable[[], torch.Tensor],
                            analytic: Mapping[str, torch.Tensor], tolerance: float = 1e-6,
                            h: float = 1e-6) -> list[GradCheckRow]:
    """Rows comparing ``analytic`` with central differences, using :func:`finite_difference_eps`."""
    eps = finite_difference_eps(_scalar(loss(), "loss()"), tolerance, h)
    return compare_gradients(analytic, numerical_parameter_gradients(model, loss, h), eps)


def error_verdict(error: float, tolerance: float) -> str:
    """``'<= 1e-10'`` when ``error`` passes ``tolerance``, else the error itself: ``'3.3e-01 > 1e-10'``.

    For printed outputs that must not vary between machines (round-off-level errors do).
    """
    return f"<= {tolerance:.0e}" if error <= tolerance else f"{error:.1e} > {tolerance:.0e}"


def format_report(rows: list[GradCheckRow], tolerance: float, title: str = "", stable: bool = False) -> str:
    """A fixed-width table: tensor, max relative and absolute error (scientific notation), pass/fail.

    ``stable=True`` prints passing errors as ``<= tolerance`` instead of their round-off-level
    values, which vary between machines, so stored notebook outputs compare equal everywhere.
    """
    width = max([len(r.name) for r in rows] + [6])
    lines = [title] if title else []
    if stable:
        lines.append(f"{'tensor':<{width}}  {'max rel. error':>14}  result")
    else:
        lines.append(f"{'tensor':<{width}}  {'max rel. error':>14}  {'max abs. error':>14}  result")
    for r in rows:
        verdict = "ok" if r.passed(tolerance) else f"FAIL (> {tolerance:.0e})"
        if stable:
            error = f"<= {tolerance:.0e}" if r.passed(tolerance) else f"{r.max_relative_error:.1e}"
            lines.append(f"{r.name:<{width}}  {error:>14}  {verdict}")
        else:
            lines.append(f"{r.name:<{width}}  {r.max_relative_error:>14.1e}  {r.max_abs_error:>14.1e}  {verdict}")
    return "\n".join(lines)
