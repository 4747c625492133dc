"""Student versions (nbgrader style): ``python -m tools.editions [OUT]``, default ``report/student``.

Lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in the helpers package (its
sub-packages included) and in notebook code cells are replaced by ``# YOUR CODE HERE`` and
``raise NotImplementedError()`` at the same indentation; notebook outputs are cleared. The build
tooling (``tools/``) is not part of a student copy. The instructor's files are never modified, and
neither is anything else: OUT is replaced only when it is empty or an edition this command wrote
(it leaves a marker file there); a folder holding anything else is refused.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat

from helpers.data.paths import PROJECT_ROOT

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_MARKER = re.compile(r"^(\s*)(### (?:BEGIN|END) SOLUTION)\s*$")
EDITION_MARK = ".student-edition"  # written into every edition: marks a folder this command may replace


class ForeignFolderError(RuntimeError):
    """The output folder holds files this command did not write."""


def strip_solutions(source: str, origin: str = "<source>") -> str:
    """Replace every solution block of ``source`` by a stub; raises ValueError on unbalanced markers."""
    out, inside, indent = [], False, ""
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        match = _MARKER.match(line)
        if match and match.group(2) == BEGIN:
            if inside:
                raise ValueError(f"{origin}:{number}: nested {BEGIN}")
            inside, indent = True, match.group(1)
            out.append(f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()\n")
        elif match:
            if not inside:
                raise ValueError(f"{origin}:{number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{origin}: {BEGIN} is never closed")
    return "".join(out)


def student_notebook(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{path.name}")
            cell.outputs, cell.execution_count = [], None
    return notebook


def _package_sources(package: Path) -> list[Path]:
    """Every ``.py`` file of ``package`` and its sub-packages; hidden folders (checkpoints) skipped."""
    return sorted(p for p in package.rglob("*.py")
                  if not any(part.startswith(".") for part in p.relative_to(package).parts))


def build(out: Path, root: Path = PROJECT_ROOT) -> list[Path]:
    """Write student copies of ``helpers/**/*.py`` and ``notebooks/*.ipynb`` under ``out``."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / EDITION_MARK).is_file()):
            raise ForeignFolderError(f"{out} exists and is not a student edition written by this command: "
                                     "refusing to replace it; choose an empty or new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / EDITION_MARK).write_text("written by python -m tools.editions; replaced by its next run\n")
    written = []
    for source in _package_sources(root / "helpers"):
        target = out / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(strip_solutions(source.read_text(), str(source)))
        written.append(target)
    for source in sorted((root / "notebooks").glob("*.ipynb")):
        target = out / "notebooks" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_notebook(source), target)
        written.append(target)
    return written


if __name__ == "__main__":
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / "report" / "student"
    try:
        files = build(destination)
    except ForeignFolderError as error:
        sys.exit(f"make student: {error}")
    print(f"wrote {len(files)} student files to {destination}")
