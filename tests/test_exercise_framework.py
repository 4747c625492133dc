"""The exercise machinery: references while a stub stands, the checks' verdicts and diagnoses, the editions'
grading metadata, and the nbgrader course folder."""
import nbformat
import pytest
import torch

from helpers.checks import exercises as registry
from helpers.checks.exercises import CheckOutcome, Exercise, check_exercise, diagnose, run_checks
from helpers.runtime.exercises import ExerciseNotDone, reference_until_done, student_code_only
from tools.editions import ANSWER_BOX, student_notebook
from tools.grading import SKIPPED, ForeignCourseError, SkipDemonstrations, make_course


def stub(x):
    raise ExerciseNotDone("double", "helpers/lesson.py")


def test_a_finished_exercise_is_called_through_and_a_stub_borrows_the_labelled_reference(capsys):
    finished = reference_until_done(lambda x: -1, "a reference")(lambda x: 2 * x)
    assert finished(3) == 6 and capsys.readouterr().out == ""
    unfinished = reference_until_done(lambda x: x + x, "autograd's gradient")(stub)
    assert unfinished(4) == 8 and unfinished(5) == 10
    printed = capsys.readouterr().out
    assert printed.count("[not done yet] `double` in helpers/lesson.py") == 1  # once per cell, not per call
    assert "autograd's gradient" in printed


def test_under_student_code_only_a_stub_raises_instead_of_borrowing():
    unfinished = reference_until_done(lambda x: x + x, "reference")(stub)
    with student_code_only(), pytest.raises(ExerciseNotDone):
        unfinished(1)
    assert unfinished(1) == 2  # the context ended: the reference is back


def fake_exercise(monkeypatch, check):
    exercise = Exercise("9.1", "doubling", "09_fake", "none", 2, ("helpers/lesson.py",), ("double",), check)
    monkeypatch.setattr(registry, "all_exercises", lambda: {"9.1": exercise})
    return exercise


def test_run_checks_reports_not_done_a_crash_and_a_pass(monkeypatch):
    fake_exercise(monkeypatch, lambda: stub(1))
    assert run_checks("9.1").not_done is not None and not run_checks("9.1").passed
    fake_exercise(monkeypatch, lambda: [1][2])
    crashed = run_checks("9.1")
    assert not crashed.passed and "IndexError" in crashed.outcomes[0].name
    fake_exercise(monkeypatch, lambda: [CheckOutcome("a", True), CheckOutcome("b", True)])
    assert run_checks("9.1").passed
    with pytest.raises(KeyError, match="no exercise '9.2'; the exercises are 9.1"):
        run_checks("9.2")


def test_check_exercise_prints_in_a_notebook_and_fails_the_cell_only_under_nbgrader(monkeypatch, capsys):
    fake_exercise(monkeypatch, lambda: [CheckOutcome("dL/dW", False, "the weight gradient is transposed")])
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    check_exercise("9.1")
    printed = capsys.readouterr().out
    assert "0/1 checks passed" in printed and "FAIL  dL/dW" in printed and "transposed" in printed
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match="Exercise 9.1"):
        check_exercise("9.1")


def test_diagnose_names_the_matching_mistake_and_never_the_expected_numbers():
    reference = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    mistakes = {"transposed": lambda g: g.T, "missing 1/N": lambda g: g * 2}
    assert diagnose(reference.T.clone(), reference, mistakes) == "transposed"
    assert diagnose(reference * 2, reference, mistakes) == "missing 1/N"
    other = diagnose(reference + 0.5, reference, mistakes)
    assert "no common mistake" in other and "4.0" not in other
    assert "shape (3,)" in diagnose(torch.zeros(3), reference, mistakes)


def notebook_with(tmp_path, cells):
    path = tmp_path / "09_fake.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_the_student_notebook_carries_nbgrader_metadata_and_hides_answers(tmp_path):
    statement = nbformat.v4.new_markdown_cell("### Exercise 9.1", metadata={"tags": ["exercise:9.1"]})
    solution = nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n")
    check = nbformat.v4.new_code_cell('check_exercise("9.1", f)', metadata={"tags": ["check:9.1"]})
    answer = nbformat.v4.new_markdown_cell("Because the chain rule multiplies.", metadata={"tags": ["answer"]})
    path = notebook_with(tmp_path, [nbformat.v4.new_code_cell("import torch"), statement, solution, check, answer])
    student = student_notebook(path, points={"9.1": 3})
    cells = student.cells
    assert cells[1].metadata.nbgrader["locked"] and not cells[1].metadata.nbgrader["grade"]
    assert cells[2].metadata.nbgrader["solution"] and "return 2 * x" not in cells[2].source
    assert cells[3].metadata.nbgrader == {"grade": True, "grade_id": "check_9_1", "locked": True, "points": 3,
                                          "schema_version": 3, "solution": False}
    assert cells[4].source == ANSWER_BOX
    kept = student_notebook(path, points={"9.1": 3}, keep_solutions=True).cells
    assert "return 2 * x" in kept[2].source and kept[4].source.startswith("Because")
    with pytest.raises(ValueError, match="checks exercise '9.1', which is not registered"):
        student_notebook(path, points={})


def test_grading_skips_demonstrations_but_keeps_imports_solutions_and_checks(tmp_path):
    path = notebook_with(tmp_path, [nbformat.v4.new_code_cell("import torch"), nbformat.v4.new_code_cell("train()"),
                                    nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n"
                                                              "    ### END SOLUTION\n"),
                                    nbformat.v4.new_code_cell('check_exercise("9.1", f)',
                                                              metadata={"tags": ["check:9.1"]})])
    notebook, _ = SkipDemonstrations().preprocess(student_notebook(path, points={"9.1": 1}), {})
    sources = [cell.source for cell in notebook.cells]
    assert sources[0] == "import torch" and sources[1] == SKIPPED and "check_exercise" in sources[3]
    assert "YOUR CODE HERE" in sources[2]
    del notebook.cells[2]["metadata"]["nbgrader"]  # no solution cell left: the imports are not needed either
    notebook, _ = SkipDemonstrations().preprocess(notebook, {})
    assert notebook.cells[0].source == SKIPPED and "check_exercise" in notebook.cells[3].source
    unchanged, _ = SkipDemonstrations(enabled=False).preprocess(student_notebook(path, points={"9.1": 1}), {})
    assert unchanged.cells[1].source == "train()"


def test_the_course_command_refuses_a_foreign_folder_and_writes_a_config(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ForeignCourseError, match="refusing to write into it"):
        make_course(foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    course = tmp_path / "course"
    make_course(course)
    config = (course / "nbgrader_config.py").read_text()
    assert "exclude_overwriting" in config and "'helpers/mynet.py'" in config
    assert (course / "source" / "backprop-lab" / "03_mynet_delta_rule.ipynb").is_file()
    make_course(course)  # ours: updated, not refused


def test_the_student_copy_of_the_helpers_does_not_show_answers():
    from tools.editions import strip_solutions, student_files
    assert strip_solutions("    x = 1  # student edition: x = 2\n") == "    x = 2\n"
    student = student_files()["helpers/runtime/edition.py"].decode()
    assert "SHOWS_ANSWERS = False" in student and "SHOWS_ANSWERS = True" not in student
