"""Grading with nbgrader: ``python -m tools.grading course DIR`` writes an nbgrader course for the bundle.

The course folder (created, or updated when this command created it before; anything else is refused)::

    DIR/nbgrader_config.py              course id, gradebook, which files are the student's work
    DIR/source/backprop-lab/            the student edition with nbgrader metadata (tools.editions):
        00_computational_graphs.ipynb ... check cells are autograded test cells worth the exercise's points
        helpers/ data/*.pt requirements.txt

Then the instructor runs nbgrader itself in DIR: ``nbgrader generate_assignment backprop-lab``, hands
out ``release/``, collects submissions into ``submitted/<student>/backprop-lab/`` and runs
``nbgrader autograde backprop-lab``. The helper files that hold exercises are the student's work
(``Autograde.exclude_overwriting``); every other file, the checks included, is restored from the source.

While autograding, :class:`SkipDemonstrations` leaves out the demonstration cells (training runs,
pictures, widgets): the grade comes from the check cells alone, which call the student's code
themselves, so grading a class takes minutes, not hours. ``c.SkipDemonstrations.enabled = False`` in
``nbgrader_config.py`` (or ``--SkipDemonstrations.enabled=False`` on the command line) runs every cell.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from helpers.checks.exercises import all_exercises
from helpers.data.paths import PROJECT_ROOT
from tools.editions import exercise_files, student_files

ASSIGNMENT = "backprop-lab"
MANIFEST = ".backprop-lab-course.json"
SKIPPED = ("# demonstration skipped while grading: the grade comes from the check cells "
           "(c.SkipDemonstrations.enabled = False in nbgrader_config.py runs it)")
CONFIG = '''# Written by `python -m tools.grading course`: nbgrader's settings for the backprop-lab bundle.
import sys

sys.path.insert(0, {project!r})  # tools.grading.SkipDemonstrations lives in the course project

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {assignment!r}
c.CourseDirectory.db_url = {db_url!r}
# The student's work: these files come from the submission, every other file from source/.
c.Autograde.exclude_overwriting = {{{assignment!r}: {student_work!r}}}
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput", "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec", "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata", "tools.grading.SkipDemonstrations"]
c.SkipDemonstrations.enabled = True  # False: run every demonstration cell too (slow: training runs)
# source/ is the student edition already (tools.editions took the solutions out and left named stubs), so
# nbgrader's ClearSolutions, which would replace a whole solution cell that has no markers left (a
# function's signature with it), is left out of nbgrader 0.9's list of steps.
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter", "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells", "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata", "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells", "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme", "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata"]
c.ExecutePreprocessor.timeout = 600
'''


class ForeignCourseError(RuntimeError):
    """The folder holds files this command did not write."""


class SkipDemonstrations(Preprocessor):
    """nbgrader sanitising step: blank every code cell but solution cells, autograded test cells and, in a
    notebook with solution cells, the first one (their imports), so autograding runs the student's code
    through the checks only. A check cell imports what it needs itself."""

    enabled = Bool(True, help="leave demonstration cells out while autograding").tag(config=True)

    def preprocess(self, nb, resources):
        if not self.enabled:
            return nb, resources
        code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
        roles = [cell.metadata.get("nbgrader", {}) for cell in code_cells]
        needed = [bool(role.get("solution") or role.get("grade")) for role in roles]
        if any(role.get("solution") for role in roles):
            needed[0] = True
        for cell, keep in zip(code_cells, needed):
            if not keep:
                cell.source, cell.outputs = SKIPPED, []
        return nb, resources


def _claim(course: Path) -> None:
    """Refuse a folder this command did not create (non-empty, no manifest); mark it as ours first."""
    if course.exists() and not course.is_dir():
        raise ForeignCourseError(f"{course} is a file, not a course folder: choose another path")
    if course.is_dir() and any(course.iterdir()) and not (course / MANIFEST).is_file():
        raise ForeignCourseError(f"{course} is not empty and was not written by `python -m tools.grading "
                                 f"course` (no {MANIFEST}): refusing to write into it; choose a new folder")
    course.mkdir(parents=True, exist_ok=True)
    (course / MANIFEST).write_text(json.dumps({"written by": "python -m tools.grading course",
                                                "project": str(PROJECT_ROOT)}, indent=1) + "\n")


def make_course(course: Path, root: Path = PROJECT_ROOT) -> list[str]:
    """Write or update the nbgrader course folder ``course``; returns the source files written.

    Shapes: none. ``source/backprop-lab/`` is rewritten from the project (it is the instructor's copy
    of the release, not the students' work); submissions and the gradebook are never touched.
    """
    course = Path(course).absolute()
    _claim(course)
    source = course / "source" / ASSIGNMENT
    files = student_files(root)
    for relative, content in files.items():
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(content)
        partial.replace(target)
    config = CONFIG.format(project=str(root), root=str(course), assignment=ASSIGNMENT,
                           db_url=f"sqlite:///{course / 'gradebook.db'}", student_work=exercise_files(root))
    (course / "nbgrader_config.py").write_text(config)
    return sorted(files)


def exercise_table() -> str:
    """The course's exercises as a Markdown table: where, from which handout, points, what the checks catch."""
    rows = ["| exercise | notebook | handout | points | implement | mistakes the checks diagnose |",
            "| --- | --- | --- | --- | --- | --- |"]
    for e in all_exercises().values():
        implement = ", ".join(f"`{f}`" for f in e.functions) + " in " + ", ".join(e.files)
        rows.append(f"| {e.id} {e.title} | {e.notebook} | {e.handout} | {e.points} | {implement} | "
                    f"{'; '.join(e.diagnoses)} |")
    return "\n".join(rows)


USAGE = ("usage: python -m tools.grading course DIR   (writes an nbgrader course folder)\n"
         "       python -m tools.grading exercises    (prints the exercise table)")


def main(argv: list[str]) -> int:
    """``python -m tools.grading course DIR`` or ``exercises``: exit status 0, or 1/2 with the reason."""
    if argv == ["exercises"]:
        print(exercise_table())
        return 0
    if len(argv) != 2 or argv[0] != "course":
        print(USAGE, file=sys.stderr)
        return 2
    course = Path(argv[1]).absolute()
    try:
        written = make_course(course)
    except ForeignCourseError as error:
        print(f"python -m tools.grading: {error}", file=sys.stderr)
        return 1
    print(f"nbgrader course {course}: {len(written)} files in source/{ASSIGNMENT}/\n"
          f"next, in {course}: nbgrader generate_assignment {ASSIGNMENT}; hand out release/{ASSIGNMENT}/; "
          f"collect into submitted/<student>/{ASSIGNMENT}/; nbgrader autograde {ASSIGNMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
