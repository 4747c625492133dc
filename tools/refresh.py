"""``python -m tools.refresh NOTEBOOK...``: re-execute notebooks and store their fresh outputs.

Run it (``make refresh``) after changing a notebook or a helper it calls; nbval then compares
against these outputs. Only real changes are written: a cell whose fresh outputs equal its stored
ones as nbval compares them (its sanitisation rules, ``tests/nbval_sanitize.cfg``: addresses, timings,
progress bars; images, output metadata, execution counts and widget model ids left out) with
consecutive stream outputs merged (a print may arrive split at another point) keeps its committed
bytes; a changed cell takes the fresh outputs and keeps the rest (its execution count too). The
notebook's metadata is kept, except the widget state when a changed cell displays a widget (its ids
must match). A notebook with no real change is not written at all ("unchanged"); one that changed is
replaced atomically (a temporary file, then a rename), so an interruption never leaves half a notebook.

``--all`` stores every fresh output, images included (after changing what a figure shows: nbval does
not compare images, so neither does the default).
"""
from __future__ import annotations

import copy
import os
import re
import sys
from pathlib import Path

import nbformat

from helpers.data.cache import atomic_target
from tools.notebook_runner import NotebookExecutionError, execute_notebook

SANITIZE_CFG = Path(__file__).resolve().parents[1] / "tests" / "nbval_sanitize.cfg"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGETS = "widgets"  # the notebook metadata key holding the widget state
NOT_COMPARED = ("metadata", "traceback", "execution_count")  # output keys nbval leaves out
IMAGES = ("image/png", "image/jpeg")  # nbval compares images only with nbdime, which we do not use


def sanitize_patterns(path: Path = SANITIZE_CFG) -> list[tuple[str, str]]:
    """The ``(regex, replace)`` pairs of an nbval sanitise file, read as nbval reads them."""
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", path.read_text(), flags=re.MULTILINE)


def _sanitize(value, patterns):
    if isinstance(value, list):
        value = "".join(value)
    if not isinstance(value, str):
        return value
    for regex, replace in patterns:
        value = re.sub(regex, replace, value)
    return value


def comparable(outputs: list, patterns: list[tuple[str, str]]) -> list[dict]:
    """``outputs`` as nbval compares them: consecutive streams of one name merged, text sanitised;
    images, output metadata, tracebacks, execution counts and widget model ids left out."""
    merged: list[dict] = []
    for output in outputs:
        output = copy.deepcopy(dict(output))
        if output.get("output_type") == "stream":
            output["text"] = "".join(output.get("text", ""))
            if merged and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == output["name"]:
                merged[-1]["text"] += output["text"]
                continue
        for key in NOT_COMPARED:
            output.pop(key, None)
        output["data"] = {mime: value for mime, value in output.get("data", {}).items()
                          if mime not in IMAGES + (WIDGET_VIEW,)}
        merged.append(output)
    for output in merged:
        for key in ("text", "evalue"):
            if key in output:
                output[key] = _sanitize(output[key], patterns)
        output["data"] = {mime: _sanitize(value, patterns) for mime, value in output.get("data", {}).items()}
    return merged


def _shows_widget(cell) -> bool:
    return any(WIDGET_VIEW in output.get("data", {}) for output in cell.get("outputs", []))


def _take_outputs(cell, fresh_cell) -> None:
    """``cell`` gets ``fresh_cell``'s outputs."""
    cell.outputs = copy.deepcopy(fresh_cell.outputs)


def _number_as_run(cell, fresh_cell) -> None:
    """``cell`` (and its outputs) carries ``fresh_cell``'s execution count: the run's, top to bottom, so a reader
    sees [1], [2], [3] … down the notebook, whichever cells' outputs changed."""
    cell["execution_count"] = fresh_cell.get("execution_count")
    for output in cell.outputs:
        if "execution_count" in output:
            output["execution_count"] = cell["execution_count"]


def merge(stored: nbformat.NotebookNode, fresh: nbformat.NotebookNode, patterns: list[tuple[str, str]],
          everything: bool = False) -> tuple[nbformat.NotebookNode, list[int]]:
    """``stored`` with the fresh outputs of each code cell whose outputs really changed (every code
    cell if ``everything``) and every code cell numbered as the fresh run executed it (top to bottom); returns it
    and the indices of the cells whose outputs changed. The metadata stays ``stored``'s, but for the widget state
    when a changed cell displays a widget."""
    result, changed = copy.deepcopy(stored), []
    for index, (old, new) in enumerate(zip(stored.cells, fresh.cells)):
        if old.cell_type == "code" and (
                everything or comparable(old.outputs, patterns) != comparable(new.outputs, patterns)):
            _take_outputs(result.cells[index], new)
            changed.append(index)
    if any(_shows_widget(result.cells[i]) for i in changed):
        for index, cell in enumerate(result.cells):  # every displayed widget must be in the state kept
            if _shows_widget(cell) and index not in changed:
                _take_outputs(cell, fresh.cells[index])
                changed.append(index)
        if WIDGETS in fresh.metadata:
            result.metadata[WIDGETS] = fresh.metadata[WIDGETS]
        else:
            result.metadata.pop(WIDGETS, None)
    for cell, fresh_cell in zip(result.cells, fresh.cells):
        if cell.cell_type == "code":
            _number_as_run(cell, fresh_cell)
    return result, sorted(changed)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` (keeping its permissions) through a temporary file beside it and a rename."""
    with atomic_target(path) as partial:
        partial.write_text(text, encoding="utf-8")
        os.chmod(partial, path.stat().st_mode & 0o7777)


def refresh(path: Path, patterns: list[tuple[str, str]], everything: bool = False) -> list[int] | None:
    """Execute ``path`` and store its real changes (every output if ``everything``); returns the
    changed cells, None when unchanged."""
    committed = path.read_text(encoding="utf-8")
    stored = nbformat.reads(committed, as_version=4)
    result = execute_notebook(path)
    merged, changed = merge(stored, result.notebook, patterns, everything)
    if merged == stored:
        return None  # not even re-serialised: the committed bytes stay as they are
    text = nbformat.writes(merged) + "\n"  # what nbformat.write puts in a file
    write_atomically(path, text)
    return changed


def main(paths: list[str]) -> int:
    everything = "--all" in paths
    paths = [p for p in paths if p != "--all"]
    if not paths:
        print("usage: python -m tools.refresh [--all] NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    patterns = sanitize_patterns()
    for name in paths:
        path = Path(name)
        print(f"refreshing {path} ...", flush=True)
        try:
            changed = refresh(path, patterns, everything)
        except NotebookExecutionError as error:
            print(f"FAILED: {error}", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"FAILED: could not write {error.filename or path}: {error.strerror or error}", file=sys.stderr)
            return 1
        print("  unchanged" if changed is None else
              f"  stored new outputs of cell(s) {', '.join(map(str, changed))}" if changed else
              "  outputs unchanged; execution counts renumbered as run, top to bottom", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
