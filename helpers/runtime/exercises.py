"""Exercises a student has not done yet: the exception a student edition's stubs raise.

The student edition (``python -m tools.editions``) replaces each solution block by a stub that raises
:class:`ExerciseNotDone`, naming the exercise, the file to open and the function to implement, so a
notebook cell that reaches an unfinished exercise says what to do instead of a bare
``NotImplementedError``. It subclasses ``NotImplementedError``: code that already catches that keeps working.
"""
from __future__ import annotations


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
