"""Per-student variants: who the student is, and the numbers drawn for them.

Every numeric question and every check input that differs between students is drawn from a seed derived from
the assignment, the student's id and a label naming what is drawn (``"cs475-task1"``, ``"spiral-start"``,
``"check-seed-14"``): :func:`derived_seed`, SHA-256 of the three (never Python's ``hash()``, which changes from
one process to the next). With no student id (the instructor edition: the committed notebooks, ``make test``,
``tools.refresh``) every draw is the **default variant**, today's numbers, so committed outputs stay
byte-identical.

Where the student's id comes from (:func:`student_id`), first match wins:

1. **autograding** (the grading kernel of ``tools.grading``, which sets :data:`GRADING_SOURCE_ENV`): the folder
   nbgrader runs the kernel in, ``<course>/autograded/<student_id>/<assignment>/`` (nbgrader 0.9 starts the
   kernel in the notebook's folder: ``Autograde.convert_single_notebook`` executes the copy in ``autograded/``,
   and nbconvert passes that folder to the kernel as its cwd). That folder is named by nbgrader, not by the
   submission, and nothing else is consulted: no file of the submission, no environment variable;
2. :func:`as_student` (the instructor's ``python -m tools.grading key STUDENT``, tests);
3. in a student edition only (``SHOWS_ANSWERS`` False): a JupyterHub single-user server's
   :data:`HUB_USER_ENV`, else the id recorded in the workspace by ``python -m tools.editions FOLDER --student
   ID`` (:data:`STUDENT_FILE` beside ``helpers/``). The instructor edition ignores both, so an instructor's
   own hub server still shows the default variant.

Draws: :func:`generator` (a torch generator per label, e.g. ``generator("spiral-start", default_seed=3)``),
:func:`numbers` (a named point, one decimal, in given ranges), :func:`check_seed` (what
:func:`helpers.checks.toolkit.seeded` mixes into every check's inputs). Shapes: none.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import re
from pathlib import Path
from typing import Callable, Mapping

ASSIGNMENT = "backprop-lab"  # the nbgrader assignment (tools.grading uses this name)
HUB_USER_ENV = "JUPYTERHUB_USER"
STUDENT_FILE = ".backprop-lab-student"  # in a workspace, beside helpers/: the id given to tools.editions
GRADING_SOURCE_ENV = "BACKPROP_LAB_GRADING_SOURCE"  # the course's source/<assignment>/ (set by the grader)
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")  # what nbgrader and JupyterHub accept, roughly

_chosen: contextvars.ContextVar[str | None] = contextvars.ContextVar("variant_student", default=None)
_WORKSPACE = Path(__file__).resolve().parents[2]  # the folder holding this copy's helpers/


class VariantError(RuntimeError):
    """The student's id cannot be determined where it must be (under autograding), or is malformed."""


def valid_id(student: str) -> str:
    """``student`` if it is a plausible id (letters, digits, ``._@+-``, at most 100), else ValueError: what an
    instructor types (``--student``, ``key``). Ids from nbgrader's folders and the hub are taken as they are."""
    if not isinstance(student, str) or not STUDENT_ID.fullmatch(student):
        raise ValueError(f"a student id is 1-100 letters, digits or ._@+- (starting with a letter or digit), "
                         f"got {student!r}")
    return student


def grading_student(cwd: Path | None = None, source: str | None = None) -> str | None:
    """Under autograding (``source``: :data:`GRADING_SOURCE_ENV`, the course's ``source/<assignment>``), the
    student whose submission nbgrader is grading: ``cwd`` must be ``<course>/autograded/<student>/<assignment>``.
    None when not grading; :class:`VariantError` when grading elsewhere (no id means no fair grade)."""
    source = os.environ.get(GRADING_SOURCE_ENV) if source is None else source
    if not source:
        return None
    course, assignment = Path(source).resolve().parents[1], Path(source).name
    folder = (cwd or Path.cwd()).resolve()
    if folder.parent.parent != course / "autograded" or folder.name != assignment:
        raise VariantError(f"grading kernel started in {folder}, not in {course}/autograded/<student>/{assignment}: "
                           "the student's variant cannot be known")
    return folder.parent.name  # nbgrader's id, whatever its characters: it names the folder


def _recorded_student() -> str | None:
    try:
        text = (_WORKSPACE / STUDENT_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def student_id() -> str | None:
    """The student whose variant this process shows or checks (see the module's docstring), or None: the
    default variant."""
    graded = grading_student()
    if graded is not None:
        return graded
    chosen = _chosen.get()
    if chosen is not None:
        return chosen
    from helpers.runtime.edition import SHOWS_ANSWERS
    if SHOWS_ANSWERS:
        return None
    hub = os.environ.get(HUB_USER_ENV, "").strip()
    return hub or _recorded_student()


@contextlib.contextmanager
def as_student(student: str | None):
    """Within the block, the variant is ``student``'s (None: the default variant), unless autograding."""
    token = _chosen.set(None if student is None else valid_id(student))
    try:
        yield
    finally:
        _chosen.reset(token)


def record_student(workspace: Path, student: str) -> Path:
    """Record ``student`` as the owner of the workspace ``workspace`` (for ``tools.editions --student``)."""
    path = Path(workspace) / STUDENT_FILE
    path.write_text(valid_id(student) + "\n", encoding="utf-8")
    return path


def derived_seed(label: str, student: str, assignment: str = ASSIGNMENT) -> int:
    """A 63-bit seed from SHA-256 of ``assignment``, ``student`` and ``label``: the same in every process."""
    digest = hashlib.sha256("\x1f".join((assignment, student, label)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def check_seed(seed: int) -> int:
    """The seed a check's inputs are drawn with: ``seed`` itself in the default variant, else the student's."""
    student = student_id()
    return seed if student is None else derived_seed(f"check-seed-{seed}", student)


def generator(label: str, default_seed: int):
    """A torch CPU generator for ``label``: seeded with ``default_seed`` in the default variant, else from the
    student's id (e.g. ``generator("spiral-start", 3)`` for notebook 01's start points)."""
    import torch
    student = student_id()
    seed = default_seed if student is None else derived_seed(label, student)
    return torch.Generator().manual_seed(seed)


def numbers(label: str, default: Mapping[str, float], ranges: Mapping[str, tuple[float, float]],
            decimals: int | Mapping[str, int] = 1, valid: Callable[[dict], bool] | None = None,
            student: str | None = ...) -> dict[str, float]:
    """The named numbers of one question: ``default`` in the default variant, else each drawn uniformly from
    its ``ranges[name]`` (low, high), rounded to ``decimals`` (per name, or one for all: numbers a student can
    work with by hand), drawn again (deterministically) until ``valid(numbers)`` holds, e.g. a residual that is
    not 0. ``student``: whose (default: :func:`student_id`). Shapes: none (floats by name, ``default``'s order)."""
    if set(ranges) != set(default):
        raise ValueError(f"ranges must name exactly {sorted(default)}, got {sorted(ranges)}")
    student = student_id() if student is ... else student
    if student is None:
        return dict(default)
    import random
    draw = random.Random(derived_seed(label, student))
    places = decimals if isinstance(decimals, Mapping) else dict.fromkeys(default, decimals)
    for _ in range(1000):
        drawn = {name: round(draw.uniform(*ranges[name]), places[name]) + 0.0 for name in default}  # no -0.0
        if valid is None or valid(drawn):
            return drawn
    raise ValueError(f"no valid draw for {label!r} in 1000 tries: widen its ranges")
