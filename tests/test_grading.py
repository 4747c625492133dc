"""Grading end to end with nbgrader itself, on the bundle.

``generate_assignment`` and ``autograde`` run in a course written by ``python -m tools.grading course`` on
three submissions: the untouched student edition scores 0; two submissions hold the instructor's solutions
with, between them, every exercise's bug planted once (alternating within each notebook) and the other
exercises rewritten in another correct order of operations where a variant exists
(tests/exercise_variants.py): each loses exactly the points of its bugged exercises and keeps every other
exercise's full marks, so every exercise's correct work gets full marks in one of them. (That each planted bug
alone fails its own exercise and no other, with its diagnosis, is tested per topic in
``tests/test_exercises.py`` and ``tests/test_nb0*.py``; submissions that attack the grading in ``tests/test_grading_exploits.py``.)
The grading kernel runs the check cells only: no demonstration cell, no code of the student's.
"""
import nbformat
import pytest

from exercise_bugs import all_planted_bugs, instructor_submission
from exercise_variants import VARIANTS
from grading_course import hand_in_untouched, nbgrader, released_course, scores, total
from helpers.checks.exercises import all_exercises
from helpers.checks.sandbox import isolation
from helpers.data.paths import PROJECT_ROOT
from helpers.data.question_points import cs475_point
from helpers.runtime.variant import as_student
from tools.grading import ASSIGNMENT
from variant_keys import with_literal_tables

EXERCISES = all_exercises()
BUGS = all_planted_bugs()


def test_every_exercise_has_a_planted_bug_and_a_check_cell():
    assert set(BUGS) == set(EXERCISES), "exercises without a planted bug, or bugs of no exercise"
    for exercise_id, exercise in EXERCISES.items():
        notebook = (PROJECT_ROOT / "notebooks" / f"{exercise.notebook}.ipynb").read_text()
        assert f'"check:{exercise_id}"' in notebook and f'"exercise:{exercise_id}"' in notebook, exercise_id


def bug_halves() -> dict[str, list[str]]:
    """Two submissions between them plant every exercise's bug once: within each notebook the exercises
    alternate between them, so each also holds correct exercises next to bugged ones."""
    halves = {"bugs-a": [], "bugs-b": []}
    for notebook in sorted({e.notebook for e in EXERCISES.values()}):
        ids = [i for i, e in EXERCISES.items() if e.notebook == notebook]
        halves["bugs-a"] += ids[0::2]
        halves["bugs-b"] += ids[1::2]
    return halves


# The submission whose CS475 tables (0.12) are correct work: it fills them by hand (literal numbers)
TABLES_BY_HAND = next(student for student, bugged in bug_halves().items() if "0.12" not in bugged)


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """nbgrader itself: generate the assignment, autograde the three submissions, read the scores."""
    course = released_course(tmp_path_factory.mktemp("nbgrader"))
    submitted = course / "submitted"
    for student, bugged in bug_halves().items():
        variants = [change for change in VARIANTS.values() if change[3] not in bugged]  # correct, another order
        instructor_submission(submitted / student / ASSIGNMENT, bugs=[BUGS[i] for i in bugged] + variants)
    # TABLES_BY_HAND fills the CS475 tables (0.12) by hand: literal numbers at its own variant's points, which
    # pass only if the grading kernel checks it as the student of its folder (tests/test_variants.py)
    table_notebook = submitted / TABLES_BY_HAND / ASSIGNMENT / f"{EXERCISES['0.12'].notebook}.ipynb"
    nbformat.write(with_literal_tables(nbformat.read(table_notebook, as_version=4), TABLES_BY_HAND), table_notebook)
    hand_in_untouched(course, "untouched")
    nbgrader(course, "autograde", ASSIGNMENT)
    return scores(course), course


def check_cell(exercise_id: str) -> str:
    return f"check_{exercise_id.replace('.', '_')}"


def test_nbgrader_gives_correct_work_full_marks(gradebook):
    """Each exercise is correct (the solution, or a variant in another order) in one of the two submissions."""
    for student, bugged in bug_halves().items():
        cells = gradebook[0][student]
        assert total(cells)[1] == sum(e.points for e in EXERCISES.values())
        correct = [i for i in EXERCISES if i not in bugged]
        assert all(cells[check_cell(i)] == (EXERCISES[i].points, EXERCISES[i].points) for i in correct), cells


@pytest.mark.parametrize("student", ["bugs-a", "bugs-b"])
def test_nbgrader_takes_exactly_the_bugged_exercises_points(gradebook, student):
    """... and gives full marks to the others, also to those rewritten in another order of operations."""
    bugged = bug_halves()[student]
    assert {change[3] for change in VARIANTS.values()} - set(bugged)  # some correct variant is graded here
    cells = gradebook[0][student]
    lost = {i: cells[check_cell(i)] for i in EXERCISES if cells[check_cell(i)][0] != cells[check_cell(i)][1]}
    assert sorted(lost) == sorted(bugged) and all(score == 0 for score, _ in lost.values()), lost
    score, maximum = total(cells)
    assert score == maximum - sum(EXERCISES[i].points for i in bugged)


def test_nbgrader_grades_hand_filled_tables_against_the_students_own_variant(gradebook):
    with as_student(TABLES_BY_HAND):
        own = cs475_point("task1")
    assert own != cs475_point("task1")  # its numbers are not the default variant's
    assert gradebook[0][TABLES_BY_HAND][check_cell("0.12")] == (EXERCISES["0.12"].points, EXERCISES["0.12"].points)


def test_nbgrader_gives_the_untouched_student_edition_zero(gradebook):
    score, maximum = total(gradebook[0]["untouched"])
    assert maximum == sum(e.points for e in EXERCISES.values()) and score == 0


@pytest.mark.parametrize("student", ["bugs-a", "untouched"])
def test_the_grading_kernel_ran_the_check_cells_and_nothing_else(gradebook, student):
    folder = gradebook[1] / "autograded" / student / ASSIGNMENT
    for exercise in {e.notebook for e in EXERCISES.values()}:
        notebook = nbformat.read(folder / f"{exercise}.ipynb", as_version=4)
        ran = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.execution_count is not None]
        checks = [cell for cell in ran if cell.metadata.get("nbgrader", {}).get("grade")]
        others = [cell.source for cell in ran if cell not in checks]
        assert len(checks) == sum(e.notebook == exercise for e in EXERCISES.values())
        assert all(source.startswith(("# not run while grading", "from helpers.checks.exercises import submit_cell"))
                   for source in others), others
        texts = "".join(o.get("text", "") for cell in checks for o in cell.outputs)
        assert ("not done yet" in texts) == (student == "untouched") and f"isolation: {isolation()}" in texts


def test_the_written_answers_are_manually_graded_cells_with_points(gradebook):
    from tools.editions import ANSWER_POINTS
    cells = gradebook[0]["bugs-a"]
    answers = {name: value for name, value in cells.items() if name.startswith("answer_")}
    tagged = sum(cell.get("metadata", {}).get("tags", []).count("answer")
                 for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
                 for cell in nbformat.read(path, as_version=4).cells)
    assert len(answers) == tagged > 40 and all(maximum == ANSWER_POINTS for _, maximum in answers.values())
