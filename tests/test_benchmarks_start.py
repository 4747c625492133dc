"""Every benchmark starts as its docstring says, ``python benchmarks/NAME.py``, from any folder: the project is
not installed into the environment (issue 24), so each finds ``helpers`` and ``tools`` beside itself. Run with
``--help``: its imports load, then argparse prints the usage and exits 0 (no benchmark runs)."""
import os
import subprocess
import sys

import pytest

from helpers.data.paths import PROJECT_ROOT

BENCHMARKS = sorted((PROJECT_ROOT / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_the_benchmark_starts_from_another_folder(script, tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    ran = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, env=environment,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.startswith("usage:"), ran.stdout[:500]


def test_there_are_benchmarks_to_start():
    assert len(BENCHMARKS) >= 8, [p.name for p in BENCHMARKS]
