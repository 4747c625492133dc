"""``python -m tools.refresh NOTEBOOK...``: re-execute notebooks and store their fresh outputs.

Run it (``make refresh``) after changing a notebook or a helper it calls; nbval then compares
against these outputs.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from tools.notebook_runner import NotebookExecutionError, execute_notebook


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python -m tools.refresh NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    for name in paths:
        path = Path(name)
        print(f"refreshing {path} ...", flush=True)
        try:
            result = execute_notebook(path)
        except NotebookExecutionError as error:
            print(f"FAILED: {error}", file=sys.stderr)
            return 1
        nbformat.write(result.notebook, path)
        print(f"  done in {result.seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
