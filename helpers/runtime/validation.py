"""Input checks shared by the course code (numbers, tensors, the layers' and losses' inputs): a clear error
naming what was expected, instead of a silent broadcast or a stack trace from deep inside torch. Also the stale-state check of their
backward passes: a tensor the forward pass saw, changed in place before backward, is refused."""
from __future__ import annotations

import math
import numbers
import operator

import torch


def check_int(name: str, value, minimum: int = 0) -> None:
    """Raise a clear error unless ``value`` is an int (numpy ints too; not a bool or float) >= ``minimum``."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None:
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if number < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {number}")


def check_real(name: str, value, minimum: float = 0.0, *, strict: bool = False, below: float | None = None) -> None:
    """Raise a clear error unless ``value`` is a finite real number (not a bool) >= ``minimum``.

    ``strict``: > ``minimum`` instead; ``below``: also < ``below``. NaN and inf are always refused.
    """
    expected = f"{'>' if strict else '>='} {minimum:g}" if below is None else f"in [{minimum:g}, {below:g})"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number {expected}, got {value!r} ({type(value).__name__})")
    number = float(value)
    if (not math.isfinite(number) or number < minimum or (strict and number == minimum)
            or (below is not None and number >= below)):
        raise ValueError(f"{name} must be a finite number {expected}, got {number}")


def check_tensor(name: str, t, shape: tuple, dtype: torch.dtype | None = None, device=None,
                 finite: bool = False) -> None:
    """Raise ``ValueError`` unless ``t`` is a floating tensor of ``shape`` (None = any size), ``dtype``, ``device``
    (and, with ``finite``, free of NaN and inf)."""
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
    if finite and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")


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


PARAMETER_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_dtype(name: str, dtype) -> torch.dtype | None:
    """A parameter dtype: None (torch's default) or a real floating-point dtype the layers can run in."""
    if dtype is None:
        return None
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype such as torch.float32, got {dtype!r}")
    if dtype not in PARAMETER_DTYPES:
        raise ValueError(f"{name} must be a real floating-point dtype ({', '.join(map(str, PARAMETER_DTYPES))}): "
                         f"gradients and SGD steps need one, got {dtype}")
    return dtype


_VERSION = operator.attrgetter("_version")  # a tensor's in-place version counter


def versions_of(tensors: tuple) -> tuple:
    """Each tensor's in-place version counter now (None for inference tensors, which keep none and cannot
    change outside inference mode). Run on every training step: one attribute read per tensor."""
    try:
        return tuple(map(_VERSION, tensors))
    except RuntimeError:
        return tuple(None if t.is_inference() else t._version for t in tensors)


def check_unchanged(where: str, names: tuple, tensors: tuple, versions: tuple, current: tuple | None = None) -> None:
    """Raise ``RuntimeError`` if one of ``tensors`` (counters ``versions`` taken at the forward pass) was modified
    in place since, or (``current``: the tensors now in their places, same order) was replaced by another one.

    Backward reads such tensors: changed in between (``x.mul_(10)``, an SGD step on the parameters), the
    gradients would silently mix new values with the old forward pass; autograd refuses the same way.
    """
    if versions_of(tensors) == versions and (current is None or all(map(operator.is_, current, tensors))):
        return
    for i, (name, saved, version) in enumerate(zip(names, tensors, versions)):
        if current is not None and current[i] is not saved:
            change = "was replaced by another tensor"
        elif version is not None and saved._version != version:
            change = "was modified in place"
        else:
            continue
        raise RuntimeError(f"{where}: {name} {change} after the forward pass, so the gradients would mix "
                           "the changed values with the old forward pass. Run the forward pass again after "
                           "changing it (to edit an input and keep the pass, edit a copy: x.clone()).")


class ForwardRecord:
    """What a forward pass used and produced, named, with the version counters it saw (see check_unchanged)."""

    __slots__ = ("names", "tensors", "versions")

    def __init__(self, names: tuple[str, ...], tensors: tuple[torch.Tensor, ...]):
        self.names, self.tensors, self.versions = names, tensors, versions_of(tensors)

    def is_current(self, current: tuple) -> bool:
        """Whether ``current`` (the tensors now in the recorded places) are the recorded ones, unchanged."""
        return all(map(operator.is_, current, self.tensors)) and versions_of(self.tensors) == self.versions

    def check(self, where: str, current: tuple | None = None) -> None:
        """Raise ``RuntimeError`` if a recorded tensor changed in place or (given ``current``) was replaced."""
        check_unchanged(where, self.names, self.tensors, self.versions, current)
