"""How long nbgrader takes to autograde one submission of the whole bundle (29 check cells in 6 notebooks).

    .venv/bin/python benchmarks/autograde_submission.py [--repeats 2]

A course is written (``python -m tools.grading course``) and generated in a temporary folder; the instructor's
solutions are handed in and autograded with ``nbgrader autograde`` (demonstrations are never run while
grading). The baseline in the same run is autograding a submission that holds notebook 01 only (two check
cells: nbgrader's fixed cost, one kernel, one sandbox start). Target: one submission <= 60 s on this machine.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project: helpers/ and tools/ (not installed)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from exercise_bugs import instructor_submission  # noqa: E402
from grading_course import nbgrader, released_course  # noqa: E402
from tools.grading import ASSIGNMENT  # noqa: E402


def autograde(course: Path, student: str) -> float:
    start = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT, "--student", student, "--force")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        course = released_course(Path(folder))
        instructor_submission(course / "submitted" / "instructor" / ASSIGNMENT)
        one = course / "submitted" / "one-notebook" / ASSIGNMENT
        shutil.copytree(course / "submitted" / "instructor" / ASSIGNMENT, one)
        for notebook in one.glob("*.ipynb"):
            if not notebook.name.startswith("01_"):
                notebook.unlink()
        baseline = statistics.median(autograde(course, "one-notebook") for _ in range(options.repeats))
        whole = statistics.median(autograde(course, "instructor") for _ in range(options.repeats))
    print(f"baseline (a submission of notebook 01 alone): {baseline:.1f} s")
    print(f"one whole submission (6 notebooks, 29 check cells): {whole:.1f} s  ratio {whole / baseline:.1f}")
    print(f"target: <= 60 s -> {'met' if whole <= 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
