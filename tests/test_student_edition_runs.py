"""The student edition as handed out runs top to bottom, headless, before a single exercise is done.

Each notebook runs in a fresh workspace (``python -m tools.editions``) in a kernel started in the workspace
(so it imports the stubbed helpers). No cell may fail: a cell that needs an unfinished exercise uses a
labelled reference result or says it was skipped, and every check cell reports "not done yet".
(The instructor edition runs top to bottom under nbval, against its stored outputs.)
"""
import pytest

from helpers.checks.exercises import all_exercises
from helpers.data.paths import PROJECT_ROOT
from tools.notebook_runner import execute_notebook
from tools.workspace import update_workspace

NOTEBOOKS = sorted(path.stem for path in (PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edition") / "student"
    update_workspace(folder)
    return folder


def printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_the_student_notebook_runs_to_the_end_with_every_exercise_undone(workspace, stem):
    executed = execute_notebook(workspace / f"{stem}.ipynb").notebook  # raises, naming the cell, if one fails
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    assert not [out for cell in code for out in cell.outputs if out.get("output_type") == "error"]
    checks = {tag.split(":", 1)[1]: cell for cell in code for tag in cell.metadata.get("tags", [])
              if tag.startswith("check:")}
    expected = {i for i, exercise in all_exercises().items() if exercise.notebook == stem}
    assert set(checks) == expected
    for exercise_id, cell in checks.items():
        assert f"Exercise {exercise_id}" in printed(cell) and "not done yet" in printed(cell), printed(cell)
