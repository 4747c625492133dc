"""Notebook 01's exercises in the check registry (helpers.checks.nb01_spiral): the instructor's code passes every
check, each planted bug (tests/exercise_bugs_mlp.py, applied to a copy of the module's source) fails exactly its
own exercise with the expected diagnosis, a stub reports "not done yet", the references the student notebook falls
back on return what the solutions return, and each exercise is posed then checked in the notebook."""
import json

import pytest
import torch

from helpers import spiral
from helpers.checks.exercises import all_exercises, run_checks
from helpers.checks.nb01_spiral import EXERCISES
from helpers.checks.nb02_mlp import EXERCISES as NB02_EXERCISES
from helpers.data.paths import PROJECT_ROOT
from tests.exercise_bugs_mlp import PLANTED_BUGS
from tests.sandbox_workspaces import planted, student_workspace

IDS = [exercise.id for exercise in EXERCISES]
# a planted bug must fail its exercise and no other, notebook 02's included (they share the planted copy)
ALL_IDS = IDS + [exercise.id for exercise in NB02_EXERCISES]


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_instructor_solution_passes_every_check(exercise_id):
    result = run_checks(exercise_id)
    assert result.passed and len(result.outcomes) >= 3, result.lines()


def test_every_exercise_has_one_planted_bug_inside_its_solution_block():
    assert sorted(key for key in PLANTED_BUGS if not key.startswith("2.")) == sorted(IDS)
    for exercise_id in IDS:
        path, old, new, _ = PLANTED_BUGS[exercise_id]
        source = (PROJECT_ROOT / path).read_text()
        assert old != new and source.count(old) == 1
        before = source[:source.index(old)]
        assert before.rfind("### BEGIN SOLUTION") > before.rfind("### END SOLUTION"), exercise_id


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_planted_bug_fails_exactly_its_exercise_with_its_diagnosis(tmp_path, exercise_id):
    workspace, _ = planted(tmp_path, exercise_id)
    failed = {other for other in ALL_IDS if not run_checks(other, workspace).passed}
    assert failed == {exercise_id}
    diagnoses = [o.diagnosis for o in run_checks(exercise_id, workspace).outcomes if not o.passed]
    assert any(PLANTED_BUGS[exercise_id][3] in diagnosis for diagnosis in diagnoses), diagnoses


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_stub_reports_not_done_yet(exercise_id):
    exercise = all_exercises()[exercise_id]
    result = run_checks(exercise_id, student_workspace())
    assert result.not_done is not None and not result.passed
    assert "not done yet" in result.summary() and exercise.functions[0] in result.summary()


def _draw(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_the_spiral_references_return_what_the_solutions_return():
    points = torch.cat([_draw(200, 2) * 3, torch.tensor([[0.0, 2.0], [0.0, 0.0]], dtype=torch.float64)])
    torch.testing.assert_close(spiral.spiral_grad_reference(points), spiral.spiral_grad.exercise_function(points),
                               rtol=1e-12, atol=1e-12)
    for lr in (1e-2, 1.0):  # converging and diverging: the same result, bit for bit
        ours = spiral.gradient_descent.exercise_function(spiral.random_start(3), lr, 200)
        theirs = spiral.gradient_descent_reference(spiral.random_start(3), lr, 200)
        assert torch.equal(ours.trajectory, theirs.trajectory) and torch.equal(ours.gradients, theirs.gradients)
        assert ours.diverged == theirs.diverged and ours.reason == theirs.reason


def test_each_exercise_is_posed_then_checked_in_its_notebook_in_order():
    cells = json.loads((PROJECT_ROOT / "notebooks" / "01_spiral_gradient_descent.ipynb").read_text())["cells"]
    tags = [tag for cell in cells for tag in cell.get("metadata", {}).get("tags", [])]
    posed = [tag.split(":", 1)[1] for tag in tags if tag.startswith("exercise:")]
    assert posed == IDS and all(i.startswith("1.") for i in IDS)
    for exercise_id in IDS:
        check = [cell for cell in cells if f"check:{exercise_id}" in cell.get("metadata", {}).get("tags", [])]
        assert len(check) == 1 and "".join(check[0]["source"]) == (
            f'from helpers.checks.exercises import check_exercise\ncheck_exercise("{exercise_id}")')
        assert tags.index(f"exercise:{exercise_id}") < tags.index(f"check:{exercise_id}")
