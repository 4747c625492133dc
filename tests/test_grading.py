"""Grading end to end: the planted bugs, the checks' independence, and nbgrader itself on the bundle.

First a probe runs the graded cells (what autograding runs) of one submission per exercise, each holding
that exercise's planted bug and nothing else wrong, across ALL notebooks: each bug fails its own exercise
and no other one, and the diagnosis names the mistake. Then nbgrader itself, ``generate_assignment`` and
``autograde`` in a course written by ``python -m tools.grading course``, grades four submissions: the
instructor's solutions score full marks; the untouched student edition scores 0 (without crashing or
hanging); two submissions that between them plant every exercise's bug once each lose exactly the points of
their bugged exercises, and keep every other exercise's.
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
        cases[f"bug-{exercise_id}"] = instructor_submission(root / f"bug-{exercise_id}", bugs=[bug])
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


def bug_halves() -> dict[str, list[str]]:
    """Two submissions between them plant every exercise's bug once: within each notebook the exercises
    alternate between them, so each also holds clean exercises next to bugged ones."""
    halves = {"bugs-a": [], "bugs-b": []}
    for notebook in sorted({e.notebook for e in EXERCISES.values()}):
        ids = [i for i, e in EXERCISES.items() if e.notebook == notebook]
        halves["bugs-a"] += ids[0::2]
        halves["bugs-b"] += ids[1::2]
    return halves


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """nbgrader itself: generate the assignment, autograde every submission, read the scores."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    make_course(course)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    submitted = course / "submitted"
    shutil.copytree(course / "release" / ASSIGNMENT, submitted / "untouched" / ASSIGNMENT)
    instructor_submission(submitted / "instructor" / ASSIGNMENT)
    for student, bugged in bug_halves().items():
        instructor_submission(submitted / student / ASSIGNMENT, bugs=[BUGS[i] for i in bugged])
    nbgrader(course, "autograde", ASSIGNMENT)
    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=ASSIGNMENT) as book:
        for student in book.students:
            submission = book.find_submission(ASSIGNMENT, student.id)
            scores[student.id] = {g.name: (g.score, g.max_score) for n in submission.notebooks for g in n.grades}
    return scores


def total(scores: dict) -> tuple[float, float]:
    return sum(s for s, _ in scores.values()), sum(m for _, m in scores.values())


def check_cell(exercise_id: str) -> str:
    return f"check_{exercise_id.replace('.', '_')}"


def test_nbgrader_gives_the_instructor_solutions_full_marks(gradebook):
    score, maximum = total(gradebook["instructor"])
    assert maximum == sum(e.points for e in EXERCISES.values()) and score == maximum, gradebook["instructor"]


def test_nbgrader_gives_the_untouched_student_edition_zero(gradebook):
    score, maximum = total(gradebook["untouched"])
    assert maximum == sum(e.points for e in EXERCISES.values()) and score == 0, gradebook["untouched"]


@pytest.mark.parametrize("student", ["bugs-a", "bugs-b"])
def test_nbgrader_takes_exactly_the_bugged_exercises_points(gradebook, student):
    bugged = bug_halves()[student]
    scores = gradebook[student]
    lost = {i: scores[check_cell(i)] for i in EXERCISES if scores[check_cell(i)][0] != scores[check_cell(i)][1]}
    assert sorted(lost) == sorted(bugged) and all(score == 0 for score, _ in lost.values()), lost
    score, maximum = total(scores)
    assert score == maximum - sum(EXERCISES[i].points for i in bugged)
