"""Grading end to end: the planted bugs, the checks' independence, and nbgrader itself on the bundle.

Three submissions go through ``nbgrader generate_assignment`` and ``nbgrader autograde`` in a course written
by ``python -m tools.grading course``: the instructor's solutions score full marks, the untouched student
edition scores 0 (without crashing or hanging), and for every exercise a submission with that exercise's
planted bug loses exactly that exercise's points in its notebook. Before nbgrader, a probe runs the same
graded cells for every planted bug across ALL notebooks: each bug fails its own exercise and no other one,
and the diagnosis names the mistake.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exercise_bugs import all_planted_bugs, instructor_submission
from helpers.checks.exercises import all_exercises
from helpers.data.paths import PROJECT_ROOT
from tools.grading import ASSIGNMENT, make_course

TESTS = Path(__file__).parent
EXERCISES = all_exercises()
BUGS = all_planted_bugs()
NBGRADER_TIMEOUT_S = 1500


def notebook_of(exercise_id: str) -> str:
    return EXERCISES[exercise_id].notebook


def environment() -> dict[str, str]:
    """nbgrader's subprocesses (alembic, kernels) come from this Python's environment."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("BACKPROP_LAB_HEADLESS", None)  # nbgrader's NBGRADER_EXECUTION alone must make the run headless
    return env


def nbgrader(course: Path, *arguments: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=course, env=environment(),
                            capture_output=True, text=True, timeout=NBGRADER_TIMEOUT_S)
    assert result.returncode == 0, f"nbgrader {' '.join(arguments)}:\n{result.stdout[-3000:]}{result.stderr[-6000:]}"
    return result


def test_every_exercise_has_a_planted_bug_and_a_check_cell():
    assert set(BUGS) == set(EXERCISES), "exercises without a planted bug, or bugs of no exercise"
    for exercise_id, exercise in EXERCISES.items():
        notebook = (PROJECT_ROOT / "notebooks" / f"{exercise.notebook}.ipynb").read_text()
        assert f'"check:{exercise_id}"' in notebook and f'"exercise:{exercise_id}"' in notebook, exercise_id


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """Check results, by case, of the instructor's solutions, the student edition and each planted bug."""
    root = tmp_path_factory.mktemp("probe")
    cases = {"instructor": instructor_submission(root / "instructor")}
    student = root / "student"
    make_course(root / "course")
    shutil.copytree(root / "course" / "source" / ASSIGNMENT, student)
    cases["student"] = student
    for exercise_id, bug in BUGS.items():
        cases[f"bug-{exercise_id}"] = instructor_submission(root / f"bug-{exercise_id}", bug=bug)
    (root / "cases.json").write_text(json.dumps({name: str(folder) for name, folder in cases.items()}))
    result = subprocess.run([sys.executable, str(TESTS / "grading_probe.py"), str(root / "cases.json"),
                             str(root / "out.json")], capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, BACKPROP_LAB_HEADLESS="1"))
    assert result.returncode == 0, result.stderr[-6000:]
    return json.loads((root / "out.json").read_text())


def test_the_instructor_solutions_pass_every_check(probed):
    assert not probed["instructor"]["errors"]
    results = probed["instructor"]["exercises"]
    assert set(results) == set(EXERCISES)
    failed = {i: r["text"] for i, r in results.items() if not r["passed"]}
    assert not failed, failed


def test_the_untouched_student_edition_is_not_done_anywhere(probed):
    assert not probed["student"]["errors"]
    results = probed["student"]["exercises"]
    assert set(results) == set(EXERCISES)
    assert all(result["not_done"] and "not done yet" in result["text"] for result in results.values())


@pytest.mark.parametrize("exercise_id", sorted(BUGS))
def test_a_planted_bug_fails_its_own_exercise_only_and_is_diagnosed(probed, exercise_id):
    assert not probed[f"bug-{exercise_id}"]["errors"]
    results = probed[f"bug-{exercise_id}"]["exercises"]
    assert set(results) == set(EXERCISES)
    failed = sorted(i for i, r in results.items() if not r["passed"])
    assert failed == [exercise_id], {i: results[i]["text"] for i in failed}
    assert BUGS[exercise_id][3].lower() in results[exercise_id]["text"].lower(), results[exercise_id]["text"]


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """nbgrader itself: generate the assignment, autograde every submission, read the scores."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    make_course(course)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    submitted = course / "submitted"
    shutil.copytree(course / "release" / ASSIGNMENT, submitted / "untouched" / ASSIGNMENT)
    instructor_submission(submitted / "instructor" / ASSIGNMENT)
    for exercise_id, bug in BUGS.items():  # only the exercise's notebook: each costs one kernel, not six
        instructor_submission(submitted / f"bug-{exercise_id.replace('.', '-')}" / ASSIGNMENT,
                              notebooks=[notebook_of(exercise_id)], bug=bug)
    nbgrader(course, "autograde", ASSIGNMENT)
    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=ASSIGNMENT) as book:
        for student in book.students:
            submission = book.find_submission(ASSIGNMENT, student.id)
            scores[student.id] = {(n.name, g.name): (g.score, g.max_score)
                                  for n in submission.notebooks for g in n.grades}
    return scores


def points(scores: dict) -> tuple[float, float]:
    return sum(s for s, _ in scores.values()), sum(m for _, m in scores.values())


def test_nbgrader_gives_the_instructor_solutions_full_marks(gradebook):
    score, maximum = points(gradebook["instructor"])
    assert maximum == sum(e.points for e in EXERCISES.values()) and score == maximum, gradebook["instructor"]


def test_nbgrader_gives_the_untouched_student_edition_zero(gradebook):
    score, maximum = points(gradebook["untouched"])
    assert maximum == sum(e.points for e in EXERCISES.values()) and score == 0, gradebook["untouched"]


@pytest.mark.parametrize("exercise_id", sorted(BUGS))
def test_nbgrader_takes_exactly_the_bugged_exercises_points(gradebook, exercise_id):
    scores = gradebook[f"bug-{exercise_id.replace('.', '-')}"]
    notebook = notebook_of(exercise_id)
    in_notebook = {grade: value for (name, grade), value in scores.items() if name == notebook}
    score, maximum = points(in_notebook)
    assert score == maximum - EXERCISES[exercise_id].points, in_notebook
    assert in_notebook[f"check_{exercise_id.replace('.', '_')}"][0] == 0
