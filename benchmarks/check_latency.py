"""How long a check cell takes, including the sandbox it runs the student's code in.

    .venv/bin/python benchmarks/check_latency.py [--repeats 3] [--only 1.1,3.1]

For every exercise, ``run_checks`` on the instructor's code (the same work a check cell does): *cold*, with no
sandbox server running (the first check cell of a notebook: bubblewrap starts, the worker imports torch,
forks), and *warm* (the next check cells: one fork). The baseline in the same run is a fresh
``python -I -c "import torch"``, the least any fresh process needs; the cold/baseline ratio says what the
sandbox adds on top. Target: every cold check <= 3 s on this machine.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.checks.exercises import all_exercises, run_checks  # noqa: E402
from helpers.checks.sandbox import close_all, isolation  # noqa: E402
from tests.sandbox_workspaces import cells_for  # noqa: E402 - a notebook exercise's cells, as a notebook sends them


def seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated exercise ids (default: all)")
    options = parser.parse_args()
    ids = [i for i in all_exercises() if not options.only or i in options.only.split(",")]
    baseline = statistics.median(seconds(lambda: subprocess.run([sys.executable, "-I", "-c", "import torch"],
                                                                check=True)) for _ in range(options.repeats))
    print(f"isolation: {isolation()}")
    print(f"baseline (fresh python importing torch): {baseline:.2f} s")
    print(f"{'exercise':>8}  {'cold s':>7}  {'warm s':>7}  {'cold/baseline':>13}  passed")
    worst = 0.0
    for exercise_id in ids:
        cold, warm = [], []
        for _ in range(options.repeats):
            close_all()
            cold.append(seconds(lambda: run_checks(exercise_id, notebook_cells=cells_for(exercise_id))))
            warm.append(seconds(lambda: run_checks(exercise_id, notebook_cells=cells_for(exercise_id))))
        passed = run_checks(exercise_id, notebook_cells=cells_for(exercise_id)).passed
        worst = max(worst, max(cold))
        print(f"{exercise_id:>8}  {statistics.median(cold):7.2f}  {statistics.median(warm):7.2f}  "
              f"{statistics.median(cold) / baseline:13.2f}  {passed}")
    print(f"worst cold check: {worst:.2f} s (target <= 3 s)")
    close_all()


if __name__ == "__main__":
    main()
