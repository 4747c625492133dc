"""One notebook of a report build: execute it into the staging folder, harvest its tagged outputs
(:mod:`tools.report.harvest`), write its executed copy and HTML.

The report builder calls :func:`run_one` in worker processes (``--jobs`` of them), not threads:
:func:`tools.notebook_runner.execute_notebook` hands the report folder to the kernel through
``os.environ``, which threads would share. The committed notebook is only read.

Headline numbers: after each cell tagged ``report-metrics:<name>``, the kernel runs the function ``<name>``
of ``headline_numbers/<notebook>.py`` (beside this file) on the notebook's variables
(:func:`helpers.runtime.report_hooks.record_headline_numbers`), so no teaching cell carries report plumbing.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from helpers.runtime.report_hooks import REPORT_ENV
from tools.notebook_runner import NotebookExecutionError, execute_notebook
from tools.report.harvest import METRICS_TAG, HarvestError, harvest
from tools.report.mathjax import mathjax_url

EXECUTED_NOTEBOOKS_DIR = "notebooks"
HEADLINE_NUMBERS_DIR = Path(__file__).with_name("headline_numbers")


def metrics_tags(cell) -> list[str]:
    """The names of the cell's ``report-metrics:<name>`` tags, in tag order."""
    return [tag[len(METRICS_TAG):] for tag in cell.get("metadata", {}).get("tags", []) if tag.startswith(METRICS_TAG)]


def headline_numbers_follow_up(section: str, headline_numbers: Path = HEADLINE_NUMBERS_DIR):
    """``follow_up`` for :func:`tools.notebook_runner.execute_notebook`: after a cell tagged
    ``report-metrics:<name>``, the kernel records the numbers the function ``<name>`` of
    ``headline_numbers/<section>.py`` makes (``__import__`` binds no name in the notebook's namespace)."""
    source = str(Path(headline_numbers).resolve() / f"{section}.py")

    def code_after(cell) -> str | None:
        return "\n".join(f"__import__('helpers.runtime.report_hooks', fromlist=['_']).record_headline_numbers("
                         f"{section!r}, {source!r}, {name!r}, globals())" for name in metrics_tags(cell)) or None
    return code_after


@contextmanager
def output_to(log_path: Path):
    """Send this process's stdout and stderr (file descriptors, so the kernel's too) to ``log_path``:
    kernel start-up chatter stays out of the build's progress lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "w") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_one(notebook: Path, staging: Path, log_path: Path, headline_numbers: Path = HEADLINE_NUMBERS_DIR) -> dict:
    """Execute ``notebook``, its headline numbers (functions in ``headline_numbers``) recorded into
    ``staging``, then harvest its tagged figures and observations there; the executed copy and its HTML go
    to ``staging/notebooks/``.

    Returns ``{"ok": True, "seconds": ..., "items": [Item, ...]}`` (items in cell order) or
    ``{"ok": False, "message": ..., "cell_index": ..., "error_name": ..., "error_value": ...}``.
    """
    notebook = Path(notebook)
    try:
        return _run(notebook, staging, log_path, headline_numbers)
    except OSError as error:  # a full disk or a read-only folder: say where, not only errno
        where = error.filename or staging
        return {"ok": False, "cell_index": None, "error_name": type(error).__name__,
                "error_value": str(error),
                "message": f"{notebook.name}: could not write {where}: {error.strerror or error}; make "
                           f"{staging.parent} writable and check its disk has free space (df -h {staging.parent})"}


def _run(notebook: Path, staging: Path, log_path: Path, headline_numbers: Path) -> dict:
    with output_to(log_path):
        try:
            result = execute_notebook(notebook, extra_env={REPORT_ENV: str(staging)},
                                      follow_up=headline_numbers_follow_up(notebook.stem, headline_numbers))
            items = harvest(result.notebook, notebook.name, notebook.stem, staging)
        except NotebookExecutionError as error:
            return {"ok": False, "message": str(error), "cell_index": error.cell_index,
                    "error_name": error.error_name, "error_value": error.error_value}
        except HarvestError as error:
            return {"ok": False, "message": str(error), "cell_index": error.cell_index,
                    "error_name": type(error).__name__, "error_value": str(error)}
        write_executed(result.notebook, notebook, staging)
    return {"ok": True, "seconds": result.seconds, "items": items}


def write_executed(executed: nbformat.NotebookNode, notebook: Path, staging: Path) -> None:
    """The executed copy and its HTML into ``staging/notebooks/``."""
    target = staging / EXECUTED_NOTEBOOKS_DIR
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, target / notebook.name)
    # the report's own MathJax (one folder up): formulas render without network
    html, _ = HTMLExporter(template_name="lab", mathjax_url=mathjax_url(depth=1)).from_notebook_node(executed)
    (target / f"{notebook.stem}.html").write_text(html, encoding="utf-8")
