"""What a report contains: what the builder harvested from the notebooks' tagged cells
(:mod:`tools.report.harvest`) and what they handed over through ``helpers.runtime.report_hooks``.

:func:`collect` reads a finished staging folder (``metrics/``, deliverables) and the harvested items
of each run into a :class:`Report`; the summary page (``tools.report.summary``), printed as the PDF,
and ``metrics.json`` (:func:`metrics_document`) are both drawn from it, so they show the same thing.
Headline numbers become tables with :func:`tools.report.tables.headline_tables`.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import jsonschema
import nbformat

from tools.report.tables import humanise

TITLE = "backprop-lab report"
SUBTITLE = ("Backpropagation and gradient descent with PyTorch: every notebook executed headlessly, "
            "its headline numbers, key figures and observations.")
SCHEMA_PATH = Path(__file__).with_name("metrics_schema.json")
SCHEMA_VERSION = 1
# Sub-folders the report hooks and the harvest write; everything else at the top of the staging folder is a
# deliverable.
ARTIFACT_DIRS = ("metrics", "figures", "text")
DELIVERABLE_PREVIEW_LINES = 5


@dataclass
class Item:
    """A figure (``path`` relative to the report root) or an observation (``markdown``)."""
    kind: str  # "figure" or "text"
    name: str
    path: str | None = None
    markdown: str | None = None
    alt: str | None = None  # a figure's alt text (what it shows, from its titles and labels); None: its name
    smallest_text_pt: float | None = None  # the smallest font drawn in the figure, in its own points
    dpi: float | None = None  # pixels per inch of the figure's PNG: its natural size is pixels / dpi

    @property
    def caption(self) -> str:
        """What the figure shows in words: its title, else its panels' titles (the first sentence of
        its description, see :func:`tools.report.harvest.alt_text`); its humanised name when untitled."""
        description = self.alt.split(": ", 1)[1] if self.alt and ": " in self.alt else ""
        first = description.split(". ", 1)[0].rstrip(".").removeprefix("Panels: ")
        if not first or first.startswith(("Axes: ", "Figure with")):
            return humanise(self.name)
        return first


@dataclass
class Section:
    name: str
    title: str
    notebook: str | None  # the source notebook, relative to the project, None for a stray section
    seconds: float | None
    metrics: dict
    items: list[Item]


@dataclass
class Deliverable:
    name: str
    size: int
    line_count: int | None  # None for a binary file
    preview: list[str]


@dataclass
class NotebookRun:
    """A notebook that ran in this build: where it lives, its title, its execution time and the
    figures and observations harvested from its tagged cells, in cell order."""
    path: Path
    title: str
    seconds: float
    items: list[Item] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass
class Report:
    sections: list[Section]
    deliverables: list[Deliverable]
    environment: dict
    generated_at: str
    total_seconds: float
    jobs: int
    complete: bool  # every notebook of the folder ran (not a --only build)
    warnings: list[str] = field(default_factory=list)

    @property
    def generated_text(self) -> str:
        """``2026-11-21 22:19:31 UTC``."""
        return self.generated_at.replace("T", " ").replace("+00:00", " UTC")


def notebook_title(path: Path) -> str:
    """The first Markdown heading of the notebook, else its humanised name."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip().replace("*", "").replace("`", "")
    return humanise(path.stem)


def environment() -> dict:
    """Versions and machine the numbers came from (torch's version read without importing torch)."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    return {"python": platform.python_version(), "torch": torch_version,
            "platform": platform.platform(), "cpu_count": os.cpu_count() or 1}


def utc_timestamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------------
# Reading the staging folder
# ---------------------------------------------------------------------------------------------------
def _read_metrics(root: Path, section: str) -> dict:
    path = root / "metrics" / f"{section}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _sections_with_metrics(root: Path) -> set[str]:
    # Figures and texts are harvested per notebook; only record_metrics can name a section of its own.
    return {p.stem for p in (root / "metrics").glob("*.json")}


def _deliverable(path: Path) -> Deliverable:
    data = path.read_bytes()
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return Deliverable(path.name, len(data), None, [])
    return Deliverable(path.name, len(data), len(lines), lines[:DELIVERABLE_PREVIEW_LINES])


def collect(root: Path, runs: list[NotebookRun], reserved: set[str], project_root: Path,
            total_seconds: float, jobs: int, complete: bool) -> Report:
    """Gather what the notebooks wrote under ``root`` (the staging folder) and the items harvested
    from each run's tagged cells (kept in that, the notebook's cell, order) into a :class:`Report`.

    ``reserved`` are the top-level names the builder itself writes; a deliverable with one of these
    names would be overwritten, so it is an error.
    """
    sections, warnings = [], []
    for run in runs:
        try:
            notebook = run.path.relative_to(project_root).as_posix()
        except ValueError:
            notebook = str(run.path)
        items = list(run.items)
        sections.append(Section(run.name, run.title, notebook, run.seconds, _read_metrics(root, run.name),
                                items))
    for stray in sorted(_sections_with_metrics(root) - {run.name for run in runs}):
        warnings.append(f"section {stray!r} matches no notebook name (use the notebook's stem); "
                        f"shown after the notebooks")
        sections.append(Section(stray, humanise(stray), None, None, _read_metrics(root, stray),
                                []))
    clashes = sorted(p.name for p in root.iterdir() if p.name in reserved)
    if clashes:
        raise ValueError(f"a notebook wrote deliverable(s) {clashes} whose names the report itself uses; "
                         f"rename them in the write_deliverable call")
    deliverables = [_deliverable(p) for p in sorted(root.iterdir())
                    if not p.name.startswith(".") and p.name not in ARTIFACT_DIRS and p.is_file()]
    return Report(sections, deliverables, environment(), utc_timestamp(), total_seconds, jobs,
                  complete, warnings)


# ---------------------------------------------------------------------------------------------------
# metrics.json
# ---------------------------------------------------------------------------------------------------
def metrics_document(report: Report, printed: dict | None = None) -> dict:
    """The content of ``metrics.json``: every headline number per section, versions, timings and, when
    the PDF was printed, what its print layout showed (:func:`tools.report.printing.print_pdf`)."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": report.generated_at,
        "complete": report.complete,
        "environment": report.environment,
        "timing": {
            "total_seconds": round(report.total_seconds, 3),
            "jobs": report.jobs,
            "notebooks": {s.name: round(s.seconds, 3) for s in report.sections if s.seconds is not None},
        },
        "sections": {s.name: s.metrics for s in report.sections},
        "deliverables": [d.name for d in report.deliverables],
    }
    if printed is not None:
        document["print"] = printed
    return document


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate_metrics(document: dict) -> None:
    """Raise ``ValueError`` naming the offending field when ``document`` breaks the schema."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(f"at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                            for e in errors[:5])
        raise ValueError(f"metrics.json does not match {SCHEMA_PATH.name}: {details}")
