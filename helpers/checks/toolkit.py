"""The exercise checks' toolkit: one registry format, one result record, one closeness rule.

Every notebook's check module (``nb00_graphs`` ... ``nb05_dream``) builds its checks from these pieces:

* :class:`Exercise`, the registry entry: what the student implements, where the course sets it, its points,
  the tools its code must not use, its ``check`` and, while it is not done, the references that stand in for
  it in the student's notebook (``stand_ins``). Its diagnoses are the keys of the check's mistake tables,
  written once, in the check module.
* :class:`CheckOutcome`, the one result record: what was checked, whether it passed, the likely mistake.
* :func:`close`, the one closeness rule: the course's gradient-check policy (:func:`helpers.gradcheck.compare`);
  :func:`exact` for the updates that must match their ``torch.optim`` twin bit for bit (or to a few ulp).
* :func:`diagnose`: the common mistake (weight gradient transposed, missing 1/N, ...) whose model turns the
  reference into what the student returned, never the expected values.

Central differences are :func:`helpers.gradcheck.numerical_gradient` and
:func:`helpers.gradcheck.numerical_jacobian`, the same the notebooks teach.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
from torch.optim.sgd import sgd as _torch_sgd

from helpers.gradcheck import AUTOGRAD_TOLERANCE, compare
from helpers.runtime import variant

TOOLS = {"autograd": "autograd (`torch.autograd`, `.backward()`, `torch.func`)",
         "torch.optim": "`torch.optim` (write the update yourself)",
         "references": "the bundle's reference functions (the `*_reference` functions in `helpers.checks`)"}

Mistakes = Mapping[str, Callable]  # diagnosis -> what that mistake turns the reference into


@dataclass(frozen=True)
class CheckOutcome:
    """One check of an exercise: what was checked, whether it passed, and on failure the likely mistake."""
    name: str
    passed: bool
    diagnosis: str = ""


@dataclass(frozen=True)
class Exercise:
    """One exercise of the course (shapes: none).

    ``check(code)`` returns a list of :class:`CheckOutcome`, calling the student's functions through ``code``
    (a :class:`helpers.checks.sandbox.StudentCode` session); an exercise written in a notebook cell is called
    as ``"__notebook__:<function>"``. ``stand_ins`` maps each function of the exercise, as
    ``"helpers.spiral:spiral_grad"`` or ``"__notebook__:name"``, to ``(reference, label)``: what the student's
    notebook uses meanwhile while the function is a stub, and how the printed note names it
    ("torch autograd's gradient"). ``diagnoses``: the mistakes its checks recognise (the keys of its mistake
    tables), listed in the exercise table.
    """
    id: str                      # "3.1": notebook 3, first exercise
    title: str                   # "backpropagation by the delta rule"
    notebook: str                # "03_mynet_delta_rule"
    handout: str                 # "INF265 §2"
    points: int
    files: tuple[str, ...]       # what to open, relative to the workspace ("helpers/mynet.py")
    functions: tuple[str, ...]   # what to implement ("backpropagation")
    check: Callable[..., list[CheckOutcome]]  # check(code: StudentCode) -> outcomes
    diagnoses: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()  # tools the student's code must not call: "autograd", "torch.optim", "references"
    stand_ins: Mapping[str, tuple[Callable, str]] = field(default_factory=dict)

    @property
    def rule(self) -> str:
        """The sentence of the exercise's statement that says what its code must not use ('' if nothing)."""
        if not self.forbid:
            return ""
        return ("**Not allowed in your code** (the check blocks it and names the call): "
                + "; ".join(TOOLS[name] for name in self.forbid) + ".")

    @property
    def in_notebook(self) -> bool:
        """Whether the student writes this exercise in a notebook cell (not in a helper file)."""
        return all(name.endswith(".ipynb") for name in self.files)


# -- comparing with a reference ------------------------------------------------------------------------------


def as_float64(value) -> torch.Tensor:
    """A number or tensor (any shape) as a detached float64 tensor."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64)
    return torch.as_tensor(value, dtype=torch.float64)


def close(student, reference, tolerance: float = AUTOGRAD_TOLERANCE, f_value: float | None = None) -> bool:
    """The one closeness rule: ``student`` is a tensor (or number) of the reference's shape, finite, and within
    ``tolerance`` of it under the course's gradient-check policy (:func:`helpers.gradcheck.compare`; ``f_value``
    when the reference comes from central differences). Shapes: any, equal."""
    if not isinstance(student, (torch.Tensor, int, float)) or isinstance(student, bool):
        return False
    student, reference = as_float64(student), as_float64(reference)
    if student.shape != reference.shape or not torch.isfinite(student).all():
        return False
    return compare("", student, reference, tolerance, f_value).passed


ROUNDING_ULPS = 8  # an update written in another order of operations differs by a few units in the last place


def within_rounding(student, reference: torch.Tensor, ulps: int = ROUNDING_ULPS) -> bool:
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


def diagnose(student, reference, mistakes: Mistakes, what: str = "the result",
             tolerance: float = AUTOGRAD_TOLERANCE) -> str:
    """The known mistake that turns ``reference`` into the student's ``student``, else a general hint.

    Shapes: ``student`` and ``reference`` any; each mistake maps the reference to what that mistake would
    have produced (e.g. ``{"the weight gradient is transposed": lambda g: g.T}``). The text never shows
    the expected numbers, only the expected shape when the shapes differ.
    """
    if not isinstance(student, torch.Tensor):
        try:
            student = as_float64(student)
        except (TypeError, ValueError, RuntimeError):
            return f"{what} is {type(student).__name__}, expected a tensor"
    reference = torch.as_tensor(reference)
    for description, mistaken in dict(mistakes).items():
        try:
            if close(student, mistaken(reference), tolerance):
                return description
        except (RuntimeError, ValueError, IndexError, TypeError):  # a mistake that does not apply to these shapes
            continue
    if student.shape != reference.shape:
        return f"{what} has shape {tuple(student.shape)}, expected {tuple(reference.shape)}"
    if not torch.isfinite(student).all():
        return f"{what} holds inf or nan"
    return f"{what} differs from the reference; no common mistake matches: re-derive it on paper"


def outcome(name: str, student, reference, mistakes: Mistakes | None = None, what: str = "the result",
            tolerance: float = AUTOGRAD_TOLERANCE, f_value: float | None = None) -> CheckOutcome:
    """One check: ``student`` against ``reference`` by :func:`close`; on failure, the matching mistake."""
    if close(student, reference, tolerance, f_value):
        return CheckOutcome(name, True)
    return CheckOutcome(name, False, diagnose(student, reference, mistakes or {}, what, tolerance))


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
    return CheckOutcome(name, False, diagnose(student, reference, mistakes or {}, what))


def first_failure(name: str, outcomes: list[CheckOutcome]) -> CheckOutcome:
    """Several comparisons as one check: passed if all did, else the first failure's diagnosis."""
    for each in outcomes:
        if not each.passed:
            return CheckOutcome(name, False, f"{each.name}: {each.diagnosis}")
    return CheckOutcome(name, True)


def torch_sgd_step(params: list[torch.Tensor], grads: list[torch.Tensor], momentum_buffers: list,
                   lr: float, momentum: float = 0.0, weight_decay: float = 0.0, dampening: float = 0.0,
                   nesterov: bool = False, maximize: bool = False) -> None:
    """One step of ``torch.optim.SGD``'s own update on ``params``, in place: ``torch.optim.sgd.sgd``, the function
    ``SGD.step`` runs (its single-tensor path, the one it takes on the CPU), without an optimiser object.

    Shapes: each gradient like its parameter; ``momentum_buffers`` has one entry per parameter (None before the
    first step) and is updated in place, as the optimiser's state would be. Building a ``torch.optim.SGD`` (or
    stepping one) imports torch's compiler, about 80 MiB that the checking kernel would then hold beside the
    sandbox's own (docs/pod_memory.md)."""
    with torch.no_grad():
        _torch_sgd(params, grads, momentum_buffers, weight_decay=weight_decay, momentum=momentum, lr=lr,
                   dampening=dampening, nesterov=nesterov, maximize=maximize, foreach=False)


# -- inputs and trusted-side plumbing ------------------------------------------------------------------------


def seeded(seed: int) -> torch.Generator:
    """A CPU generator for the check inputs numbered ``seed``: seeded with ``seed`` itself in the default variant
    (the instructor edition, the planted-bug tests), else with the student's own seed
    (:func:`helpers.runtime.variant.check_seed`), so every check draws the same inputs for one student every time
    and other inputs for another student. (Checks against results stored for fixed inputs, notebook 05's
    ``expected_dream.pt``, seed their generators themselves and stay fixed.)"""
    return torch.Generator().manual_seed(variant.check_seed(seed))


def randn(generator: torch.Generator, *shape: int) -> torch.Tensor:
    """Standard normal float64 draws of ``shape`` from ``generator``."""
    return torch.randn(*shape, dtype=torch.float64, generator=generator)


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
