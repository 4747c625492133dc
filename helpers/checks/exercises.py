"""The course's exercises and the one call that checks each: ``check_exercise("3.1")``.

An :class:`Exercise` names what the student implements (files, functions), where the course sets it (the
handout), its points, and a ``check`` that runs the student's code through the kind of checks the course's
grader uses (autograd, central differences, ``torch.optim`` bit for bit, the course's own procedures) and
returns one :class:`CheckOutcome` per check. A failed check carries a *diagnosis*: the common mistake its
result matches (weight gradient transposed, missing 1/N, ...), never the expected values.

The checks run inside :func:`helpers.runtime.exercises.student_code_only`: an unfinished exercise fails
("not done yet") instead of borrowing the reference result the notebooks use meanwhile. Under nbgrader
(``NBGRADER_EXECUTION`` set) :func:`check_exercise` raises ``AssertionError`` when anything failed, so the
autograded test cell scores 0; in a notebook it only prints, so "Run All" goes on to the end.

The exercises of each notebook live in their topic module (:data:`TOPIC_MODULES`), each defining
``EXERCISES``: a tuple of :class:`Exercise`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import torch

from helpers.runtime.exercises import ExerciseNotDone, is_grading, student_code_only

TOPIC_MODULES = ("helpers.checks.exercises_scalar", "helpers.checks.exercises_mlp",
                 "helpers.checks.exercises_training", "helpers.checks.exercises_dream")


@dataclass(frozen=True)
class CheckOutcome:
    """One check of an exercise: what was checked, whether it passed, and on failure the likely mistake."""
    name: str
    passed: bool
    diagnosis: str = ""


@dataclass(frozen=True)
class Exercise:
    """One exercise (shapes: none). ``check(*arguments)`` returns the list of :class:`CheckOutcome`;
    notebook exercises (a function the student writes in a cell) take that function as the argument."""
    id: str                      # "3.1": notebook 3, first exercise
    title: str                   # "backpropagation by the delta rule"
    notebook: str                # "03_mynet_delta_rule"
    handout: str                 # "INF265 §2"
    points: int
    files: tuple[str, ...]       # what to open, relative to the workspace ("helpers/mynet.py")
    functions: tuple[str, ...]   # what to implement ("backpropagation")
    check: Callable[..., list[CheckOutcome]]
    diagnoses: tuple[str, ...] = ()  # the mistakes its checks recognise, for the exercise table


@dataclass
class ExerciseResult:
    """The outcome of :func:`run_checks` (shapes: none)."""
    exercise: Exercise
    outcomes: list[CheckOutcome]
    not_done: ExerciseNotDone | None = None

    @property
    def passed(self) -> bool:
        return self.not_done is None and bool(self.outcomes) and all(o.passed for o in self.outcomes)

    def summary(self) -> str:
        e = self.exercise
        if self.not_done is not None:
            return (f"Exercise {e.id} ({e.title}): not done yet: implement `{self.not_done.function}` in "
                    f"{self.not_done.path}")
        passed = sum(o.passed for o in self.outcomes)
        verdict = "all passed" if self.passed else "FAILED"
        return f"Exercise {e.id} ({e.title}): {passed}/{len(self.outcomes)} checks passed, {verdict}"

    def lines(self) -> list[str]:
        rows = [self.summary()]
        for outcome in self.outcomes:
            rows.append(f"  {'pass' if outcome.passed else 'FAIL'}  {outcome.name}")
            if not outcome.passed and outcome.diagnosis:
                rows.append(f"        diagnosis: {outcome.diagnosis}")
        return rows


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the course by id, in notebook order (imports the topic modules)."""
    found = {}
    for name in TOPIC_MODULES:
        for exercise in importlib.import_module(name).EXERCISES:
            if exercise.id in found:
                raise ValueError(f"exercise id {exercise.id!r} is defined twice ({name})")
            found[exercise.id] = exercise
    return dict(sorted(found.items(), key=lambda item: tuple(int(part) for part in item[0].split("."))))


def exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; a clear error listing the known ids otherwise."""
    exercises = all_exercises()
    if exercise_id not in exercises:
        raise KeyError(f"no exercise {exercise_id!r}; the exercises are {', '.join(exercises)}")
    return exercises[exercise_id]


def run_checks(exercise_id: str, *arguments) -> ExerciseResult:
    """Run one exercise's checks on the student's code; never raises for the student's mistakes.

    An error raised inside the student's code becomes one failed outcome naming it (no torch traceback).
    """
    chosen = exercise(exercise_id)
    with student_code_only():
        try:
            return ExerciseResult(chosen, list(chosen.check(*arguments)))
        except ExerciseNotDone as not_done:
            return ExerciseResult(chosen, [], not_done)
        except Exception as error:  # the student's code crashed: report it as a failed check
            name = f"your code runs ({type(error).__name__}: {error})"
            return ExerciseResult(chosen, [CheckOutcome(name, False, "fix the error first, then re-run the check")])


def check_exercise(exercise_id: str, *arguments) -> None:
    """Print pass/fail per check (and diagnoses); under nbgrader, fail the cell unless everything passed."""
    result = run_checks(exercise_id, *arguments)
    print("\n".join(result.lines()))
    if is_grading() and not result.passed:
        raise AssertionError(result.summary())


# Helpers for the topic modules' checks -------------------------------------------------------------


def matches(student: torch.Tensor, reference: torch.Tensor, tolerance: float = 1e-8) -> bool:
    """Whether ``student`` equals ``reference`` in shape and, elementwise, to ``tolerance`` relative to
    the reference's largest entry (float64 checks; shapes: any, equal)."""
    student, reference = torch.as_tensor(student), torch.as_tensor(reference)
    if student.shape != reference.shape or not torch.isfinite(student).all():
        return False
    scale = max(reference.abs().max().item() if reference.numel() else 0.0, 1e-12)
    return (student.double() - reference.double()).abs().max().item() <= tolerance * scale


def diagnose(student, reference: torch.Tensor, mistakes: dict[str, Callable[[torch.Tensor], torch.Tensor]],
             what: str = "the result") -> str:
    """The known mistake that turns ``reference`` into the student's ``student``, else a general hint.

    Shapes: ``student`` and ``reference`` any; each mistake maps the reference to what that mistake would
    have produced (e.g. ``{"the weight gradient is transposed": lambda g: g.T}``). The text never shows
    the expected numbers, only the expected shape when the shapes differ.
    """
    student = torch.as_tensor(student)
    for description, mistaken in mistakes.items():
        try:
            if matches(student, mistaken(reference)):
                return description
        except (RuntimeError, ValueError, IndexError):  # a mistake that does not apply to these shapes
            continue
    if student.shape != reference.shape:
        return f"{what} has shape {tuple(student.shape)}, expected {tuple(reference.shape)}"
    if not torch.isfinite(student).all():
        return f"{what} holds inf or nan"
    return f"{what} differs from the reference; no common mistake matches: re-derive it on paper"
