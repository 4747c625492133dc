"""The untouched student edition under nbgrader: 0 points, and every cell runs (the student edition top to bottom).

The release goes back in as handed out and is autograded with every demonstration cell run
(``--SkipDemonstrations.enabled=False``), headless as nbgrader makes it: no cell may fail except the check
cells, whose "not done yet" AssertionError is their 0 points; the cells that needed an unfinished exercise
say they used a labelled reference result.
"""
import nbformat
import pytest

from grading_course import hand_in_untouched, nbgrader, released_course, scores, total
from helpers.checks.exercises import all_exercises
from helpers.data.paths import PROJECT_ROOT
from tools.grading import ASSIGNMENT

EXERCISES = all_exercises()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = released_course(tmp_path_factory.mktemp("untouched"))
    hand_in_untouched(course, "untouched")
    nbgrader(course, "autograde", ASSIGNMENT, "--SkipDemonstrations.enabled=False")
    return scores(course)["untouched"], course / "autograded" / "untouched" / ASSIGNMENT


def test_nbgrader_gives_the_untouched_student_edition_zero(graded):
    cells = graded[0]
    score, maximum = total(cells)
    assert maximum == sum(e.points for e in EXERCISES.values()) and score == 0, cells


def printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


@pytest.mark.parametrize("stem", sorted(path.stem for path in (PROJECT_ROOT / "notebooks").glob("*.ipynb")))
def test_the_untouched_student_edition_ran_to_the_end_without_an_error(graded, stem):
    """Every cell ran (none skipped); only the check cells failed, each "not done yet"; the cells that needed an
    unfinished exercise said they used a reference."""
    notebook = nbformat.read(graded[1] / f"{stem}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    errors = [(cell.source[:80], out.get("ename"), out.get("evalue")) for cell in code for out in cell.outputs
              if out.get("output_type") == "error"]
    checks = [cell for cell in code if cell.metadata.get("nbgrader", {}).get("grade")]
    # a check cell of an unfinished exercise fails (AssertionError under nbgrader): that is its 0 points
    assert all(e[1] == "AssertionError" and "not done yet" in e[2] for e in errors), errors
    assert len(errors) == len(checks) == sum(e.notebook == stem for e in EXERCISES.values())
    assert all("not done yet" in printed(cell) for cell in checks)
    streams = "".join(printed(cell) for cell in code)
    assert "[not done yet]" in streams
