"""The student edition's checks of notebook 05 (5.1-5.3) hold no reference: they compare with the expected values
the edition tool stored (``helpers/checks/expected_dream.pt``) for their own inputs. On the instructor's solution,
a stub and each planted bug (tests/exercise_bugs_dream.py) they give the instructor-side checks' verdicts and
diagnoses; code that returns the stored values for the stored inputs passes them and fails the instructor-side
checks, which compute from the references on other inputs (as under nbgrader)."""
import ast
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from helpers.checks.dream_expected import EXPECTED_FILE, HIDDEN_INPUTS, SHIPPED_INPUTS, stored_only
from helpers.checks.exercises import run_checks
from helpers.checks.exercises_dream import EXERCISES
from helpers.data.paths import PROJECT_ROOT
from tests.exercise_bugs_dream import PLANTED_BUGS
from tests.test_leaks import normalised, student_corpus, without_comments
from tests.sandbox_workspaces import copy_helpers, planted, student_workspace
from tools.editions import EXPECTED_DREAM, student_files

IDS = [exercise.id for exercise in EXERCISES]
STORED = student_workspace() / EXPECTED_DREAM


def verdicts(workspace) -> dict:
    """{exercise: (passed, not done, [(check, passed, diagnosis)])}."""
    found = {}
    for exercise_id in IDS:
        result = run_checks(exercise_id, workspace)
        found[exercise_id] = (result.passed, result.not_done is not None,
                              [(o.name, o.passed, o.diagnosis) for o in result.outcomes])
    return found


def test_the_student_edition_holds_no_reference_and_its_expected_values():
    files = student_files()
    assert "helpers/dream_references.py" not in files
    # No function of the references, nor the body of one (normalised as tests/test_leaks.py does), anywhere.
    module = (PROJECT_ROOT / "helpers/dream_references.py").read_text()
    functions = [node for node in ast.parse(module).body if isinstance(node, ast.FunctionDef)]
    assert len(functions) == 4
    corpus = student_corpus()
    for function in functions:
        body = normalised(without_comments(textwrap.dedent(
            "\n".join(module.splitlines()[function.body[1].lineno - 1:function.end_lineno]))))
        assert len(body) > 40 and not any(body in text for text in corpus.values()), function.name
        assert not any(f"def {function.name}".encode() in content for content in files.values())
    stored = torch.load(STORED, weights_only=True)
    assert sorted(stored) == IDS and EXPECTED_DREAM not in [p.relative_to(EXPECTED_FILE.parents[2]).as_posix()
                                                            for p in EXPECTED_FILE.parent.glob("*.pt")]


def test_the_self_check_and_the_instructor_side_agree_on_solution_and_stub(tmp_path):
    solution = copy_helpers(tmp_path / "solution")
    instructor = verdicts(solution)
    assert all(passed for passed, _, _ in instructor.values())
    with stored_only(STORED):
        assert verdicts(solution) == instructor
        stubbed = verdicts(student_workspace())
    assert all(not passed and not_done for passed, not_done, _ in stubbed.values())
    assert verdicts(student_workspace()) == stubbed


@pytest.mark.parametrize("exercise_id", sorted(PLANTED_BUGS))
def test_the_self_check_and_the_instructor_side_agree_on_each_planted_bug(tmp_path, exercise_id):
    workspace, _ = planted(tmp_path, exercise_id)
    instructor = verdicts(workspace)
    with stored_only(STORED):
        student = verdicts(workspace)
    assert student == instructor
    assert {i for i, (passed, _, _) in student.items() if not passed} == {exercise_id}
    phrase = PLANTED_BUGS[exercise_id][3]
    assert any(phrase in diagnosis for _, passed, diagnosis in student[exercise_id][2] if not passed)


HARD_CODED = '''

def dream_step(image, energy_grad, iteration, *, lr, **options):
    """Returns the stored expected values for the self-check's inputs (no DeepDream step)."""
    import torch
    from pathlib import Path
    from helpers.checks import exercises_dream as checks
    stored = torch.load(Path(checks.__file__).with_name("expected_dream.pt"), weights_only=True)["5.1"]
    options = dict(options, lr=lr)
    options.pop("centre", None)
    if options == checks._ZERO_OPTIONS and not energy_grad[1].any():
        return stored["zero_gradient"].clone()
    for (_, case_options, iterations), case in zip(checks._STEP_CASES, stored["cases"]):
        if case_options == options:
            return case["reference"][iterations.index(iteration)].clone()
    return image.clone()
'''


def test_stored_values_returned_for_the_stored_inputs_pass_the_self_check_and_fail_grading(tmp_path):
    workspace = copy_helpers(tmp_path / "cheat")
    (workspace / EXPECTED_DREAM).write_bytes(STORED.read_bytes())
    source = (workspace / "helpers/dream.py").read_text()
    (workspace / "helpers/dream.py").write_text(source + HARD_CODED)  # replaces the module's dream_step
    with stored_only(STORED):
        assert run_checks("5.1", workspace).passed
    graded = run_checks("5.1", workspace)
    assert not graded.passed and HIDDEN_INPUTS != SHIPPED_INPUTS


def test_the_student_edition_checks_itself_without_the_references(tmp_path):
    # The trusted side is the student edition's own helpers/checks (another process): stubs are "not done",
    # the solution's helpers/dream.py passes, from the stored values only.
    workspace = tmp_path / "student"
    import shutil
    shutil.copytree(student_workspace(), workspace)
    script = ("import sys\nfrom helpers.checks.exercises import run_checks\n"
              "from helpers.checks.dream_expected import references_available\n"
              "assert not references_available()\n"
              "print([(i, run_checks(i).passed, run_checks(i).not_done is not None) for i in ('5.1', '5.2', '5.3')])\n")
    environment = {**os.environ, "PYTHONPATH": str(workspace), "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, "-c", script], cwd=workspace, env=environment, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[('5.1', False, True), ('5.2', False, True), ('5.3', False, True)]" in run.stdout
    (workspace / "helpers/dream.py").write_text((PROJECT_ROOT / "helpers/dream.py").read_text())
    run = subprocess.run([sys.executable, "-c", script], cwd=workspace, env=environment, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[('5.1', True, False), ('5.2', True, False), ('5.3', True, False)]" in run.stdout
