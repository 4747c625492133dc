"""A partial build (``--only``) keeps the other sections of the previous report.

For each notebook of the folder that this build does not run and that the previous report holds
(its section in ``metrics.json`` and its executed copy in ``notebooks/``), :func:`keep_previous_sections`
stages what the previous report showed: the headline numbers, the executed copy and its HTML, the
figures and observations harvested again from that executed copy (the same bytes), its run time;
and the previous deliverables this build did not write again. The page then shows every section.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

from tools.report.content import NotebookRun, notebook_title
from tools.report.execute import EXECUTED_NOTEBOOKS_DIR
from tools.report.harvest import harvest


def _previous_metrics(output_dir: Path) -> dict:
    try:
        document = json.loads((output_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) and isinstance(document.get("sections"), dict) else {}


def keep_previous_sections(output_dir: Path, staging: Path, others: list[Path]) -> list[NotebookRun]:
    """Stage the previous report's sections of the notebooks ``others`` (those not run now); returns
    their runs (time from the previous build). Raises ``OSError`` if staging cannot be written."""
    previous = _previous_metrics(output_dir)
    sections, timing = previous.get("sections", {}), previous.get("timing", {}).get("notebooks", {})
    runs = []
    for notebook in others:
        executed = output_dir / EXECUTED_NOTEBOOKS_DIR / f"{notebook.stem}.ipynb"
        if notebook.stem not in sections or not executed.is_file():
            continue
        (staging / "metrics").mkdir(exist_ok=True)
        (staging / "metrics" / f"{notebook.stem}.json").write_text(json.dumps(sections[notebook.stem], indent=2))
        target = staging / EXECUTED_NOTEBOOKS_DIR
        target.mkdir(exist_ok=True)
        for copy in (executed, executed.with_suffix(".html")):
            if copy.is_file():
                shutil.copy2(copy, target / copy.name)
        items = harvest(nbformat.read(executed, as_version=4), notebook.name, notebook.stem, staging)
        seconds = timing.get(notebook.stem) if isinstance(timing, dict) else None
        runs.append(NotebookRun(notebook, notebook_title(notebook), seconds, items))
    for name in previous.get("deliverables", []):
        source = output_dir / str(name)
        if runs and source.is_file() and not (staging / source.name).exists():
            shutil.copy2(source, staging / source.name)
    return runs
