"""The planted bugs of every exercise and the submissions the grading tests build from them.

Each topic's ``tests/exercise_bugs_<topic>.py`` defines ``PLANTED_BUGS = {exercise id: (path, old line,
mutated line, phrase its diagnosis prints)}``: a one-line textual mutation of the instructor's file (a helper
module, or a notebook whose solution cell holds the line), a typical mistake of that exercise.
"""
from __future__ import annotations

import functools
import importlib
import shutil
from pathlib import Path

import nbformat

from helpers.data.paths import PROJECT_ROOT
from tools.editions import student_files, student_notebook

TOPICS = ("scalar", "mlp", "training", "dream")


def all_planted_bugs() -> dict[str, tuple[str, str, str, str]]:
    """Every topic's planted bugs by exercise id."""
    bugs = {}
    for topic in TOPICS:
        bugs.update(importlib.import_module(f"exercise_bugs_{topic}").PLANTED_BUGS)
    return bugs


def mutate(text: str, old: str, new: str, where: str) -> str:
    """``text`` with the one line ``old`` (stripped match, indentation kept) replaced by ``new``."""
    lines = text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.strip() == old.strip()]
    if len(hits) != 1:
        raise AssertionError(f"{where}: the planted bug's line occurs {len(hits)} times, not once: {old!r}")
    line = lines[hits[0]]
    indent = line[:len(line) - len(line.lstrip())]
    lines[hits[0]] = indent + new.strip() + ("\n" if line.endswith("\n") else "")
    return "".join(lines)


@functools.lru_cache(maxsize=1)
def _handed_out() -> tuple[dict[str, bytes], dict[str, str]]:
    """(data and other non-code files as handed out, each notebook with solutions and metadata as text)."""
    files = {name: content for name, content in student_files().items()
             if not name.startswith("helpers/") and not name.endswith(".ipynb")}
    notebooks = {path.stem: nbformat.writes(student_notebook(path, keep_solutions=True))
                 for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))}
    return files, notebooks


def instructor_submission(folder: Path, bugs: list[tuple] = ()) -> Path:
    """A submission holding the instructor's solutions (helpers and notebook solution cells), with
    nbgrader's metadata, with the planted ``bugs`` (each as in ``PLANTED_BUGS``) applied."""
    files, solved = _handed_out()
    for relative, content in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(content)
    shutil.copytree(PROJECT_ROOT / "helpers", folder / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    for stem, text in solved.items():
        notebook = nbformat.reads(text, as_version=4)
        for bug in (b for b in bugs if b[0] == f"notebooks/{stem}.ipynb"):
            cells = [c for c in notebook.cells if c.cell_type == "code" and bug[1].strip() in
                     {line.strip() for line in c.source.splitlines()}]
            if len(cells) != 1:
                raise AssertionError(f"{stem}: the planted bug's line is in {len(cells)} cells, not one")
            cells[0].source = mutate(cells[0].source, bug[1], bug[2], stem)
        nbformat.write(notebook, folder / f"{stem}.ipynb")
    for bug in (b for b in bugs if b[0].startswith("helpers/")):
        target = folder / bug[0]
        target.write_text(mutate(target.read_text(), bug[1], bug[2], bug[0]))
    return folder
