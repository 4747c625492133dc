"""Where the checks of notebook 05 get their expected values: computed from the references, or stored.

In the instructor's project (and so under nbgrader, whose trusted checker is the instructor's project) the
references of :mod:`helpers.dream_references` are there: each check computes its expected values -- the right
result and what each known mistake gives -- from them, on the *hidden* inputs (:data:`HIDDEN_INPUTS`). The
student edition holds no reference (nothing in it is a solution of an exercise): its self-checks compare with
the values stored in :data:`EXPECTED_FILE`, which the edition tool writes from the instructor's references
(:func:`expected_file_bytes`) for *other* fixed inputs (:data:`SHIPPED_INPUTS`). So a solution that returns
the stored values for the stored inputs passes the self-check and still fails grading. The comparisons are the
same code either way; only the source of the expected values differs.

Expected values are nested dicts of tensors, numbers, bools and strings (``torch.load(weights_only=True)``).
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import io
from pathlib import Path
from typing import Callable

import torch

EXPECTED_FILE = Path(__file__).with_name("expected_dream.pt")
HIDDEN_INPUTS, SHIPPED_INPUTS = 0, 1  # input variants: the grader's, the student edition's self-check's

_stored_only = contextvars.ContextVar("stored_only", default=False)


def references_available() -> bool:
    """Whether this project has the references (the instructor's project), unless :func:`stored_only` is on."""
    if _stored_only.get():
        return False
    return (Path(__file__).resolve().parents[1] / "dream_references.py").is_file()  # beside these checks' helpers


@contextlib.contextmanager
def stored_only(path: Path | None = None):
    """Within: the checks use the stored expected values (of ``path``, default :data:`EXPECTED_FILE`), as in the
    student edition, even where the references are available (tests compare both sides)."""
    token = _stored_only.set(path or True)
    try:
        yield
    finally:
        _stored_only.reset(token)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> dict:
    return torch.load(path, weights_only=True)


def expected_values(exercise_id: str, compute: Callable[[int], dict]) -> tuple[int, dict]:
    """(input variant, expected values) of an exercise: ``compute(HIDDEN_INPUTS)`` where the references are
    available, else the stored values for :data:`SHIPPED_INPUTS`."""
    if references_available():
        return HIDDEN_INPUTS, compute(HIDDEN_INPUTS)
    chosen = _stored_only.get()
    path = Path(chosen) if isinstance(chosen, Path) else EXPECTED_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is missing: rebuild the student edition (python -m tools.editions)")
    return SHIPPED_INPUTS, _load(str(path), path.stat().st_mtime)[exercise_id]


def expected_file_bytes() -> bytes:
    """The stored expected values of exercises 5.1-5.3 for :data:`SHIPPED_INPUTS`, as the file's bytes (the
    edition tool writes them; computing them needs the references)."""
    from helpers.checks import nb05_dream as exercises_dream
    with torch.random.fork_rng(devices=[]):
        values = {exercise_id: compute(SHIPPED_INPUTS) for exercise_id, compute in exercises_dream.EXPECTED.items()}
    buffer = io.BytesIO()
    torch.save(values, buffer)
    return buffer.getvalue()


def mistakes_of(reference, mistakes: dict) -> dict:
    """{mistake: what it gives} for ``{mistake: reference -> result}``; a mistake that does not apply to these
    shapes (it raises) is left out."""
    found = {}
    for description, mistaken in mistakes.items():
        try:
            found[description] = torch.as_tensor(mistaken(reference)).detach().clone()
        except (RuntimeError, ValueError, IndexError):
            continue
    return found


def as_mistakes(stored: dict) -> dict:
    """The stored ``{mistake: result}`` as :func:`helpers.checks.exercises.diagnose` takes them."""
    return {description: (lambda value: lambda _: value)(value) for description, value in stored.items()}
