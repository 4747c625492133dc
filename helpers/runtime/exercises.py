"""Exercises a student has not done yet: the stub's exception and the labelled reference used meanwhile.

The student edition (``python -m tools.editions``) replaces each solution block by a stub that raises
:class:`ExerciseNotDone`, naming the function to implement and the file to open. So that a student
notebook still runs top to bottom before every exercise is done, a *reference result* computed another way
(torch's autograd, ``torch.optim``) stands in meanwhile, and the cell says so once
(:mod:`helpers.checks.stand_ins`, which reads the references from the exercise registry). The checks run the
student's code in a sandbox process that calls :func:`no_stand_ins` first, so no reference stands in there: an
unfinished exercise fails its checks.
"""
from __future__ import annotations

import contextlib
import contextvars
import os

from helpers.runtime.headless import NBGRADER_ENV

_references_allowed = contextvars.ContextVar("references_allowed", default=True)
_announced: set[tuple[str, object]] = set()  # (function, cell) pairs already labelled


class ExerciseNotDone(NotImplementedError):
    """Raised by an exercise stub: "not done yet: implement `backpropagation` in helpers/mynet.py".

    Shapes: none (it carries three strings: ``function``, the qualified name to implement, e.g.
    ``Linear.backward``; ``path``, the file to open, relative to the student's workspace; ``exercise``,
    the exercise's name, by default ``<file stem>.<function>``).
    """

    def __init__(self, function: str, path: str, exercise: str | None = None):
        self.function, self.path = function, path
        self.exercise = exercise or f"{path.rsplit('/', 1)[-1].split('.')[0]}.{function}"
        super().__init__(f"not done yet: implement `{function}` in {path} (exercise {self.exercise}: "
                         "replace its `# YOUR CODE HERE` stub, then re-run this cell)")


# What a function that writes observations from the numbers returns in the student edition
# (helpers.runtime.edition.SHOWS_ANSWERS False): the interpretation is the student's answer, not the bundle's.
HIDDEN_OBSERVATIONS = ("*The bundle's observations are hidden in your edition: write your own in the answer cell "
                       "below, from the numbers above.*")


def is_grading() -> bool:
    """True while nbgrader executes the notebook (``NBGRADER_EXECUTION`` set: validate or autograde)."""
    return bool(os.environ.get(NBGRADER_ENV))


@contextlib.contextmanager
def student_code_only():
    """Within this block an unfinished exercise raises :class:`ExerciseNotDone`: no reference stands in.

    The exercise checks run here, so what they judge is the student's own code.
    """
    token = _references_allowed.set(False)
    try:
        yield
    finally:
        _references_allowed.reset(token)


def no_stand_ins() -> None:
    """From now on, in this whole process, an unfinished exercise raises :class:`ExerciseNotDone`: the checks'
    sandbox process calls this before it runs any of the student's code."""
    _references_allowed.set(False)


def stood_in_here() -> bool:
    """Whether a reference stood in for an unfinished exercise in the notebook cell running now (outside IPython:
    in this process at all). Its numbers at the student's own point may be answers to show only as ``?``."""
    cell = _current_cell()
    return any(announced_cell == cell for _, announced_cell in _announced)


def _current_cell() -> object:
    """An id of the notebook cell running now (IPython's execution count), or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "execution_count", None) if shell is not None else None


def stand_ins_allowed() -> bool:
    """Whether a reference may stand in for an unfinished exercise here (not inside the checks' sandbox)."""
    return _references_allowed.get()


def announce_stand_in(not_done: ExerciseNotDone, reference_name: str) -> None:
    """Print, once per notebook cell and function, that a reference result stands in for the student's code."""
    key = (not_done.function, _current_cell())
    if key not in _announced:
        _announced.add(key)
        print(f"[not done yet] `{not_done.function}` in {not_done.path}: this cell uses a reference result "
              f"({reference_name}) instead of your code until you implement it.")
