"""Workspaces for the exercise tests: the checks run the student's code from files in a sandbox, so a planted
bug or a stub is a file (or a notebook cell's source) the sandbox reads, never a patch of this process."""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import nbformat

from helpers.checks.exercises import exercise
from helpers.data.paths import PROJECT_ROOT
from tests.exercise_bugs import all_planted_bugs, mutate
from tools.editions import BEGIN, student_files, student_notebook


def _notebook_path(exercise_id: str) -> Path:
    return PROJECT_ROOT / "notebooks" / f"{exercise(exercise_id).notebook}.ipynb"


def solution_cells(notebook: nbformat.NotebookNode) -> tuple[str, ...]:
    """The sources of a notebook's code cells that hold a solution block (what a student writes)."""
    return tuple(cell.source for cell in notebook.cells if cell.cell_type == "code" and BEGIN in cell.source)


@functools.lru_cache(maxsize=None)
def instructor_cells(notebook_stem: str) -> tuple[str, ...]:
    """The instructor notebook's solution cells."""
    return solution_cells(nbformat.read(PROJECT_ROOT / "notebooks" / f"{notebook_stem}.ipynb", as_version=4))


def cells_for(exercise_id: str) -> tuple[str, ...] | None:
    """The instructor's solution cells for a notebook exercise, None for a helper-file exercise."""
    chosen = exercise(exercise_id)
    return instructor_cells(chosen.notebook) if chosen.in_notebook else None


def copy_helpers(folder: Path) -> Path:
    """``folder`` holding a copy of the instructor's ``helpers/`` (the solutions); returns ``folder``."""
    shutil.copytree(PROJECT_ROOT / "helpers", Path(folder) / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return Path(folder)


@functools.lru_cache(maxsize=1)
def _shared_copy() -> Path:
    return copy_helpers(Path(tempfile.mkdtemp(prefix="instructor-helpers-")))


_changed: set[str] = set()


def workspace_with(changes: dict[str, str]) -> Path:
    """This test process's one copy of the instructor's ``helpers/``, with ``changes`` (path relative to the
    workspace -> new text) written over those files and every earlier call's changes undone.

    One workspace means one sandbox server for all the tests that plant a mistake (starting one costs seconds):
    each check imports the files afresh, so it sees exactly the changes of the call before it.
    """
    workspace = _shared_copy()
    for path in _changed - set(changes):
        (workspace / path).write_bytes((PROJECT_ROOT / path).read_bytes())
    for path, text in changes.items():
        (workspace / path).write_text(text, encoding="utf-8")
    _changed.clear()
    _changed.update(changes)
    return workspace


def planted(exercise_id: str) -> tuple[Path, tuple[str, ...] | None]:
    """(workspace, notebook cells) with the exercise's planted bug (``tests/exercise_bugs_*.py``) applied:
    in the helper file (:func:`workspace_with`), or in the notebook's solution cell."""
    path, old, new, _ = all_planted_bugs()[exercise_id]
    if path.startswith("helpers/"):
        return workspace_with({path: mutate((PROJECT_ROOT / path).read_text(), old, new, path)}), None
    cells = [mutate(cell, old, new, path) if old.strip() in {line.strip() for line in cell.splitlines()} else cell
             for cell in instructor_cells(Path(path).stem)]
    return workspace_with({}), tuple(cells)


@functools.lru_cache(maxsize=1)
def student_workspace() -> Path:
    """A student edition's ``helpers/`` (every solution block a stub), written once per test process."""
    folder = Path(tempfile.mkdtemp(prefix="student-edition-"))
    for relative, content in student_files().items():
        if relative.startswith("helpers/"):
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(content)
    return folder


def student_cells(exercise_id: str) -> tuple[str, ...] | None:
    """The student edition's (stubbed) solution cells for a notebook exercise, None otherwise."""
    chosen = exercise(exercise_id)
    if not chosen.in_notebook:
        return None
    notebook = student_notebook(_notebook_path(exercise_id))
    return tuple(cell.source for cell in notebook.cells
                 if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"))
