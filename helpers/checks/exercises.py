"""The course's exercises and the one call that checks each: ``check_exercise("3.1")``.

An :class:`Exercise` names what the student implements (files, functions), where the course sets it (the
handout), its points, the tools its code must not use (``forbid``) and a ``check`` that runs the student's
code through the kind of checks the course's grader uses (autograd, central differences, ``torch.optim``,
the course's own procedures) and returns one :class:`CheckOutcome` per check. A failed check carries a
*diagnosis*: the common mistake its result matches (weight gradient transposed, missing 1/N, ...), never
the expected values.

The student's code never runs in this process. ``check(student)`` gets a
:class:`helpers.checks.sandbox.StudentCode` session and calls the student's functions through it
(``student.call("helpers.spiral:spiral_grad", x)``); they run in a fresh sandboxed process and only data
comes back, which the check compares with references computed here. Under nbgrader (``NBGRADER_EXECUTION``
set) :func:`check_exercise` raises ``AssertionError`` when anything failed, so the autograded test cell
scores 0; in a notebook it only prints, so "Run All" goes on to the end.

The sandbox server (one per code folder) imports torch for itself, about 300 MiB, and is kept between checks
so that re-running a check is quick. On a hub, where every kernel's memory counts against a pod's limit, set
``BACKPROP_LAB_STOP_SANDBOX_BETWEEN_CHECKS=1`` (:data:`STOP_BETWEEN_CHECKS_ENV`): the server is then stopped as
soon as the notebook runs a cell that is not a check, before that cell trains or dreams beside it; checks run
one after another (or one check re-run while the student edits) keep it (docs/pod_memory.md).

The exercises of each notebook live in its check module (``nb00_graphs`` ... ``nb05_dream``, listed in
:data:`NOTEBOOK_CHECKS`), each defining ``EXERCISES``: a tuple of :class:`helpers.checks.toolkit.Exercise`.
"""
from __future__ import annotations

import ast
import inspect
import linecache
import os
from dataclasses import dataclass
from pathlib import Path


from helpers.checks import nb00_graphs, nb01_spiral, nb02_mlp, nb03_delta_rule, nb04_catcar, nb05_dream
from helpers.checks.grading_kernel import submission_copy
from helpers.checks.sandbox import (ForbiddenToolUsed, SandboxUnavailable, StudentCodeError, close_all, isolation,
                                    sandbox_for)
from helpers.checks.toolkit import CheckOutcome, Exercise
from helpers.runtime.exercises import ExerciseNotDone, is_grading

NOTEBOOK_CHECKS = (nb00_graphs, nb01_spiral, nb02_mlp, nb03_delta_rule, nb04_catcar, nb05_dream)
STOP_BETWEEN_CHECKS_ENV = "BACKPROP_LAB_STOP_SANDBOX_BETWEEN_CHECKS"  # "1": a hub's memory-lean setting
CHECK_CALL = "check_exercise("  # what every check cell calls


@dataclass
class ExerciseResult:
    """The outcome of :func:`run_checks` (shapes: none)."""
    exercise: Exercise
    outcomes: list[CheckOutcome]
    not_done: ExerciseNotDone | None = None
    notes: tuple[str, ...] = ()  # under grading: the isolation used, submitted files that were ignored

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
        return rows + [f"  ({note})" for note in self.notes]


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the course in notebook order, by id within a notebook (notebook 00's three sessions
    keep the ids 0.1-0.12 of one notebook, so the ids alone are not in notebook order)."""
    found = {}
    for module in NOTEBOOK_CHECKS:
        for exercise in module.EXERCISES:
            if exercise.id in found:
                raise ValueError(f"exercise id {exercise.id!r} is defined twice ({module.__name__})")
            found[exercise.id] = exercise
    return dict(sorted(found.items(), key=lambda item: (item[1].notebook,
                                                        tuple(int(part) for part in item[0].split(".")))))


def exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; a clear error listing the known ids otherwise."""
    exercises = all_exercises()
    if exercise_id not in exercises:
        raise KeyError(f"no exercise {exercise_id!r}; the exercises are {', '.join(exercises)}")
    return exercises[exercise_id]


_submitted_cells: list[str] = []


def submit_cell(source: str) -> None:
    """Under autograding, a solution cell of the notebook is not run here: its source is kept for the
    sandbox, which runs it when a check needs the function it defines (see ``tools.grading``)."""
    _submitted_cells.append(source)


def _defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def _notebook_cells(chosen: Exercise) -> tuple[str, ...]:
    """The source of the cells that define the exercise's functions: the submitted cells under grading,
    else the cells the notebook's kernel last ran (the function's defining cell, whole)."""
    wanted = set(chosen.functions)
    if _submitted_cells:
        return tuple(cell for cell in _submitted_cells if _defined_names(cell) & wanted)
    try:
        from IPython import get_ipython
        namespace = get_ipython().user_ns
    except (ImportError, AttributeError):
        return ()
    cells = []
    for name in chosen.functions:
        function = namespace.get(name)
        try:  # the cell that defined it (past the student edition's stand-in wrapper)
            filename = inspect.getsourcefile(inspect.unwrap(function))
        except (TypeError, ValueError):
            continue
        source = "".join(linecache.getlines(filename)) if filename else ""
        if source and source not in cells:
            cells.append(source)
    return tuple(cells)


def code_root() -> tuple[Path, tuple[str, ...]]:
    """The folder whose ``helpers/`` holds the student's code, and notes for the output.

    Under autograding (the grader sets :data:`GRADING_SOURCE_ENV`): a private read-only copy of the course's
    ``helpers/`` with the submission's own files (the current folder) laid over it
    (:func:`helpers.checks.grading_kernel.submission_copy`); else the folder this ``helpers`` package was imported
    from (the student's workspace, or the instructor's project)."""
    copy = submission_copy()
    if copy is None:
        return Path(__file__).resolve().parents[2], ()
    notes = [f"isolation: {isolation()}"]
    if copy.ignored:
        notes.append("ignored (not part of the work this course grades): " + ", ".join(copy.ignored))
    return copy.root, tuple(notes)


def run_checks(exercise_id: str, workspace: Path | None = None, notebook_cells: tuple[str, ...] | None = None
               ) -> ExerciseResult:
    """Run one exercise's checks on the student's code; never raises for the student's mistakes.

    ``workspace``: the folder whose ``helpers/`` holds the code to check (default: :func:`code_root`);
    ``notebook_cells``: for an exercise written in the notebook, the source of its solution cells (default:
    found in the running notebook). An error in the student's code becomes one failed outcome naming it.
    """
    chosen = exercise(exercise_id)
    root, notes = (Path(workspace), ()) if workspace is not None else code_root()
    cells = tuple(notebook_cells) if notebook_cells is not None else (
        _notebook_cells(chosen) if chosen.in_notebook else ())
    if chosen.in_notebook and not cells:
        missing = ExerciseNotDone(chosen.functions[0], chosen.files[0], chosen.id)
        return ExerciseResult(chosen, [], missing, notes)
    try:
        with sandbox_for(root).session(forbid=chosen.forbid, notebook_cells=cells) as student:
            return ExerciseResult(chosen, list(chosen.check(student)), None, notes)
    except ExerciseNotDone as not_done:
        return ExerciseResult(chosen, [], not_done, notes)
    except ForbiddenToolUsed as forbidden:
        outcome = CheckOutcome(f"uses only the allowed tools ({forbidden})", False,
                               f"this exercise asks you to do it without {forbidden.tool}: {forbidden.group}")
        return ExerciseResult(chosen, [outcome], None, notes)
    except SandboxUnavailable as error:
        outcome = CheckOutcome(f"the checks' sandbox starts ({error})", False,
                               "not your code: the sandbox that runs it could not start; show this to your instructor")
        return ExerciseResult(chosen, [outcome], None, notes)
    except StudentCodeError as error:
        outcome = CheckOutcome(f"your code runs ({error})", False, "fix the error first, then re-run the check")
        return ExerciseResult(chosen, [outcome], None, notes)
    except Exception as error:  # noqa: BLE001 - what came back has another form than the exercise asks for
        outcome = CheckOutcome(f"your result has the form the exercise asks for ({type(error).__name__}: {error})",
                               False, "compare what you return with the exercise's statement (types, shapes)")
        return ExerciseResult(chosen, [outcome], None, notes)


def check_exercise(exercise_id: str, *arguments) -> None:
    """Print pass/fail per check (and diagnoses); under nbgrader, fail the cell unless everything passed.

    (``arguments`` are accepted for old notebooks that passed their function; the function's cell is found
    by name.)"""
    result = run_checks(exercise_id)
    stop_sandbox_between_checks()
    print("\n".join(result.lines()))
    if is_grading() and not result.passed:
        raise AssertionError(result.summary())


def _stop_unless_a_check(info) -> None:
    """IPython's ``pre_run_cell``: a cell that is not a check is about to run, so the sandbox servers go."""
    if CHECK_CALL not in (getattr(info, "raw_cell", None) or ""):
        close_all()


def stop_sandbox_between_checks(shell=None) -> bool:
    """With :data:`STOP_BETWEEN_CHECKS_ENV` set to 1, have the running IPython (or ``shell``) stop the sandbox
    servers before any cell that is not a check (registered once); returns whether that hook is in place."""
    if os.environ.get(STOP_BETWEEN_CHECKS_ENV, "").strip() != "1":
        return False
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    if _stop_unless_a_check not in shell.events.callbacks["pre_run_cell"]:
        shell.events.register("pre_run_cell", _stop_unless_a_check)
    return True
