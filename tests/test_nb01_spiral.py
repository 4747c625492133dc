"""Notebook 01's check module (helpers.checks.nb01_spiral): the instructor's code passes every check, each
planted bug (tests/exercise_bugs_mlp.py) fails exactly its own exercise with the expected diagnosis, a stub
reports "not done yet", the references (the stand-ins) return what the solutions return, and each exercise is
posed, then checked, in the notebook."""
import json

import torch

from helpers import spiral
from helpers.checks.nb01_spiral import EXERCISES, gradient_descent_reference, spiral_grad_reference
from helpers.data.paths import PROJECT_ROOT
from tests.exercise_bugs_mlp import PLANTED_BUGS

IDS = [exercise.id for exercise in EXERCISES]


def test_the_references_return_what_the_solutions_return():
    points = torch.cat([torch.randn(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3,
                        torch.tensor([[0.0, 2.0], [0.0, 0.0]], dtype=torch.float64)])
    torch.testing.assert_close(spiral_grad_reference(points), spiral.spiral_grad(points), rtol=1e-12, atol=1e-12)
    for lr in (1e-2, 1.0):  # converging and diverging: the same result, bit for bit
        ours = spiral.gradient_descent(spiral.random_start(3), lr, 200)
        theirs = gradient_descent_reference(spiral.random_start(3), lr, 200)
        assert torch.equal(ours.trajectory, theirs.trajectory) and torch.equal(ours.gradients, theirs.gradients)
        assert ours.diverged == theirs.diverged and ours.reason == theirs.reason


def test_the_stand_ins_name_the_exercise_functions_and_the_diagnoses_are_the_checks_own():
    for exercise in EXERCISES:
        assert list(exercise.stand_ins) == [f"helpers.spiral:{name}" for name in exercise.functions]
        assert len(exercise.diagnoses) == len(set(exercise.diagnoses)) >= 4
    assert PLANTED_BUGS["1.1"][3] in " ".join(EXERCISES[0].diagnoses)


def test_each_exercise_is_posed_then_checked_in_its_notebook_in_order():
    cells = json.loads((PROJECT_ROOT / "notebooks" / "01_spiral_gradient_descent.ipynb").read_text())["cells"]
    tags = [tag for cell in cells for tag in cell.get("metadata", {}).get("tags", [])]
    assert [tag.split(":", 1)[1] for tag in tags if tag.startswith("exercise:")] == IDS
    for exercise_id in IDS:
        check = [cell for cell in cells if f"check:{exercise_id}" in cell.get("metadata", {}).get("tags", [])]
        assert len(check) == 1 and "".join(check[0]["source"]) == (
            f'from helpers.checks.exercises import check_exercise\ncheck_exercise("{exercise_id}")')
        assert tags.index(f"exercise:{exercise_id}") < tags.index(f"check:{exercise_id}")
