"""Input checks shared by the hand-written layers and losses: a clear error naming what was expected,
instead of a silent broadcast or a stack trace from deep inside torch."""
from __future__ import annotations

import math

import torch


def check_tensor(name: str, t, shape: tuple, dtype: torch.dtype | None = None, device=None) -> None:
    """Raise ``ValueError`` unless ``t`` is a floating tensor of ``shape`` (None = any size), ``dtype``, ``device``."""
    def expected() -> str:
        return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor of shape {expected()}, got {type(t).__name__}")
    if t.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, t.shape)):
        raise ValueError(f"{name}: expected shape {expected()}, got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor, got {t.dtype}")
    if dtype is not None and t.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype} (the parameters' dtype), got {t.dtype}; "
                         f"convert with .to({dtype})")
    if device is not None and t.device != device:
        raise ValueError(f"{name}: expected a tensor on {device} (where the parameters are), got {t.device}")


def check_pair(name: str, y_hat, y) -> None:
    """Predictions and targets of a loss: same shape (no silent broadcasting) and same dtype."""
    if not isinstance(y_hat, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(f"{name}: y_hat and y must be torch.Tensors, got "
                         f"{type(y_hat).__name__} and {type(y).__name__}")
    check_tensor(f"{name} y_hat", y_hat, (None,) * y_hat.ndim)
    if y_hat.shape != y.shape:
        raise ValueError(f"{name}: y_hat has shape {tuple(y_hat.shape)} but y has {tuple(y.shape)}; they "
                         "must match exactly (e.g. reshape targets (N,) to (N, 1)) to avoid broadcasting")
    check_tensor(f"{name} y", y, (None,) * y.ndim, y_hat.dtype)
    if y_hat.numel() == 0:
        raise ValueError(f"{name}: empty batch")


def check_size(name: str, value) -> int:
    """A layer width or feature count: a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_lr(lr) -> float:
    """A learning rate: a finite number >= 0 (0 freezes the layer, handy for gradient checks)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
    return float(lr)


def check_probabilities(name: str, y_hat: torch.Tensor, y: torch.Tensor) -> None:
    """BCE needs predictions and targets in [0, 1] (NaN fails too)."""
    for label, t in (("y_hat", y_hat), ("y", y)):
        if not bool(((t >= 0) & (t <= 1)).all()):
            raise ValueError(f"{name}: every element of {label} must lie in [0, 1] (use a sigmoid output), "
                             f"got values in [{t.min().item():.4g}, {t.max().item():.4g}]")
