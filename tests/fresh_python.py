"""Run a script in a fresh interpreter of this environment, in the project: what a new kernel would import."""
import subprocess
import sys

from helpers.data.paths import PROJECT_ROOT


def printed_by_fresh_python(script: str, timeout_s: float = 120) -> str:
    """The stripped standard output of ``python -c script`` run in the project folder; fails on a non-zero exit."""
    ran = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=timeout_s)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()
