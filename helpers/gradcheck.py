"""Gradient checking: one policy for the whole course (cs231n style), used by notebooks, checks and graders.

The policy, defined here once:

* **Relative error** of an analytic gradient ``a`` against a reference ``n``, element-wise
  ``|a - n| / max(|a| + |n|, floor)``; a tensor's error is the maximum over its elements.
* **Floor** (:func:`error_floor`): ``max(TINY, SCALE_FLOOR * max|n|)``, so an entry a thousand times smaller
  than the tensor's largest (often a near-cancelling sum over a batch) is judged by its absolute error at the
  tensor's scale, not as a ratio of two round-off-sized numbers. Against central differences the floor also
  covers their round-off noise, ``FD_NOISE_SAFETY * eps_mach * max(|f|, 1) / h`` divided by the tolerance:
  below that, finite differences cannot resolve the gradient, so the check becomes an absolute one.
* **Unresolvable**: when every reference entry lies within that noise, an all-zero gradient would pass as
  well, so a pass would mean nothing: the comparison says ``"unresolvable ..."`` and does not pass.
* **Central differences** (:func:`numerical_gradient` of a scalar, :func:`numerical_jacobian` of any output)
  ``(f(x + h e_i) - f(x - h e_i)) / 2h`` with ``h = FD_STEP = 1e-6``, in float64
  (accurate to about 1e-9 relative on smooth functions); any step ``h`` must be a finite number > 0.
* **Tolerances**: ``AUTOGRAD_TOLERANCE = 1e-10`` (the two differ by round-off only) and
  ``FINITE_DIFFERENCE_TOLERANCE = 1e-6`` (truncation and round-off of the differences).
* **Verdict** (:func:`verdict`): ``"≤ 1e-10: ok"`` or ``"3.3e-01 > 1e-10: FAIL"``. A passing error is not
  printed: its round-off digits vary between machines, and stored notebook outputs must not.
* **One result type**, :class:`GradientComparison`: one tensor's errors, its tolerance and its verdict.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import torch

FD_STEP = 1e-6
AUTOGRAD_TOLERANCE = 1e-10
FINITE_DIFFERENCE_TOLERANCE = 1e-6
TINY = 1e-12
SCALE_FLOOR = 1e-3
# Measured: round-off makes central differences of float64 networks wrong by up to ~1.2 eps_mach |f| / h.
FD_NOISE_SAFETY = 4.0


def format_tolerance(tolerance: float) -> str:
    """``1e-06`` -> ``'1e-6'``: the tolerance as the notebooks print it."""
    mantissa, exponent = f"{tolerance:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def verdict(error: float, tolerance: float) -> str:
    """``'≤ 1e-10: ok'`` when ``error <= tolerance``, else ``'3.3e-01 > 1e-10: FAIL'`` (NaN fails)."""
    if error <= tolerance:
        return f"≤ {format_tolerance(tolerance)}: ok"
    return f"{error:.1e} > {format_tolerance(tolerance)}: FAIL"


def relative_error(analytic: torch.Tensor, reference: torch.Tensor, floor: float = TINY) -> float:
    """Max element-wise ``|a - n| / max(|a| + |n|, floor)``; shapes must match (NaN anywhere gives NaN)."""
    analytic, reference = torch.as_tensor(analytic), torch.as_tensor(reference)
    if analytic.shape != reference.shape:
        raise ValueError(f"shape mismatch: analytic {tuple(analytic.shape)} vs reference {tuple(reference.shape)}")
    if analytic.numel() == 0:
        return 0.0
    a, n = analytic.detach().double(), reference.detach().double()
    return ((a - n).abs() / (a.abs() + n.abs()).clamp_min(floor)).max().item()


def check_step(h) -> float:
    """A finite-difference step: a finite number > 0 (0 would divide by zero, NaN check nothing)."""
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not math.isfinite(h) or h <= 0:
        raise ValueError(f"the finite-difference step h must be positive and finite, got {h!r}")
    return float(h)


def finite_difference_noise(f_value: float, h: float = FD_STEP, dtype=torch.float64) -> float:
    """Round-off error bound of one central difference of ``f`` (absolute): ``~eps_mach max(|f|, 1) / h``."""
    h = check_step(h)
    if not math.isfinite(float(f_value)):
        raise ValueError(f"f_value, the function's value, must be finite, got {f_value}")
    return FD_NOISE_SAFETY * torch.finfo(dtype).eps * max(abs(float(f_value)), 1.0) / h


def error_floor(reference: torch.Tensor, f_value: float | None = None,
                tolerance: float = FINITE_DIFFERENCE_TOLERANCE, h: float = FD_STEP) -> float:
    """The denominator floor of a tensor's relative errors (see the module docstring).

    ``f_value``: the scalar that central differences differentiated, when ``reference`` comes from them;
    with ``noise`` its round-off bound, ``relative_error <= tolerance`` then holds exactly when
    ``|a - n| <= max(tolerance (|a| + |n|), noise)`` wherever the scale floor does not decide.
    """
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    check_step(h)
    reference = torch.as_tensor(reference)
    scale = reference.detach().abs().max().item() if reference.numel() else 0.0
    floor = max(TINY, SCALE_FLOOR * scale)
    if f_value is not None:
        floor = max(floor, finite_difference_noise(f_value, h) / tolerance)
    return floor


@dataclass(frozen=True)
class GradientComparison:
    """One tensor's analytic gradient against a reference: worst relative and absolute error, tolerance.

    ``unresolvable_below``: set (to the finite-difference noise) when every reference entry lies within
    that noise, so that a zero gradient would pass too; such a comparison does not pass.
    """
    name: str
    max_relative_error: float
    max_abs_error: float
    tolerance: float
    unresolvable_below: float | None = None

    @property
    def passed(self) -> bool:
        return self.unresolvable_below is None and self.max_relative_error <= self.tolerance  # False for NaN

    @property
    def verdict(self) -> str:
        if self.unresolvable_below is not None:
            return f"unresolvable: every |gradient| ≤ {self.unresolvable_below:.1e}, the finite-difference noise"
        return verdict(self.max_relative_error, self.tolerance)


def compare(name: str, analytic: torch.Tensor, reference: torch.Tensor, tolerance: float,
            f_value: float | None = None, h: float = FD_STEP) -> GradientComparison:
    """Compare one tensor under the policy; ``f_value`` when ``reference`` comes from central differences."""
    a, n = torch.as_tensor(analytic), torch.as_tensor(reference)
    if a.shape != n.shape:
        raise ValueError(f"{name}: shape mismatch: analytic {tuple(a.shape)} vs reference {tuple(n.shape)}")
    abs_error = (a.double() - n.double()).abs().max().item() if a.numel() else 0.0
    floor = error_floor(n, f_value, tolerance, h)
    error = relative_error(a, n, floor)
    if f_value is not None and n.numel() and error <= tolerance:
        noise = finite_difference_noise(f_value, h)
        if n.detach().abs().max().item() <= noise:  # a zero gradient would pass as well: the check says nothing
            return GradientComparison(name, error, abs_error, tolerance, unresolvable_below=noise)
    return GradientComparison(name, error, abs_error, tolerance)


def compare_gradients(analytic: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor],
                      tolerance: float, f_value: float | None = None,
                      h: float = FD_STEP) -> list[GradientComparison]:
    """One :class:`GradientComparison` per tensor name (the two mappings must name the same tensors)."""
    if set(analytic) != set(reference):
        raise ValueError(f"gradient names differ: {sorted(analytic)} vs {sorted(reference)}")
    check_step(h)
    return [compare(name, analytic[name], reference[name], tolerance, f_value, h) for name in analytic]


def _scalar(value, what: str = "f()") -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{what} must return a scalar, got a tensor of shape {tuple(value.shape)}")
        return value.detach().item()
    return float(value)


def numerical_gradient(f: Callable[[], torch.Tensor], x: torch.Tensor, h: float = FD_STEP) -> torch.Tensor:
    """Central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every element of ``x`` (same shape).

    ``f`` takes no arguments and returns a scalar computed from ``x``, which is perturbed in place
    (and restored, also if ``f`` raises) element by element, so ``x`` may be a model parameter.
    ``h`` must be a finite number > 0, and large enough that ``x ± h`` differs from ``x``.
    """
    h = check_step(h)
    if x.dtype != torch.float64:
        raise ValueError(f"finite differences need float64 tensors for a meaningful check, got {x.dtype}")
    grad = torch.zeros_like(x)
    values = x.data  # any strides: indexed element by element, never viewed as flat
    with torch.no_grad():
        for index in np.ndindex(*x.shape):
            original = values[index].item()
            if original + h == original or original - h == original:  # the difference would be 0, not f'
                raise ValueError(f"h = {h:g} is too small for x{list(index)} = {original:g}: x ± h rounds to x "
                                 "in float64; use a larger h")
            try:
                values[index] = original + h
                plus = _scalar(f())
                values[index] = original - h
                minus = _scalar(f())
            finally:
                values[index] = original
            grad[index] = (plus - minus) / (2 * h)
    return grad


def numerical_jacobian(f: Callable[..., torch.Tensor], *inputs: torch.Tensor, h: float = FD_STEP) -> torch.Tensor:
    """Central differences of ``f(*inputs)`` (any output shape, flattened) w.r.t. every entry of the inputs.

    Shapes: inputs float64, any shapes; the result is (f's output size, total entries of the inputs), rows the
    outputs, columns the inputs' entries in order. The inputs are not modified.
    """
    h = check_step(h)
    for x in inputs:
        if x.dtype != torch.float64:
            raise ValueError(f"finite differences need float64 tensors for a meaningful check, got {x.dtype}")
    columns = []
    for k, x in enumerate(inputs):
        for j in range(x.numel()):
            moved = [list(inputs), list(inputs)]
            for side, sign in zip(moved, (1, -1)):
                shifted = x.detach().clone()
                shifted.view(-1)[j] += sign * h
                side[k] = shifted
            columns.append((f(*moved[0]).reshape(-1) - f(*moved[1]).reshape(-1)) / (2 * h))
    return torch.stack(columns, 1)


def numerical_input_gradients(f: Callable[..., torch.Tensor], *inputs: torch.Tensor, h: float = FD_STEP):
    """Central-difference gradients of the scalar ``f(*inputs)`` w.r.t. each input (a tuple)."""
    h = check_step(h)
    return tuple(numerical_gradient(lambda: f(*inputs), x, h) for x in inputs)


def numerical_parameter_gradients(model: torch.nn.Module, loss: Callable[[], torch.Tensor],
                                  h: float = FD_STEP) -> dict[str, torch.Tensor]:
    """Central-difference gradient of ``loss()`` for every named parameter of ``model``."""
    h, grads = check_step(h), {}
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


def autograd_check(model: torch.nn.Module, loss: Callable[[], torch.Tensor],
                   analytic: Mapping[str, torch.Tensor]) -> list[GradientComparison]:
    """``analytic`` (keyed by parameter name) against autograd's gradients of ``loss()``."""
    return compare_gradients(analytic, autograd_parameter_gradients(model, loss), AUTOGRAD_TOLERANCE)


def finite_difference_check(model: torch.nn.Module, loss: Callable[[], torch.Tensor],
                            analytic: Mapping[str, torch.Tensor]) -> list[GradientComparison]:
    """``analytic`` against central differences of ``loss()`` over every parameter of ``model``.

    A tensor whose central differences all lie within their round-off noise (a large ``loss()``, a tiny
    gradient) comes back with an ``"unresolvable ..."`` verdict and does not pass: a zero gradient would pass too.
    """
    f_value = _scalar(loss(), "loss()")
    return compare_gradients(analytic, numerical_parameter_gradients(model, loss), FINITE_DIFFERENCE_TOLERANCE,
                             f_value)


def format_report(rows: list[GradientComparison], title: str = "", stable: bool = False) -> str:
    """A fixed-width table: tensor and verdict; ``stable=False`` adds the raw errors (they vary by machine)."""
    width = max([len(r.name) for r in rows] + [6])
    lines = [title] if title else []
    if stable:
        lines.append(f"{'tensor':<{width}}  result")
        lines += [f"{r.name:<{width}}  {r.verdict}" for r in rows]
    else:
        lines.append(f"{'tensor':<{width}}  {'max rel. error':>14}  {'max abs. error':>14}  result")
        lines += [f"{r.name:<{width}}  {r.max_relative_error:>14.1e}  {r.max_abs_error:>14.1e}  {r.verdict}"
                  for r in rows]
    return "\n".join(lines)
