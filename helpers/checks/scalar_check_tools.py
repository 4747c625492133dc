"""Building blocks of notebook 00's exercise checks: outcomes from a comparison with a reference, with the
diagnosis of the first matching mistake, and gradients by torch autograd and central differences.

The student's code never runs here: the checks pass in what it returned (data from the sandbox).

Shapes: gradients are float64 tensors (or numbers, turned into 0-dim tensors); a *gradient dict* maps
names (``"w"``, ``"v₁"``) to tensors of one common shape.
"""
from __future__ import annotations

from typing import Callable, Mapping

import torch

from helpers.checks.toolkit import CheckOutcome, diagnose
from helpers.checks.sandbox import ForbiddenToolUsed
from helpers.gradcheck import AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, compare, numerical_input_gradients
from helpers.runtime.exercises import ExerciseNotDone

Mistakes = Mapping[str, Callable[[torch.Tensor], torch.Tensor]]


def as_float64(value) -> torch.Tensor:
    """A number or tensor (any shape) as a detached float64 tensor."""
    return torch.as_tensor(value).detach().to(torch.float64) if isinstance(value, torch.Tensor) else \
        torch.as_tensor(value, dtype=torch.float64)


def close(student, reference, tolerance: float = AUTOGRAD_TOLERANCE) -> bool:
    """Same shape, finite, and within ``tolerance`` under the gradient-check policy (shapes: any, equal)."""
    student, reference = as_float64(student), as_float64(reference)
    if student.shape != reference.shape or not torch.isfinite(student).all():
        return False
    return compare("", student, reference, tolerance).passed


def outcome(name: str, student, reference, mistakes: Mistakes | None = None, what: str = "the result",
            tolerance: float = AUTOGRAD_TOLERANCE) -> CheckOutcome:
    """One check: ``student`` against ``reference`` (any equal shapes); on failure, the matching mistake."""
    if close(student, reference, tolerance):
        return CheckOutcome(name, True)
    return CheckOutcome(name, False, diagnose(as_float64(student), as_float64(reference), dict(mistakes or {}), what))


def stacked(gradients: Mapping[str, object], names) -> torch.Tensor:
    """The entries ``names`` of a gradient dict flattened into one float64 vector (missing names: nan)."""
    parts = [as_float64(gradients[n]).reshape(-1) if n in gradients else torch.tensor([float("nan")])
             for n in names]
    return torch.cat(parts)


def dict_outcome(name: str, student: Mapping, reference: Mapping, mistakes: Mapping[str, Callable[[dict], dict]] = (),
                 what: str = "the gradients") -> CheckOutcome:
    """A gradient dict against the reference dict; each mistake maps the reference dict to the entries that
    mistake changes (the others stay as in the reference)."""
    if not isinstance(student, Mapping) or set(student) != set(reference):
        got = sorted(student) if isinstance(student, Mapping) else type(student).__name__
        return CheckOutcome(name, False, f"{what} must be a dict with exactly the keys {sorted(reference)}, got {got}")
    names = list(reference)
    vector = lambda gradients: stacked({**reference, **gradients}, names)
    by_vector = {description: (lambda _, m=mistaken: vector(m(dict(reference)))) for description, mistaken in
                 dict(mistakes).items()}
    result = outcome(name, stacked(student, names), vector({}), by_vector, what)
    if not result.passed and result.diagnosis.startswith(what + " differs"):
        wrong = [n for n in names if not close(student[n], reference[n])]
        return CheckOutcome(name, False, f"wrong entries: {', '.join(wrong)}; no common mistake matches: "
                                         "re-derive them on paper")
    return result


def guarded(name: str, check: Callable[[], CheckOutcome]) -> CheckOutcome:
    """``check()``, or a failed outcome naming the error the student's code raised (not done yet and a
    forbidden tool propagate: :func:`helpers.checks.exercises.run_checks` reports them)."""
    try:
        return check()
    except (ExerciseNotDone, ForbiddenToolUsed):
        raise
    except Exception as error:  # the student's code crashed in this check only
        return CheckOutcome(name, False, f"your code raised {type(error).__name__}: {error}")


def autograd_gradients(function: Callable[..., torch.Tensor], *inputs) -> tuple[torch.Tensor, ...]:
    """∂(Σ function(inputs))/∂input by torch autograd in float64 (each of its input's shape)."""
    leaves = [as_float64(t).clone().requires_grad_() for t in inputs]
    gradients = torch.autograd.grad(function(*leaves).sum(), leaves, allow_unused=True, materialize_grads=True)
    return tuple(g.detach() for g in gradients)


def autograd_dict(function: Callable[..., torch.Tensor], **inputs) -> dict[str, torch.Tensor]:
    """{input name: ∂(Σ function(**inputs))/∂input} by torch autograd in float64."""
    gradients = autograd_gradients(lambda *leaves: function(**dict(zip(inputs, leaves))), *inputs.values())
    return dict(zip(inputs, gradients))


def central_difference_outcome(name: str, student: Mapping, function: Callable[..., torch.Tensor],
                               **inputs) -> CheckOutcome:
    """A gradient dict against central differences (h = 1e-6) of the scalar ``function(**inputs)``
    (float64 scalars in), under the policy's finite-difference tolerance."""
    values = {k: as_float64(v) for k, v in inputs.items()}
    numerical = numerical_input_gradients(lambda *t: function(**dict(zip(values, t))).sum(), *values.values())
    f_value = function(**values).sum().item()
    wrong = [k for k, estimate in zip(values, numerical)
             if k not in student or not compare(k, as_float64(student[k]), estimate, FINITE_DIFFERENCE_TOLERANCE,
                                                f_value).passed]
    return CheckOutcome(name, not wrong, f"differ from the central differences: {', '.join(wrong)}" if wrong else "")
