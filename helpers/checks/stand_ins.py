"""Student edition only: while an exercise is a stub, the notebook uses a labelled reference instead.

The student edition (``tools.editions``) turns each solution block into a stub that raises
:class:`helpers.runtime.exercises.ExerciseNotDone`, and adds one line to the copy's ``helpers/__init__.py`` that
calls :func:`install`. From then on every ``helpers`` module, once imported, has each function (or method) that
holds a stub wrapped: the student's code runs first; if it raises ``ExerciseNotDone``, the reference that the
exercise registry names for it (:attr:`helpers.checks.toolkit.Exercise.stand_ins`) is called instead, and the cell
says so once. In a notebook the same happens to functions a cell defines (an IPython post-run hook).

So the lesson modules hold nothing but their solution blocks: which reference stands in for what is written
once, in the check module of the notebook. The checks' sandbox calls
:func:`helpers.runtime.exercises.no_stand_ins` first: there an unfinished exercise fails its checks.
"""
from __future__ import annotations

import functools
import types
from typing import Callable

from helpers.runtime.exercises import ExerciseNotDone, announce_stand_in, stand_ins_allowed
from helpers.runtime.imports import after_import

NOTEBOOK = "__notebook__"


def _holds_stub(code: types.CodeType) -> bool:
    """Whether ``code`` (or a function nested in it) raises :class:`ExerciseNotDone`, the stub's mark."""
    return "ExerciseNotDone" in code.co_names or any(
        isinstance(const, types.CodeType) and _holds_stub(const) for const in code.co_consts)


@functools.lru_cache(maxsize=None)  # a training loop calls a stubbed function thousands of times
def _reference_for(target: str) -> tuple[Callable, str]:
    from helpers.checks.exercises import all_exercises  # at call time: every lesson module is imported by then
    for exercise in all_exercises().values():
        if target in exercise.stand_ins:
            return exercise.stand_ins[target]
    raise LookupError(f"no exercise names a stand-in for {target}")


def _wrapped(function: Callable, target: str) -> Callable:
    @functools.wraps(function)
    def exercise(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ExerciseNotDone as not_done:
            if not stand_ins_allowed():
                raise
            try:
                reference, label = _reference_for(target)
            except LookupError:
                raise not_done from None
            announce_stand_in(not_done, label)
            return reference(*args, **kwargs)
    exercise.__stand_in_for__ = target
    return exercise


def _wrap_stubs(namespace: dict, owner: str) -> None:
    """Wrap, in place, every function of ``namespace`` (a module's, or a notebook's with ``owner`` ``"__main__"``)
    that holds a stub, and every such method of the classes it defines."""
    label = NOTEBOOK if owner == "__main__" else owner
    for name, value in list(namespace.items()):
        if getattr(value, "__module__", None) != owner:
            continue  # imported from elsewhere: wrapped in its own module
        if isinstance(value, types.FunctionType) and _holds_stub(value.__code__) \
                and not hasattr(value, "__stand_in_for__"):
            namespace[name] = _wrapped(value, f"{label}:{name}")
        elif isinstance(value, type):
            for attribute, member in list(vars(value).items()):
                static = isinstance(member, staticmethod)  # a torch.autograd.Function's backward
                function = member.__func__ if static else member
                if isinstance(function, types.FunctionType) and _holds_stub(function.__code__) \
                        and not hasattr(function, "__stand_in_for__"):
                    wrapped = _wrapped(function, f"{label}:{name}.{attribute}")
                    setattr(value, attribute, staticmethod(wrapped) if static else wrapped)


def _after_cell(*_) -> None:
    from IPython import get_ipython
    _wrap_stubs(get_ipython().user_ns, "__main__")


def _is_lesson(name: str) -> bool:
    return name.startswith("helpers.") and not name.startswith("helpers.checks")


_installed = []


def install() -> None:
    """Wrap the stubs of every ``helpers`` module imported from now on (and of those already imported), and of
    every function a notebook cell defines. Called once by the student edition's ``helpers/__init__.py``."""
    if _installed:
        return
    _installed.append(True)
    after_import(_is_lesson, lambda module: _wrap_stubs(module.__dict__, module.__name__))
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        shell.events.register("post_run_cell", _after_cell)
