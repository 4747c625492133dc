"""Every registered exercise (helpers.checks.exercises): the instructor's code passes every check; its planted bug
(tests/exercise_bugs_*.py, one line inside its solution block) fails exactly that exercise among its notebook's,
with the diagnosis it names; the student edition's stub reports "not done yet". The per-notebook test modules
(tests/test_nb0X_*.py) hold what is particular to each notebook's checks."""
import json

import pytest

from helpers.checks.exercises import all_exercises, run_checks
from helpers.data.paths import PROJECT_ROOT
from helpers.runtime.variant import as_student
from tests.exercise_bugs import all_planted_bugs
from tests.exercise_bugs_training import FAIR_SOLUTIONS, FURTHER_MISTAKES, IN_PLACE, ROOT, TARGETS, _replacing, _workspace_with
from tests.sandbox_workspaces import cells_for, planted, student_cells, student_workspace

EXERCISES = all_exercises()
PLANTED_BUGS = all_planted_bugs()


def _cells(exercise_id: str, planted_cells=None):
    """The notebook cells a check of ``exercise_id`` runs: the planted ones for a notebook exercise if given."""
    if planted_cells is not None and EXERCISES[exercise_id].in_notebook:
        return planted_cells
    return cells_for(exercise_id)


def test_every_exercise_has_one_planted_bug_inside_its_solution_block():
    assert sorted(PLANTED_BUGS) == sorted(EXERCISES)
    for exercise_id, (path, old, new, _) in PLANTED_BUGS.items():
        source = (PROJECT_ROOT / path).read_text(encoding="utf-8")
        if path.endswith(".ipynb"):
            old = json.dumps(old)[1:-1]
        assert old != new and source.count(old) == 1, exercise_id
        before = source[:source.index(old)]
        assert before.rfind("### BEGIN SOLUTION") > before.rfind("### END SOLUTION"), exercise_id


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_instructor_solution_passes_every_check_with_a_students_own_inputs(exercise_id):
    """Run as a student (their variant's check inputs and numbers, as graded): correct work passes whatever the
    draw. (The planted bugs below run in the default variant, so both kinds of input are covered.)"""
    with as_student("variant-probe"):
        result = run_checks(exercise_id, notebook_cells=cells_for(exercise_id))
    assert result.passed and result.outcomes, "\n".join(result.lines())


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_a_planted_bug_fails_exactly_its_exercise_with_its_diagnosis(exercise_id):
    workspace, cells = planted(exercise_id)
    result = run_checks(exercise_id, workspace, _cells(exercise_id, cells))
    assert not result.passed and result.not_done is None, "\n".join(result.lines())
    phrase = PLANTED_BUGS[exercise_id][3]
    assert any(phrase in outcome.diagnosis or phrase in outcome.name for outcome in result.outcomes), \
        "\n".join(result.lines())
    notebook = EXERCISES[exercise_id].notebook
    for other in (o for o, e in EXERCISES.items() if e.notebook == notebook and o != exercise_id):
        assert run_checks(other, workspace, _cells(other, cells)).passed, other  # nothing else uses the bug


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_a_stub_reports_not_done_yet(exercise_id):
    exercise = EXERCISES[exercise_id]
    result = run_checks(exercise_id, student_workspace(), student_cells(exercise_id))
    assert result.not_done is not None and not result.passed
    assert "not done yet" in result.summary() and exercise.functions[0].split(" ")[0] in result.summary()


def test_every_exercise_is_registered_in_notebook_order_with_points_diagnoses_and_its_files():
    notebooks = [exercise.notebook for exercise in EXERCISES.values()]
    assert notebooks == sorted(notebooks)
    for exercise in EXERCISES.values():
        assert 1 <= exercise.points <= 4 and exercise.diagnoses and exercise.handout, exercise.id
        assert all((ROOT / file).is_file() or (ROOT / "notebooks" / file).is_file() for file in exercise.files)


# Further mistakes, correct rewrites and in-place edits of the INF265 exercises (tests/exercise_bugs_training.py).


@pytest.mark.parametrize("exercise_id, line, mistaken, phrase", FURTHER_MISTAKES,
                         ids=[f"{m[0]}-{m[3]}" for m in FURTHER_MISTAKES])
def test_a_further_mistake_fails_its_exercise_with_its_diagnosis(exercise_id, line, mistaken, phrase):
    source = (ROOT / (TARGETS[exercise_id][0].replace(".", "/") + ".py")).read_text(encoding="utf-8")
    assert source.count(line) == 1, line
    result = run_checks(exercise_id, _workspace_with(exercise_id, lambda text: text.replace(line, mistaken)))
    assert not result.passed and phrase in "\n".join(result.lines()), "\n".join(result.lines())


@pytest.mark.parametrize("exercise_id, change, wrong_diagnosis", FAIR_SOLUTIONS,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(FAIR_SOLUTIONS)])
def test_an_update_right_up_to_rounding_passes_and_is_not_taken_for_a_mistake(exercise_id, change, wrong_diagnosis):
    result = run_checks(exercise_id, _workspace_with(exercise_id, change))
    text = "\n".join(result.lines())
    assert result.passed, text
    assert wrong_diagnosis not in "\n".join(o.diagnosis for o in result.outcomes), text


@pytest.mark.parametrize("exercise_id, line, changed", IN_PLACE, ids=[m[0] for m in IN_PLACE])
def test_modifying_an_input_in_place_fails(exercise_id, line, changed):
    result = run_checks(exercise_id, _workspace_with(exercise_id, _replacing((line, changed))))
    assert not result.passed and "in place" in "\n".join(result.lines()), result.lines()
