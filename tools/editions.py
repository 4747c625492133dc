"""Student editions (nbgrader style): solution blocks become "not done yet" stubs.

Lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in the helpers package (its
sub-packages included) and in notebook code cells are replaced, at the same indentation, by
``# YOUR CODE HERE`` and a ``raise`` of :class:`helpers.runtime.exercises.ExerciseNotDone` naming the
function that encloses the block and the file to open; notebook outputs are cleared; Markdown cells
tagged ``answer`` become an empty answer box. Two files are written for the edition rather than copied:
``helpers/runtime/edition.py`` says ``SHOWS_ANSWERS = False`` (code that would draw an answer leaves it out), and
``helpers/__init__.py`` gains the call that lets a labelled reference stand in for an exercise not done yet
(:func:`helpers.checks.stand_ins.install`; the references are named in the exercise registry). The build tooling
(``tools/``) is not part of a student copy, and the instructor's files are never modified. The references
the checks of notebook 05 compute their expected values from (:data:`INSTRUCTOR_ONLY`) are left out: the
student edition gets their results for fixed inputs instead (``helpers/checks/expected_dream.pt``, see
:mod:`helpers.checks.nb05_dream`).

``python -m tools.editions [FOLDER] [--student ID] [--no-start-line]`` writes the student's workspace
(default ``student/``, git-ignored): see :mod:`tools.workspace`; ``--student`` records whose variant it
shows (:mod:`helpers.runtime.variant`), ``--no-start-line`` leaves out how to start JupyterLab (for a hub's
log). A folder it cannot write is one line naming it and the fix, and exit status 1.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat

from helpers.checks.exercises import all_exercises
from helpers.data.paths import PROJECT_ROOT
from helpers.runtime.writable import writing_in

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_MARKER = re.compile(r"^(\s*)(### (?:BEGIN|END) SOLUTION)\s*$")
_DEF_OR_CLASS = re.compile(r"^(\s*)(?:async\s+def|def|class)\s+(\w+)")


def _qualified_names(tree: ast.AST, prefix: str = "") -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name, is a class) of every def and class in ``tree``, outer first."""
    spans = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            spans.append((node.lineno, node.end_lineno, name, isinstance(node, ast.ClassDef)))
            spans.extend(_qualified_names(node, f"{name}."))
        else:
            spans.extend(_qualified_names(node, prefix))
    return spans


def enclosing_function(source: str, line: int) -> str | None:
    """Qualified name (``Linear.backward``) of the innermost def around 1-based ``line``, else None.

    Shapes: none (text in, a name out). Parses ``source`` with :mod:`ast`; a notebook cell that is not
    plain Python (IPython magics) falls back to the nearest less-indented ``def`` above the line.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        lines = source.splitlines()
        indent = len(lines[line - 1]) - len(lines[line - 1].lstrip())
        for text in reversed(lines[:line - 1]):
            match = _DEF_OR_CLASS.match(text)
            if match and len(match.group(1)) < indent and not text.lstrip().startswith("class"):
                return match.group(2)
        return None
    functions = [(first, last, name) for first, last, name, is_class in _qualified_names(tree)
                 if not is_class and first <= line <= last]
    return functions[-1][2] if functions else None


def stub(indent: str, function: str | None, display_path: str, line: int) -> str:
    """The lines that replace one solution block: where to work, then the "not done yet" raise."""
    target = function or f"the solution block at line {line}"
    return (f"{indent}# YOUR CODE HERE\n"
            f"{indent}from helpers.runtime.exercises import ExerciseNotDone\n"
            f"{indent}raise ExerciseNotDone({target!r}, {display_path!r})\n")


def strip_solutions(source: str, origin: str = "<source>", display_path: str | None = None) -> str:
    """Replace every solution block of ``source`` by a stub; raises ValueError on unbalanced markers.

    Shapes: none (text in, text out). ``origin`` names the source in error messages; ``display_path``
    is the file the stub tells the student to open (default ``origin``).
    """
    out, inside, indent = [], False, ""
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        match = _MARKER.match(line)
        if match and match.group(2) == BEGIN:
            if inside:
                raise ValueError(f"{origin}:{number}: nested {BEGIN}")
            inside, indent = True, match.group(1)
            function = enclosing_function(source, number)
            out.append(stub(indent, function, display_path or origin, number))
        elif match:
            if not inside:
                raise ValueError(f"{origin}:{number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{origin}: {BEGIN} is never closed")
    return "".join(out)


ANSWER_TAG = "answer"
ANSWER_BOX = "**Your answer:** _write it here (this cell is yours: replace this line)._"
ANSWER_POINTS = 1  # each written answer, graded by hand in nbgrader's formgrader (edit source/ to weigh them)


def _tagged(cell, prefix: str) -> str | None:
    """The value of the cell's ``<prefix>:<value>`` tag (``check:3.1`` -> ``3.1``), else None."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag.startswith(prefix + ":"):
            return tag.split(":", 1)[1]
    return None


def _nbgrader(kind: str, grade_id: str, points: int | None = None) -> dict:
    """nbgrader's cell metadata (schema 3) for a ``test`` (autograded), ``solution``, ``locked`` or ``answer``
    (a written answer, graded by hand) cell."""
    fields = {"test": (True, False, True), "solution": (False, True, False), "locked": (False, False, True),
              "answer": (True, True, False)}
    grade, solution, locked = fields[kind]
    metadata = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        metadata["points"] = points
    return metadata


def student_notebook(path: Path, display_path: str | None = None, keep_solutions: bool = False,
                     points: dict[str, int] | None = None) -> nbformat.NotebookNode:
    """One notebook as handed out (nbgrader's release): solutions out, outputs cleared, grading metadata in.

    Shapes: none (a notebook in, a notebook out). Code solution blocks become stubs naming
    ``display_path`` (default the file name: in a workspace the notebooks sit at its top level); Markdown
    cells tagged ``answer`` become an empty answer box. nbgrader metadata: a cell tagged ``check:<id>`` is
    an autograded test cell worth ``points[id]`` (default: the registered exercise's points), a code cell
    with a solution block is a solution cell, a cell tagged ``exercise:<id>`` (the statement) is locked, and
    an ``answer`` cell is a manually graded answer worth :data:`ANSWER_POINTS` (formgrader shows it).
    ``keep_solutions=True`` keeps the solutions (the instructor's submission, for testing the grading).
    """
    points = points if points is not None else {e.id: e.points for e in all_exercises().values()}
    notebook = nbformat.read(path, as_version=4)
    stem = path.stem.split("_")[0]
    for number, cell in enumerate(notebook.cells):
        check, statement = _tagged(cell, "check"), _tagged(cell, "exercise")
        if cell.cell_type == "code":
            has_solution = any(_MARKER.match(line) for line in cell.source.splitlines())
            if not keep_solutions:
                cell.source = strip_solutions(cell.source, path.name, display_path or path.name)
            cell.outputs, cell.execution_count = [], None
            if check is not None:
                if check not in points:
                    raise ValueError(f"{path.name}: cell {number} checks exercise {check!r}, which is not registered "
                                     f"in helpers.checks.exercises (known: {', '.join(points)})")
                cell.metadata["nbgrader"] = _nbgrader("test", f"check_{check.replace('.', '_')}", points[check])
            elif has_solution:
                cell.metadata["nbgrader"] = _nbgrader("solution", f"solution_{stem}_{number}")
        elif statement is not None:
            cell.metadata["nbgrader"] = _nbgrader("locked", f"exercise_{statement.replace('.', '_')}")
        elif ANSWER_TAG in cell.metadata.get("tags", []):
            if not keep_solutions:
                cell.source = ANSWER_BOX
            cell.metadata["nbgrader"] = _nbgrader("answer", f"answer_{stem}_{number}", ANSWER_POINTS)
    return notebook


def exercise_files(root: Path = PROJECT_ROOT) -> list[str]:
    """The helper files holding solution blocks (the student's work), relative to ``root``; shapes: none."""
    return [source.relative_to(root).as_posix() for source in _package_sources(root / "helpers")
            if any(_MARKER.match(line) for line in source.read_text().splitlines())]


def _package_sources(package: Path) -> list[Path]:
    """Every ``.py`` file of ``package`` and its sub-packages; hidden folders (checkpoints) skipped."""
    return sorted(p for p in package.rglob("*.py")
                  if not any(part.startswith(".") for part in p.relative_to(package).parts))


EDITION_FILE = "helpers/runtime/edition.py"
STUDENT_EDITION = '''"""Which edition this copy of the helpers is: a student's (written by ``python -m tools.editions``).

Code that would print or draw an answer (a formula that is an exercise's solution) leaves it out here.
"""
SHOWS_ANSWERS = False
'''
PACKAGE_INIT = "helpers/__init__.py"
STAND_INS = ("\n\n# Student edition: while an exercise is a stub, a labelled reference stands in (helpers.checks.stand_ins).\n"
             "from helpers.checks.stand_ins import install as _install_stand_ins  # noqa: E402\n\n"
             "_install_stand_ins()\n")


# Complete solutions of exercises (the references of notebook 05's checks): never in a student edition.
INSTRUCTOR_ONLY = ("helpers/checks/nb05_dream_references.py",)
EXPECTED_DREAM = "helpers/checks/expected_dream.pt"  # their results for the shipped inputs, written instead


def student_files(root: Path = PROJECT_ROOT) -> dict[str, bytes]:
    """Every file of a student workspace, by path relative to it: stubbed helpers, notebooks, data.

    Shapes: none (``{"helpers/mynet.py": b"...", "03_mynet_delta_rule.ipynb": b"...",
    "data/rainfall.pt": b"..."}``). Notebooks sit at the top level beside ``helpers/``, so a kernel
    started in their folder imports the student's helpers; the small files committed under ``data/``
    (``data/*.pt``) are copied (the workspace has its own caches, :mod:`tools.workspace`). The files of
    :data:`INSTRUCTOR_ONLY` are left out; :data:`EXPECTED_DREAM` holds the expected values of the checks of
    5.1-5.3 for the student edition's inputs, computed from this project's references.
    """
    files = {}
    for source in _package_sources(root / "helpers"):
        relative = source.relative_to(root).as_posix()
        if relative in INSTRUCTOR_ONLY:
            continue
        text = STUDENT_EDITION if relative == EDITION_FILE else strip_solutions(source.read_text(), str(source), relative)
        files[relative] = (text.rstrip("\n") + STAND_INS if relative == PACKAGE_INIT else text).encode()
    if (root / INSTRUCTOR_ONLY[0]).is_file():  # this bundle (not a project without notebook 05)
        files[EXPECTED_DREAM] = _expected_dream()
    for source in sorted((root / "notebooks").glob("*.ipynb")):
        files[source.name] = nbformat.writes(student_notebook(source)).encode() + b"\n"
    for source in sorted(p for p in (root / "data").glob("*.pt") if p.is_file()):  # the committed ones
        files[f"data/{source.name}"] = source.read_bytes()
    if (root / "requirements.txt").is_file():
        files["requirements.txt"] = (root / "requirements.txt").read_bytes()
    return files


_expected_cache: dict[str, bytes] = {}


def _expected_dream() -> bytes:
    """:func:`helpers.checks.nb05_dream.expected_file_bytes`, computed once per process (a few seconds)."""
    if "bytes" not in _expected_cache:
        from helpers.checks.nb05_dream import expected_file_bytes
        _expected_cache["bytes"] = expected_file_bytes()
    return _expected_cache["bytes"]


def cli(argv: list[str]) -> int:
    """``python -m tools.editions [FOLDER]``: :func:`tools.workspace.main`, with a folder that cannot be written
    (the default ``student/`` of a read-only course folder) said in one line and exit status 1, not a traceback."""
    from tools.workspace import main, parse_arguments
    arguments = parse_arguments(argv)  # bad arguments: argparse's usage, exit status 2
    try:
        with writing_in(arguments.folder.absolute(), "FOLDER", "the student workspace",
                        fix="give a writable folder: python -m tools.editions FOLDER"):
            return main(arguments)
    except OSError as error:  # not writable, or a full disk: either way the reason, not a traceback
        print(f"python -m tools.editions: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
