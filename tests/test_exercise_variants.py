"""Correct work in another order of operations passes (``tests/exercise_variants.py``): the checks allow the
rounding of another correct order (a few ulp of the working dtype) and never mistake it for a known error."""
import pytest

from helpers.checks.exercises import run_checks
from tests.exercise_bugs import mutate
from tests.exercise_variants import VARIANTS
from helpers.data.paths import PROJECT_ROOT
from tests.sandbox_workspaces import instructor_cells, workspace_with

from helpers.checks.exercises import exercise


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_correct_variant_passes_its_exercise(tmp_path, name):
    path, old, new, exercise_id = VARIANTS[name]
    workspace, cells = workspace_with({}), None
    if path.startswith("helpers/"):
        workspace = workspace_with({path: mutate((PROJECT_ROOT / path).read_text(), old, new, path)})
    else:
        cells = tuple(mutate(cell, old, new, path) if old.strip() in {line.strip() for line in cell.splitlines()}
                      else cell for cell in instructor_cells(exercise(exercise_id).notebook))
        assert any(new.strip() in cell for cell in cells)
    result = run_checks(exercise_id, workspace, cells)
    assert result.passed, result.lines()
