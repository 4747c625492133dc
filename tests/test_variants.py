"""Per-student variants (helpers.runtime.variant): two students get different numbers, each is checked against
their own, and under autograding the id comes from nbgrader's folder alone.

The cross-grading test draws two students' variants, solves both with the instructor's code (the CS475 tables of
exercise 0.12 written down as literal numbers, as a student fills them by hand: tests/variant_keys.py) and grades
each submission against both variants: full marks on its own, a failure named entry by entry on the other's
wherever the numbers differ. The real grading path (the grading kernel started by nbgrader in
``autograded/<student>/<assignment>/``) is covered by the ``bugs-a`` submission of tests/test_grading.py, whose
tables are literal numbers of its own variant; here the kernel's derivation runs in a subprocess started the way
that kernel is (``python -I``, the grader's environment, nbgrader's folder as cwd)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.checks.exercises import run_checks
from helpers.checks.grading_kernel import GRADING_FILES_ENV
from helpers.checks.nb00_graphs import CS475_TABLES, table_outcome, cs475_table_reference
from helpers.checks.toolkit import seeded
from helpers.data.paths import PROJECT_ROOT
from helpers.data.question_points import CS475, NYU_DEFAULT, cs475_point, nyu_point, regression_data
from helpers.runtime import variant
from helpers.runtime.variant import ASSIGNMENT, GRADING_SOURCE_ENV, HUB_USER_ENV, STUDENT_FILE, as_student, grading_student
from tests.sandbox_workspaces import cells_for
from tests.variant_keys import literal_tables

STUDENTS = ("alice", "bob")
TABLE_POINTS = 3  # exercise 0.12's points


def test_the_default_variant_keeps_the_handouts_and_todays_numbers():
    assert variant.student_id() is None  # the instructor edition, the test suite
    assert cs475_point("task1") == {"w": 0.5, "x": 2.0, "b": -0.3, "y": 1.2}
    assert nyu_point() == NYU_DEFAULT == {"x": 1.0, "y": 2.0, "z": -1.5, "o": 0.5}
    x, y = regression_data()
    assert torch.equal(y, torch.tensor([0.0, -1.0, -2.0, -3.0]))  # CS-587 A: y = 1 - x
    assert torch.equal(torch.randn(3, generator=seeded(14)), torch.randn(3, generator=torch.Generator().manual_seed(14)))


def test_two_students_get_other_numbers_every_time_and_in_every_process():
    points = {}
    for student in STUDENTS:
        with as_student(student):
            points[student] = {task: cs475_point(task) for task in CS475}
            points[student]["nyu"] = nyu_point()
            points[student]["check inputs"] = torch.randn(4, generator=seeded(14)).tolist()
            assert points[student] == {**{task: cs475_point(task) for task in CS475}, "nyu": nyu_point(),
                                       "check inputs": torch.randn(4, generator=seeded(14)).tolist()}
    for key in points["alice"]:
        assert points["alice"][key] != points["bob"][key], key
    # SHA-256, not hash(): another process with another hash seed draws the same numbers
    script = ("import json; from helpers.data.question_points import cs475_point; from helpers.runtime.variant import "
              "as_student\nwith as_student('alice'): print(json.dumps(cs475_point('task5')))")
    other = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True)
    assert json.loads(other.stdout) == points["alice"]["task5"]
    for student in STUDENTS:  # every draw is a number a student can use: inside its range, one decimal (λ two)
        for task, (_, ranges, valid) in CS475.items():
            drawn = points[student][task]
            assert all(ranges[k][0] <= v <= ranges[k][1] and round(v, 2) == v for k, v in drawn.items()), drawn
            assert valid is None or valid(drawn)


def _grade_tables(cells: dict[str, str], graded_as: str) -> tuple[int, list]:
    with as_student(graded_as):
        result = run_checks("0.12", PROJECT_ROOT, tuple(cells.values()))
    return (TABLE_POINTS if result.passed else 0), result.outcomes


def test_each_student_gets_full_marks_on_their_own_variant_and_fails_on_the_others():
    submissions = {student: literal_tables(student) for student in STUDENTS}
    scores = {}
    for student, cells in submissions.items():
        for graded_as in STUDENTS:
            scores[student, graded_as], outcomes = _grade_tables(cells, graded_as)
            if graded_as != student:  # every table's numbers differ between the two: each fails, entries named
                assert [o.passed for o in outcomes] == [False] * len(CS475_TABLES), outcomes
                assert all(o.diagnosis.startswith("wrong entries: ") and ": its value" in o.diagnosis
                           for o in outcomes)
    assert scores == {("alice", "alice"): 3, ("alice", "bob"): 0, ("bob", "alice"): 0, ("bob", "bob"): 3}
    # the exercises whose answers are functions of the point pass under any variant (nothing to copy)
    with as_student("bob"):
        assert run_checks("0.4", PROJECT_ROOT, cells_for("0.4")).passed


def test_a_wrong_entry_is_named_without_its_expected_value():
    point = cs475_point("task1")
    reference = cs475_table_reference("line_loss_table", point)
    student = {step: (value, dict(slopes), gradient) for step, (value, slopes, gradient) in reference.items()}
    student["r"] = (student["r"][0], {"q": 1.0, "y": 1.0}, student["r"][2])  # the sign of ∂r/∂y
    student["p"] = (student["p"][0] + 0.5, student["p"][1], student["p"][2])
    result = table_outcome("table", student, reference, "L")
    assert not result.passed and result.diagnosis == "wrong entries: p: its value; r: ∂r/∂y"
    rounded = {step: (round(v, 4), {k: round(s, 4) for k, s in sl.items()}, round(g, 4))
               for step, (v, sl, g) in reference.items()}
    assert table_outcome("table", rounded, reference, "L").passed  # four decimals, as written by hand


def test_the_grading_id_comes_from_nbgraders_folder_and_nothing_else(tmp_path, monkeypatch):
    course = tmp_path / "course"
    source, graded = course / "source" / ASSIGNMENT, course / "autograded" / "alice" / ASSIGNMENT
    source.mkdir(parents=True)
    graded.mkdir(parents=True)
    (graded / STUDENT_FILE).write_text("bob\n")  # a submitted file claiming another id
    monkeypatch.setenv(HUB_USER_ENV, "bob")     # and an environment claiming it
    monkeypatch.setenv(GRADING_SOURCE_ENV, str(source))
    monkeypatch.chdir(graded)
    with as_student("bob"):
        assert variant.student_id() == "alice"
    with pytest.raises(variant.VariantError, match="autograded/<student>"):
        grading_student(cwd=course / "submitted" / "alice" / ASSIGNMENT)


def test_the_grading_kernel_checks_the_student_of_its_folder(tmp_path):
    """The grading kernel's way in (python -I, the course on the path, the grader's environment, nbgrader's
    folder as cwd): alice's literal tables pass in alice's folder and fail in bob's, whatever the submission
    or the environment claims."""
    course = tmp_path / "course"
    source = course / "source" / ASSIGNMENT
    shutil.copytree(PROJECT_ROOT / "helpers", source / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    alice_cells = list(literal_tables("alice").values())
    folders = {student: course / "autograded" / student / ASSIGNMENT for student in STUDENTS}
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / STUDENT_FILE).write_text("alice\n")  # each submission claims to be alice's
    # one kernel-like process grades alice's tables in each folder (nbgrader starts one per notebook there)
    script = ("import os, sys; sys.path.insert(0, sys.argv[1]); import json\n"
              "from helpers.checks.exercises import run_checks, submit_cell\n"
              "for cell in json.loads(sys.argv[2]): submit_cell(cell)\n"
              "verdicts = {}\n"
              "for student, folder in json.loads(sys.argv[3]).items():\n"
              "    os.chdir(folder)\n"
              "    verdicts[student] = '\\n'.join(run_checks('0.12').lines())\n"
              "print(json.dumps(verdicts))")
    env = {**os.environ, GRADING_SOURCE_ENV: str(source), GRADING_FILES_ENV: "", HUB_USER_ENV: "alice",
           "BACKPROP_LAB_HEADLESS": "1"}
    run = subprocess.run([sys.executable, "-I", "-c", script, str(PROJECT_ROOT), json.dumps(alice_cells),
                          json.dumps({s: str(f) for s, f in folders.items()})],
                         cwd=folders["alice"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    verdicts = json.loads(run.stdout.strip().splitlines()[-1])
    assert "5/5 checks passed, all passed" in verdicts["alice"], verdicts["alice"]
    assert "0/5 checks passed, FAILED" in verdicts["bob"] and verdicts["bob"].count("wrong entries: ") == 5, \
        verdicts["bob"]


def test_the_key_prints_a_students_numbers_and_answers():
    from tools.grading import main, student_key
    key = student_key("alice")
    with as_student("alice"):
        point = cs475_point("task1")
    assert f"at {point}" in key and "y = " in key and "∂w/∂node" in key
    assert key.count("backward pass") == len(CS475_TABLES)
    assert main(["key", "../not an id"]) == 2


def test_a_student_edition_takes_the_hub_user_else_the_workspace_record_and_the_instructor_edition_neither(
        tmp_path, monkeypatch):
    from helpers.runtime import edition
    from tools.workspace import main, parse_arguments
    monkeypatch.delenv(GRADING_SOURCE_ENV, raising=False)
    monkeypatch.delenv(HUB_USER_ENV, raising=False)
    monkeypatch.setattr(variant, "_WORKSPACE", tmp_path)
    variant.record_student(tmp_path, "carol")  # what tools.editions FOLDER --student carol writes
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)
    assert variant.student_id() == "carol"
    monkeypatch.setenv(HUB_USER_ENV, "dave")
    assert variant.student_id() == "dave"
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", True)  # an instructor's own hub server: the default variant
    assert variant.student_id() is None
    parsed = parse_arguments(["ws", "--student", "carol"])
    assert (parsed.folder, parsed.student, parsed.start_line) == (Path("ws"), "carol", True)
    with pytest.raises(SystemExit) as no_id:
        parse_arguments([str(tmp_path / "ws"), "--student"])
    assert no_id.value.code == 2 and main(parse_arguments([str(tmp_path / "ws"), "--student", "../x"])) == 2
    assert not (tmp_path / "ws").exists()  # refused before anything was written


def test_no_reference_stands_in_for_a_table_in_the_student_edition():
    """A stand-in would print the filled table to a student who calls the stub: there is none."""
    from helpers.checks.stand_ins import _wrap_stubs
    from helpers.runtime.exercises import ExerciseNotDone
    from tools.editions import strip_solutions
    for name, source in literal_tables(None).items():
        namespace = {"__name__": "__main__"}
        exec(strip_solutions(source, "00a_chain_rule_by_table.ipynb"), namespace)
        _wrap_stubs(namespace, "__main__")
        with pytest.raises(ExerciseNotDone):
            namespace[name](cs475_point(CS475_TABLES[name][0]))
