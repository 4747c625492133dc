"""An nbgrader course of the bundle for the grading tests: run nbgrader, build submissions, read scores."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.checks.sandbox import WALL_SECONDS_ENV
from helpers.data.paths import DATA_ENV, SHARED_DATASETS_ENV, data_dir, shared_datasets_dir
from tools.grading import ASSIGNMENT, make_course

NBGRADER_TIMEOUT_S = 1800


def environment() -> dict[str, str]:
    """nbgrader's subprocesses (alembic, kernels) come from this Python's environment; the notebooks read
    the project's data (CIFAR-10 caches, the offline archive) as a student workspace's links would."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("BACKPROP_LAB_HEADLESS", None)  # nbgrader's NBGRADER_EXECUTION alone must make the run headless
    env[WALL_SECONDS_ENV] = "15"  # an endless loop in a submission costs 15 s here, not a minute
    env[DATA_ENV] = str(data_dir())
    if shared_datasets_dir() is not None:
        env[SHARED_DATASETS_ENV] = str(shared_datasets_dir())
    return env


def nbgrader(course: Path, *arguments: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=course, env=environment(),
                            capture_output=True, text=True, timeout=NBGRADER_TIMEOUT_S)
    assert result.returncode == 0, f"nbgrader {' '.join(arguments)}:\n{result.stdout[-3000:]}{result.stderr[-6000:]}"
    return result


def released_course(folder: Path) -> Path:
    """A course written by ``python -m tools.grading course`` with the assignment generated (released)."""
    course = folder / "course"
    make_course(course)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    return course


def hand_in_untouched(course: Path, student: str) -> Path:
    """The release, submitted as it was handed out."""
    return Path(shutil.copytree(course / "release" / ASSIGNMENT, course / "submitted" / student / ASSIGNMENT))


def scores(course: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """student -> grade cell -> (score, max score), from the gradebook."""
    from nbgrader.api import Gradebook
    found = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=ASSIGNMENT) as book:
        for student in book.students:
            submission = book.find_submission(ASSIGNMENT, student.id)
            found[student.id] = {g.name: (g.score, g.max_score) for n in submission.notebooks for g in n.grades}
    return found


def total(cells: dict) -> tuple[float, float]:
    """(score, max score) of the autograded check cells (the written answers are graded by hand)."""
    checks = [value for name, value in cells.items() if name.startswith("check_")]
    return sum(s for s, _ in checks), sum(m for _, m in checks)
