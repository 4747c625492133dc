"""Grading with nbgrader: ``python -m tools.grading course DIR`` writes an nbgrader course for the bundle.

The course folder (created, or updated when this command created it before; anything else is refused)::

    DIR/nbgrader_config.py              course id, gradebook, which files are the student's work, the kernel
    DIR/grading_kernel/kernels/...      the kernel autograding runs in (isolated: no student file importable)
    DIR/source/backprop-lab/            the student edition with nbgrader metadata (tools.editions):
        00a_chain_rule_by_table.ipynb ... check cells are autograded test cells worth the exercise's points
        helpers/ data/*.pt requirements.txt

Then the instructor runs nbgrader itself in DIR: ``nbgrader generate_assignment backprop-lab``, hands
out ``release/``, collects submissions into ``submitted/<student>/backprop-lab/`` and runs
``nbgrader autograde backprop-lab``.

The trust boundary: **no code of the student's runs in the grading kernel.** :class:`GradingCells` keeps
only the check cells (their source restored from the course by nbgrader's ``OverwriteCells``); every
demonstration cell is left out, and each solution cell of a notebook is handed over as a string
(``submit_cell``). The kernel starts as ``python -I`` (no current folder, no ``PYTHONPATH`` on the path),
so ``helpers`` is the course project's own checker, never a file of the submission; its entry point
(:mod:`helpers.checks.grading_kernel`) starts the sandbox server while ipykernel loads. Each check runs the
student's functions in a sandbox (:mod:`helpers.checks.sandbox`: bubblewrap, as user nobody when graded
as root, no network, only a private copy of the course's ``helpers/`` with the student's listed files laid
over it; files outside that list are ignored and named in the feedback) and judges the data that comes back.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from nbconvert.preprocessors import Preprocessor

from helpers.checks.exercises import all_exercises
from helpers.checks.grading_kernel import GRADING_FILES_ENV
from helpers.data.paths import PROJECT_ROOT
from helpers.runtime.variant import ASSIGNMENT, GRADING_SOURCE_ENV  # ASSIGNMENT: variants' seeds include it
from tools.editions import exercise_files, student_files

MANIFEST = ".backprop-lab-course.json"
KERNEL = "backprop-lab-grading"
SKIPPED = ("# not run while grading: the grade comes from the check cells, which run the student's code in a "
           "sandbox")
SUBMITTED = ("from helpers.checks.exercises import submit_cell\n"
             "submit_cell({source})  # the student's cell, run in the sandbox when a check needs it")
CONFIG = '''# Written by `python -m tools.grading course`: nbgrader's settings for the backprop-lab bundle.
import os
import sys

sys.path.insert(0, {project!r})  # tools.grading.GradingCells lives in the course project
# the grading kernel (grading_kernel/kernels/{kernel}): python -I, so no file of a submission is importable
os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [{kernels!r}, os.environ.get("JUPYTER_PATH")]))

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {assignment!r}
c.CourseDirectory.db_url = {db_url!r}
# The student's work: these files come from the submission, every other file from source/.
c.Autograde.exclude_overwriting = {{{assignment!r}: {student_work!r}}}
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput", "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec", "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata", "tools.grading.GradingCells"]
c.Execute.kernel_name = {kernel!r}
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


class GradingCells(Preprocessor):
    """nbgrader sanitising step (autograde): the grading kernel runs the check cells and nothing else.

    A check cell (an autograded test cell of a registered exercise) keeps the source nbgrader restored from
    the course; a solution cell becomes ``submit_cell("<its source>")`` (the student's code as a string, run
    only in the sandbox); every other code cell (demonstrations, imports, cells the student added) is left
    out. So the verdict never comes from a process that ran the student's code. Always on: there is no
    setting that runs a submission's demonstrations in the grading kernel."""

    def __call__(self, nb, resources):  # nbconvert's Preprocessor runs only when enabled; this one always
        return self.preprocess(nb, resources)

    def preprocess(self, nb, resources):
        checks = {f"check_{exercise_id.replace('.', '_')}" for exercise_id in all_exercises()}
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            role = cell.metadata.get("nbgrader", {})
            if role.get("grade") and not role.get("solution") and role.get("grade_id") in checks:
                pass
            elif role.get("solution"):
                cell.source = SUBMITTED.format(source=repr(cell.source))
            else:
                cell.source = SKIPPED
            cell.outputs = []
        return nb, resources


def grading_kernel(folder: Path, source: Path, student_work: list[str], project: Path = PROJECT_ROOT) -> Path:
    """Write the kernelspec autograding uses into ``folder/kernels/``: this Python, isolated (``-I``: neither
    the submission's folder nor ``PYTHONPATH`` is importable), with the course ``project`` alone put first on its
    path (its ``helpers`` are the checker; the project is not installed), told where the course's source is and
    which files are the student's (for the sandbox's private copy)."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    launch = (f"import sys; sys.path.insert(0, {str(project)!r}); "
              "from helpers.checks.grading_kernel import main; main()")
    kernel = {"argv": [sys.executable, "-I", "-c", launch, "-f", "{connection_file}"],
              "display_name": "backprop-lab grading (isolated)", "language": "python",
              "env": {GRADING_SOURCE_ENV: str(source), GRADING_FILES_ENV: os.pathsep.join(student_work),
                      "BACKPROP_LAB_HEADLESS": "1"}}
    (spec / "kernel.json").write_text(json.dumps(kernel, indent=1) + "\n")
    return spec


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
    student_work = exercise_files(root)
    grading_kernel(course / "grading_kernel", source, student_work, root)
    config = CONFIG.format(project=str(root), root=str(course), assignment=ASSIGNMENT, kernel=KERNEL,
                           kernels=str(course / "grading_kernel"), db_url=f"sqlite:///{course / 'gradebook.db'}",
                           student_work=student_work)
    (course / "nbgrader_config.py").write_text(config)
    return sorted(files)


def exercise_table() -> str:
    """The course's exercises as a Markdown table: where, from which handout, points, the tools their code must
    not use, what the checks catch."""
    rows = ["| exercise | notebook | handout | points | implement | must not use | mistakes the checks diagnose |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for e in all_exercises().values():
        implement = ", ".join(f"`{f}`" for f in e.functions) + " in " + ", ".join(e.files)
        rows.append(f"| {e.id} {e.title} | {e.notebook} | {e.handout} | {e.points} | {implement} | "
                    f"{', '.join(e.forbid)} | {'; '.join(e.diagnoses)} |")
    return "\n".join(rows)


def student_key(student: str) -> str:
    """A student's variant as the instructor's key (``python -m tools.grading key STUDENT``): their numbers in
    notebook 00 (the CS-587 regression data, the CS475 points, the NYU point) and the answers at them (the
    CS475 tables filled by the engine, the NYU adjoints), computed with this project's solutions. The same
    numbers the grading kernel checks that student against (:mod:`helpers.runtime.variant`)."""
    from helpers.data import question_points
    from helpers.chain_rule import chain_rule_table
    from helpers.checks.nb00_graphs import CS475_TABLES
    from helpers.graph_derivations import nyu_adjoints
    from helpers.runtime.variant import as_student
    from helpers.scalar_autodiff import Value, exp, log, sigmoid

    builders = {  # task: the expression of notebook 00's table, from Values named as in the notebook
        "task1": lambda v: ((v["w"] * v["x"] + v["b"]) - v["y"]) ** 2,
        "task2": lambda v: (v["w"] * exp(v["b"] * v["x"]) + log(v["w"] * v["x"])) * v["b"],
        "task3": lambda v: 1 / (1 + exp(-v["x"])),
        "task4": lambda v: (sigmoid(v["w"] * v["x"] + v["b"]) - v["y"]) ** 2,
        "task5": lambda v: ((v["y"] - sigmoid(v["w₂"] * sigmoid(v["w₁"] * v["x"] + v["b₁"]) + v["b₂"])) ** 2
                            + v["λ"] * (v["w₁"] ** 2 + v["w₂"] ** 2))}
    with as_student(student):
        line, (x, y) = question_points.regression_line(), question_points.regression_data()
        lines = [f"variant of student {student!r} (assignment {ASSIGNMENT})", "",
                 f"CS-587 A regression data: y = {line['slope']:g}x + {line['intercept']:g}; x = "
                 + ", ".join(f"{v:g}" for v in x.tolist()) + "; y = " + ", ".join(f"{v:.6g}" for v in y.tolist())]
        nyu = question_points.nyu_point()
        adjoints = {k: float(v) for k, v in nyu_adjoints(**nyu).items()}
        lines += [f"NYU 1.4 (b) point: {nyu}", "  ∂w/∂node: " + ", ".join(f"{k} = {v:.6g}" for k, v in adjoints.items())]
        for function, (task, expression, spec) in CS475_TABLES.items():
            point = question_points.cs475_point(task)
            values = {name: Value(value, name) for name, value in point.items()}
            output = builders[task](values)
            output.label = spec[-1][0]
            lines += ["", f"CS475 {task}, {expression} at {point} (exercise 0.12, `{function}`):",
                      str(chain_rule_table(output))]
    return "\n".join(lines)


USAGE = ("usage: python -m tools.grading course DIR   (writes an nbgrader course folder)\n"
         "       python -m tools.grading exercises    (prints the exercise table)\n"
         "       python -m tools.grading key STUDENT  (prints that student's numbers and answers)")


def main(argv: list[str]) -> int:
    """``python -m tools.grading course DIR``, ``exercises`` or ``key STUDENT``: exit status 0, or 1/2 with the
    reason."""
    if argv == ["exercises"]:
        print(exercise_table())
        return 0
    if len(argv) == 2 and argv[0] == "key":
        try:
            print(student_key(argv[1]))
        except ValueError as error:
            print(f"python -m tools.grading key: {error}", file=sys.stderr)
            return 2
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
