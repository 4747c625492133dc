"""Loaded by pytest before any test or tests/conftest.py: outside the project's environment (a plain
``python3 -m pytest``), stop with one line saying what to run instead of an import traceback."""
import importlib.util
import sys

# What the tests import first: `make setup` installs requirements.txt; helpers is this checkout's own folder.
REQUIRED_MODULES = ("torch", "matplotlib", "nbval", "helpers")

_missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
if _missing:
    # SystemExit, not pytest.exit: pytest would wrap the latter in an import-error traceback
    sys.exit(f"this Python ({sys.executable}) lacks {', '.join(_missing)}: run `make test` "
             "(it sets up .venv and runs the tests there), or `.venv/bin/python -m pytest`")
