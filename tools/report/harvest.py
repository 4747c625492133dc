"""Figures and observations collected from an executed notebook's tagged cells.

A notebook hands a figure or an observation to the report by tagging the code cell that shows it
(``metadata.tags``), not by calling anything::

    report-figure:<name>   its image/png output (plt.show())              -> figures/<section>/<name>.png
    report-text:<name>     its text/markdown output (display(Markdown()))  -> text/<section>/<name>.md

Headline numbers are not harvested from outputs: a cell tagged ``report-metrics:<name>`` has the builder run
the function ``<name>`` of ``tools/report/headline_numbers/<notebook>.py`` in the kernel right after it
(:mod:`tools.report.execute`), on the notebook's variables, and the numbers it returns are stored.

The section is the notebook's stem. When a cell carries several tags of one kind, the n-th tag takes
the n-th output of that type (a cell showing two figures may tag both). Items keep the notebook's
cell order, which :func:`harvest` returns explicitly. A tag without its output, a name used twice
and an unknown ``report-`` tag are build errors that name the notebook, the cell and the tag.
"""
from __future__ import annotations

import base64
import re
from pathlib import Path

from nbformat import NotebookNode

from tools.report.content import Item

FIGURE_TAG, TEXT_TAG = "report-figure:", "report-text:"
TAG_PREFIX = "report-"
METRICS_TAG = "report-metrics:"  # numbers recorded while the notebook runs (tools.report.execute): nothing to harvest
# kind of item -> (tag prefix, MIME type of the output it takes, folder, file suffix)
KINDS = {"figure": (FIGURE_TAG, "image/png", "figures", ".png"),
         "text": (TEXT_TAG, "text/markdown", "text", ".md")}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a file name: no folders, no hidden files


class HarvestError(ValueError):
    """A report tag the executed notebook cannot satisfy; the message names notebook, cell and tag."""

    def __init__(self, notebook: str, cell_index: int, tag: str, problem: str):
        self.notebook, self.cell_index, self.tag = notebook, cell_index, tag
        super().__init__(f"{notebook}: cell {cell_index} is tagged {tag!r} but {problem}")


def _outputs_of_type(cell: NotebookNode, mime: str) -> list[tuple[dict, dict]]:
    """``(data, metadata)`` of the cell's outputs (display_data, execute_result) that carry ``mime``,
    in output order."""
    return [(output["data"], output.get("metadata", {})) for output in cell.get("outputs", [])
            if mime in output.get("data", {})]


def _joined(payload: str | list[str]) -> str:
    return "".join(payload) if isinstance(payload, list) else payload  # nbformat may keep lines split


def alt_text(name: str, data: dict) -> str:
    """A figure's alt text: its name, then what its text/plain output says it shows (a report build
    describes each figure there, see ``helpers.plots.style.describe_figure``); matplotlib's bare
    ``<Figure size … with N Axes>`` adds nothing and is left out."""
    description = _joined(data.get("text/plain", "")).strip()
    caption = Item("figure", name).caption
    return caption if not description or description.startswith("<") else f"{caption}: {description}"


def _report_tags(cell: NotebookNode) -> list[tuple[str, str, str]]:
    """``(tag, kind, name)`` for each report tag of ``cell``, in the order of ``metadata.tags``."""
    found = []
    for tag in cell.get("metadata", {}).get("tags", []):
        kind = next((k for k, (prefix, *_) in KINDS.items() if tag.startswith(prefix)), None)
        if kind is not None:
            found.append((tag, kind, tag[len(KINDS[kind][0]):]))
        elif tag.startswith(TAG_PREFIX) and not tag.startswith(METRICS_TAG):
            found.append((tag, None, ""))
    return found


def _text_size(metadata: dict) -> dict:
    """What a report build's figure output says about its text (``helpers.plots.style.png_with_text_size``):
    the smallest font in the figure's points and the PNG's dpi; nothing for an output without it."""
    found = metadata.get("image/png", {}) if isinstance(metadata, dict) else {}
    return {key: found[key] for key in ("smallest_text_pt", "dpi") if isinstance(found.get(key), (int, float))}


def _store(data: dict, metadata: dict, kind: str, name: str, section: str, root: Path) -> Item:
    """Write one tagged output (its MIME bundle ``data``, its ``metadata``) under ``root``; returns its
    report item."""
    _, mime, folder, suffix = KINDS[kind]
    relative = f"{folder}/{section}/{name}{suffix}"
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _joined(data[mime])
    if kind == "figure":
        path.write_bytes(base64.b64decode(text))
        return Item(kind, name, path=relative, alt=alt_text(name, data), **_text_size(metadata))
    path.write_text(text, encoding="utf-8")
    return Item(kind, name, markdown=text)


def harvest(notebook: NotebookNode, notebook_name: str, section: str, root: Path) -> list[Item]:
    """Write the tagged outputs of the executed ``notebook`` under ``root`` (the staging folder).

    Returns the items in cell order: a figure's ``path`` is relative to ``root``, an observation
    carries its ``markdown``. Raises :class:`HarvestError` when a tag cannot be satisfied.
    """
    items, seen = [], set()
    for index, cell in enumerate(notebook.cells):
        taken = {kind: 0 for kind in KINDS}  # outputs of each type used by this cell's earlier tags
        for tag, kind, name in _report_tags(cell):
            if kind is None:
                raise HarvestError(notebook_name, index, tag, f"report tags are {FIGURE_TAG}<name>, "
                                   f"{TEXT_TAG}<name> or {METRICS_TAG}<name>")
            if not _NAME.fullmatch(name):
                raise HarvestError(notebook_name, index, tag, "the name after ':' must be a plain file "
                                   "name (letters, digits, '_', '-', '.')")
            if (kind, name) in seen:
                raise HarvestError(notebook_name, index, tag, "an earlier tag of this notebook has that name")
            mime = KINDS[kind][1]
            payloads = _outputs_of_type(cell, mime) if cell.cell_type == "code" else []
            if taken[kind] >= len(payloads):
                problem = (f"has only {len(payloads)} {mime} output(s) for its {taken[kind] + 1} "
                           f"{KINDS[kind][0]} tags" if payloads else f"has no {mime} output")
                raise HarvestError(notebook_name, index, tag, problem)
            items.append(_store(*payloads[taken[kind]], kind, name, section, root))
            taken[kind] += 1
            seen.add((kind, name))
    return items
