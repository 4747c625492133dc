"""Building blocks of the exercise checks of notebooks 01 and 02 (:mod:`helpers.checks.exercises_mlp`).

A check compares the student's tensor with a reference computed by torch (autograd, ``torch.optim``) under
the course's one gradient-check policy (:mod:`helpers.gradcheck`) and, when they differ, names the common
mistake the student's result matches (:func:`helpers.checks.exercises.diagnose`), never the expected values.
:func:`replaced` swaps a module's functions for references while the *trusted* side computes a reference (the
student's code runs in the sandbox, :mod:`helpers.checks.sandbox`).
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

from helpers.checks.toolkit import CheckOutcome, diagnose
from helpers.gradcheck import AUTOGRAD_TOLERANCE, compare

Mistakes = dict[str, Callable[[torch.Tensor], torch.Tensor]]


@contextlib.contextmanager
def replaced(module, **functions):
    """Within the block, ``module.<name>`` is ``functions[name]`` (restored afterwards, also on errors)."""
    saved = {name: getattr(module, name) for name in functions}
    try:
        for name, function in functions.items():
            setattr(module, name, function)
        yield
    finally:
        for name, function in saved.items():
            setattr(module, name, function)


def agrees(student, reference: torch.Tensor, tolerance: float = AUTOGRAD_TOLERANCE,
           f_value: float | None = None) -> bool:
    """Whether ``student`` (any tensor-like) has the reference's shape and passes the policy's comparison."""
    if not isinstance(student, torch.Tensor) or student.shape != reference.shape:
        return False
    return compare("check", student.detach(), reference, tolerance, f_value).passed


def _as_tensor(value):
    return value if isinstance(value, torch.Tensor) else torch.full((1,), float("nan"))


def tensor_outcome(name: str, student, reference: torch.Tensor, mistakes: Mistakes | None = None,
                   tolerance: float = AUTOGRAD_TOLERANCE, f_value: float | None = None,
                   what: str = "the result") -> CheckOutcome:
    """One check: ``student`` against ``reference`` (any shape), diagnosed by ``mistakes`` when it fails."""
    if agrees(student, reference, tolerance, f_value):
        return CheckOutcome(name, True)
    if not isinstance(student, torch.Tensor):
        return CheckOutcome(name, False, f"{what} is {type(student).__name__}, expected a tensor")
    return CheckOutcome(name, False, diagnose(_as_tensor(student).detach(), reference, mistakes or {}, what))


ROUNDING_ULPS = 8  # an update written in another order of operations differs by a few units in the last place


def within_rounding(student: torch.Tensor, reference: torch.Tensor, ulps: int = ROUNDING_ULPS) -> bool:
    """Whether ``student`` equals ``reference`` (same shape and dtype) up to ``ulps`` units in the last place of
    the working dtype, relative to each entry (and to the tensor's scale, for entries that cancel to ~0)."""
    if (not isinstance(student, torch.Tensor) or student.shape != reference.shape or student.dtype != reference.dtype
            or not reference.is_floating_point() or not torch.isfinite(student).all()):
        return False
    eps = torch.finfo(reference.dtype).eps
    difference = (student.double() - reference.double()).abs()
    scale = torch.maximum(reference.double().abs(), student.double().abs())
    floor = reference.double().abs().max().item() * eps if reference.numel() else 0.0
    return bool((difference <= ulps * eps * scale + ulps * floor).all())


def exact_outcome(name: str, student, reference: torch.Tensor, mistakes: Mistakes | None = None,
                  what: str = "the result") -> CheckOutcome:
    """One check of an update against its ``torch.optim`` twin: bit for bit passes, and so does agreement to
    a few units in the last place (another correct order of operations), which the name then says. Otherwise the
    mistake it matches. Rounding is recognised before any mistake model."""
    if isinstance(student, torch.Tensor) and student.shape == reference.shape and torch.equal(student, reference):
        return CheckOutcome(name, True)
    if within_rounding(student, reference):
        return CheckOutcome(f"{name}: within {ROUNDING_ULPS} ulp, not bit for bit (another order of operations)",
                            True)
    if not isinstance(student, torch.Tensor):
        return CheckOutcome(name, False, f"{what} is {type(student).__name__}, expected a tensor")
    return CheckOutcome(name, False, diagnose(student.detach(), reference, mistakes or {}, what))


def first_failure(name: str, outcomes: list[CheckOutcome]) -> CheckOutcome:
    """Several comparisons as one check: passed if all did, else the first failure's diagnosis."""
    for outcome in outcomes:
        if not outcome.passed:
            return CheckOutcome(name, False, f"{outcome.name}: {outcome.diagnosis}")
    return CheckOutcome(name, True)


def seeded(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: every check draws the same inputs every time."""
    return torch.Generator().manual_seed(seed)


def randn(generator: torch.Generator, *shape: int) -> torch.Tensor:
    """Standard normal float64 draws of ``shape`` from ``generator``."""
    return torch.randn(*shape, dtype=torch.float64, generator=generator)
