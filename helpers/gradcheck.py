"""Gradient checking: central finite differences and the relative error, cs231n style.

The relative error of an analytic gradient ``a`` against a reference ``n`` is, element-wise,
``|a - n| / max(eps, |a| + |n|)``; a tensor's error is the maximum over its elements.
Use float64: central differences with ``h = 1e-6`` are then accurate to about 1e-9 relative on
smooth functions, and analytic-vs-autograd agreement should be ~1e-15.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch

DEFAULT_EPS = 1e-12


def relative_error(analytic: torch.Tensor, reference: torch.Tensor, eps: float = DEFAULT_EPS) -> float:
    """Max element-wise ``|a - n| / max(eps, |a| + |n|)``; shapes must match."""
    analytic, reference = torch.as_tensor(analytic), torch.as_tensor(reference)
    if analytic.shape != reference.shape:
        raise ValueError(f"shape mismatch: analytic {tuple(analytic.shape)} vs reference {tuple(reference.shape)}")
    if analytic.numel() == 0:
        return 0.0
    a, n = analytic.detach().double(), reference.detach().double()
    return ((a - n).abs() / (a.abs() + n.abs()).clamp_min(eps)).max().item()


def numerical_gradient(f: Callable[[], torch.Tensor], x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every element of ``x``.

    ``f`` takes no arguments and returns a scalar computed from ``x``, which is perturbed in place
    (and restored) element by element, so ``x`` may be a model parameter.
    """
    if x.dtype != torch.float64:
        raise ValueError(f"finite differences need float64 tensors for a meaningful check, got {x.dtype}")
    grad = torch.zeros_like(x)
    flat_x, flat_grad = x.data.view(-1), grad.view(-1)
    with torch.no_grad():
        for i in range(flat_x.numel()):
            original = flat_x[i].item()
            flat_x[i] = original + h
            plus = float(f())
            flat_x[i] = original - h
            minus = float(f())
            flat_x[i] = original
            flat_grad[i] = (plus - minus) / (2 * h)
    return grad


def numerical_input_gradients(f: Callable[..., torch.Tensor], *inputs: torch.Tensor, h: float = 1e-6):
    """Central-difference gradients of the scalar ``f(*inputs)`` w.r.t. each input (a tuple)."""
    return tuple(numerical_gradient(lambda: f(*inputs), x, h) for x in inputs)


def numerical_parameter_gradients(model: torch.nn.Module, loss: Callable[[], torch.Tensor],
                                  h: float = 1e-6) -> dict[str, torch.Tensor]:
    """Central-difference gradient of ``loss()`` for every named parameter of ``model``."""
    return {name: numerical_gradient(loss, p, h) for name, p in model.named_parameters()}


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
        abs_error = (a.double() - n.double()).abs().max().item() if a.numel() and a.shape == n.shape else 0.0
        rows.append(GradCheckRow(name, relative_error(a, n, eps), abs_error))
    return rows


def format_report(rows: list[GradCheckRow], tolerance: float, title: str = "") -> str:
    """A fixed-width table: tensor, max relative error (in scientific notation), pass/fail."""
    width = max([len(r.name) for r in rows] + [6])
    lines = [title] if title else []
    lines.append(f"{'tensor':<{width}}  {'max rel. error':>14}  {'max abs. error':>14}  result")
    for r in rows:
        verdict = "ok" if r.passed(tolerance) else f"FAIL (> {tolerance:.0e})"
        lines.append(f"{r.name:<{width}}  {r.max_relative_error:>14.1e}  {r.max_abs_error:>14.1e}  {verdict}")
    return "\n".join(lines)
