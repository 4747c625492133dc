"""Gradient descent on the spiral  y = r^2 (sin^2(6θ + 2r) + 1),  θ = atan(x2/x1),  r = |x|.

Public API (notebook 01; other code relies on these names): :func:`spiral`, :func:`spiral_grad`,
:func:`gradient_descent`; plus :func:`random_start` and :func:`steps_to_reach` for the experiments.

θ = atan(x2/x1) jumps by π across x1 = 0, but sin^2(6θ + 2r) has period π/6 in θ, so y is smooth
there; at x1 = 0 any branch of θ gives the same y, and we take θ = π/2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


START_BOX = 5.0  # x0 is drawn uniformly from [-5, 5]^2, as the course asks
# float16 and bfloat16 keep about 3 and 2 significant digits: y, its gradient and every step would be silently
# coarse (and float16 overflows to inf for |x| beyond about 180), so only single and double precision are taken.
_DTYPES = (torch.float32, torch.float64)


def _check_dtype(dtype: torch.dtype, name: str) -> None:
    if dtype not in _DTYPES:
        raise ValueError(f"{name} must be a floating-point tensor of dtype float32 or float64 (float64 "
                         f"recommended), got dtype {dtype}")


def _as_points(x, name: str = "x") -> torch.Tensor:
    try:
        x = torch.as_tensor(x)
    except (TypeError, RuntimeError, ValueError):
        raise TypeError(f"{name} must be a tensor (or nested list) of points of shape (..., 2), "
                        f"got {type(x).__name__} {x!r:.40}") from None
    _check_dtype(x.dtype, name)
    if x.ndim == 0 or x.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., 2) (points (x1, x2)), got {tuple(x.shape)}")
    return x


def _theta(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """atan(x2/x1), with π/2 on the line x1 = 0 (safe denominator: no NaN, in values or gradients)."""
    on_axis = x1 == 0
    ratio = x2 / torch.where(on_axis, torch.ones_like(x1), x1)
    return torch.where(on_axis, torch.full_like(x1, math.pi / 2), torch.atan(ratio))


def spiral(x) -> torch.Tensor:
    """y = r^2 (sin^2(6θ + 2r) + 1).  x: (..., 2) floating  ->  y: (...)."""
    x = _as_points(x)
    x1, x2 = x[..., 0], x[..., 1]
    r = torch.sqrt(x1 * x1 + x2 * x2)
    return r * r * (torch.sin(6 * _theta(x1, x2) + 2 * r) ** 2 + 1)


def spiral_grad(x) -> torch.Tensor:
    """Exercise 1.1: dy/dx by the chain rule, written by hand (no autograd).  x: (..., 2)  ->  (..., 2).

    Finite everywhere, including the line x1 = 0 and the origin (where it is 0); same dtype as ``x``.
    """
    x = _as_points(x)
    ### BEGIN SOLUTION
    # With u = 6θ + 2r and s = sin^2(u) + 1, using r ∇r = x and r^2 ∇θ = (-x2, x1):
    #     dy/dx = 2 s x + sin(2u) (6 (-x2, x1) + 2 r x)
    # (every division by r cancels, so the form is finite everywhere and 0 at the origin).
    x1, x2 = x[..., 0], x[..., 1]
    r = torch.sqrt(x1 * x1 + x2 * x2)
    u = 6 * _theta(x1, x2) + 2 * r
    s = torch.sin(u) ** 2 + 1
    sin_2u = torch.sin(2 * u)
    g1 = 2 * s * x1 + sin_2u * (-6 * x2 + 2 * r * x1)
    g2 = 2 * s * x2 + sin_2u * (6 * x1 + 2 * r * x2)
    ### END SOLUTION
    return torch.stack((g1, g2), dim=-1)


def random_start(seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """x0 ~ U([-5, 5]^2) from a generator seeded with ``seed`` (shape (2,)); dtype float32 or float64."""
    _check_dtype(dtype, "dtype")
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(2, generator=generator, dtype=dtype) * 2 - 1) * START_BOX


@dataclass(frozen=True)
class DescentResult:
    """A gradient-descent run. T = steps taken (≤ n_steps; fewer when it diverged).

    trajectory: (T+1, 2) iterates x_0..x_T, all finite.
    gradients:  (T, 2) dy/dx at x_0..x_{T-1}, the steps actually taken.
    losses:     (T+1,) y(x_0)..y(x_T).
    diverged:   True when the next iterate was non-finite or left the ball of radius ``max_radius``;
                that iterate is not stored. ``reason`` says which.
    """
    trajectory: torch.Tensor
    gradients: torch.Tensor
    losses: torch.Tensor
    diverged: bool
    reason: str

    @property
    def steps(self) -> int:
        return self.gradients.shape[0]


def _is_positive_finite(value) -> bool:
    """A finite int or float > 0; a bool is refused (Python counts True as 1)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _check_descent(x0, lr, n_steps, max_radius) -> torch.Tensor:
    """Clear errors for :func:`gradient_descent`'s arguments; returns x0 as a (2,) tensor."""
    x0 = _as_points(x0, "x0")
    if x0.shape != (2,):
        raise ValueError(f"x0 must have shape (2,), got {tuple(x0.shape)}")
    if not torch.isfinite(x0).all():
        raise ValueError(f"x0 must be finite, got {x0.tolist()}")
    if not _is_positive_finite(lr):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be an int ≥ 0, got {n_steps!r}")
    if not _is_positive_finite(max_radius):
        raise ValueError(f"max_radius must be a finite number > 0, got {max_radius!r}")
    return x0


def _divergence(x_next: torch.Tensor, max_radius: float, step: int) -> str | None:
    """Why the iterate x_next (2,) of ``step`` ends the run (non-finite, or outside the ball), else None."""
    if not torch.isfinite(x_next).all():
        return f"non-finite iterate at step {step}"
    if torch.linalg.vector_norm(x_next) > max_radius:
        return f"|x| > {max_radius:g} at step {step}"
    return None


def _descend(x0: torch.Tensor, n_steps: int, max_radius: float, step) -> DescentResult:
    """Run ``step(x) -> (gradient, x_next)`` from x0 (2,) up to n_steps times, stopping on divergence."""
    points, grads = [x0.clone()], []
    diverged, reason = False, f"completed {n_steps} steps"
    for number in range(1, n_steps + 1):
        gradient, x_next = step(points[-1])
        why = _divergence(x_next, max_radius, number)
        if why is not None:
            diverged, reason = True, why
            break
        grads.append(gradient)
        points.append(x_next)
    trajectory = torch.stack(points)
    gradients = torch.stack(grads) if grads else x0.new_zeros((0, 2))
    return DescentResult(trajectory, gradients, spiral(trajectory), diverged, reason)


def gradient_descent(x0, lr: float, n_steps: int, max_radius: float = 1e3) -> DescentResult:
    """Exercise 1.2: x_t = x_{t-1} - lr * dy/dx(x_{t-1}) for t = 1..n_steps, stopping with a flag on divergence.

    x0: (2,) float32 or float64 tensor (float64 recommended); lr: finite, > 0; n_steps: int ≥ 0;
    max_radius: finite, > 0 (0 would flag every run as diverged at once; NaN would switch the check off).
    """
    x0 = _check_descent(x0, lr, n_steps, max_radius)

    def step(x):
        """One step from x (2,): returns (dy/dx at x, the next iterate), both (2,)."""
        ### BEGIN SOLUTION
        gradient = spiral_grad(x)
        x_next = x.add(gradient, alpha=-lr)  # one rounding per entry, exactly as torch.optim.SGD
        ### END SOLUTION
        return gradient, x_next
    return _descend(x0, n_steps, max_radius, step)


def steps_to_reach(result: DescentResult, tolerance: float) -> int | None:
    """First step t with y(x_t) ≤ tolerance (the minimum is y = 0 at the origin), or None."""
    hits = torch.nonzero(result.losses <= tolerance)
    return int(hits[0]) if hits.numel() else None
