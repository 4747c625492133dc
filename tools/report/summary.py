"""``report/index.html``: the summary page, one section per notebook, built as a notebook of Markdown
cells and rendered by nbconvert's HTMLExporter (the template ``templates/report``: JupyterLab's page
with the report's print stylesheet), so the observations' Markdown and maths are rendered exactly as in
the executed notebooks (MathJax, offline: :mod:`tools.report.mathjax`).

Each section: a card with its headline numbers as tables, then its figures (at a size where their text
reads in print, :func:`print_size`, with a caption saying what they show) and written observations, in
the notebook's cell order. Figures are linked
relatively (``figures/<section>/<name>.png``): the page needs nothing but the report folder.
"""
from __future__ import annotations

import html
import math
import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from PIL import Image

from tools.report.content import SUBTITLE, TITLE, Deliverable, Item, Report, Section
from tools.report.mathjax import mathjax_url
from tools.report.printing import CSS_PX_PER_MM, MIN_FIGURE_TEXT_PT, PAPER, PAPER_TEXT_MM
from tools.report.tables import Table, format_seconds, headline_tables

TEMPLATES = Path(__file__).with_name("templates")
CSS_PX_PER_INCH = 96
DEFAULT_DPI = 100.0  # a PNG that does not say its dpi (matplotlib's own default)
FIGURE_PAGE_HEIGHT_SHARE = 0.86  # of a page's text height: the rest for the caption
DOT = " \u00b7 "
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|$#])")
_HEADING = re.compile(r"^(#{1,4}) ", re.MULTILINE)


def escape_markdown(text) -> str:
    """``text`` shown as it is in Markdown (a ``|`` does not end a table cell, a ``$`` starts no formula)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def _cell(source: str, tag: str) -> nbformat.NotebookNode:
    """A Markdown cell; ``tag`` becomes its CSS class ``celltag_<tag>`` (see report.css)."""
    return nbformat.v4.new_markdown_cell(source, metadata={"tags": [tag]})


def table_markdown(table: Table) -> str:
    align = ["---:" if numeric else ":---" for numeric in table.numeric]
    rows = [table.header, align, *table.rows]
    lines = ["| " + " | ".join(cell if r == 1 else escape_markdown(cell) for cell in row) + " |"
             for r, row in enumerate(rows)]
    title = f"#### {escape_markdown(table.title)}\n\n" if table.title else ""  # kept with its table in print
    return title + "\n".join(lines)


def print_size(item: Item, width_px: int, height_px: int) -> tuple[float, bool]:
    """``(width, wide)`` of the figure in CSS px: its natural size (its PNG's pixels at the
    dpi it was drawn at), enlarged until its smallest text prints at ``MIN_FIGURE_TEXT_PT`` when it has
    smaller, at most as wide and (less room for its caption: a figure never splits) as tall as a page's
    text; ``wide``: it needs a landscape page for that."""
    natural = width_px * CSS_PX_PER_INCH / (item.dpi or DEFAULT_DPI)
    wanted = natural * max(1.0, MIN_FIGURE_TEXT_PT / item.smallest_text_pt) if item.smallest_text_pt else natural
    wide = wanted > PAPER_TEXT_MM["portrait"][0] * CSS_PX_PER_MM
    page_width, page_height = PAPER_TEXT_MM["landscape" if wide else "portrait"]
    max_height = page_height * CSS_PX_PER_MM * FIGURE_PAGE_HEIGHT_SHARE
    width = min(wanted, page_width * CSS_PX_PER_MM, max_height * width_px / height_px)
    return width, wide


def printed_text_pt(item: Item, width_px: int, height_px: int) -> float | None:
    """The smallest text of the figure once printed at its :func:`print_size`, in points: its smallest font ×
    printed width / natural width (what :mod:`tools.report.printing` measures in the printed page)."""
    if not item.smallest_text_pt:
        return None
    natural = width_px * CSS_PX_PER_INCH / (item.dpi or DEFAULT_DPI)
    return item.smallest_text_pt * math.ceil(print_size(item, width_px, height_px)[0]) / natural


def figure_html(item: Item, root: Path) -> str:
    """The figure at its :func:`print_size`, with its caption; loaded eagerly (a lazy image is blank when
    the page is printed)."""
    with Image.open(root / item.path) as image:
        width, wide = print_size(item, *image.size)
    e = html.escape
    return (f'<figure class="report-figure{" wide" if wide else ""}"><img src="{e(item.path)}" '
            f'alt="{e(item.alt or item.caption)}" style="width:{math.ceil(width)}px">'
            f"<figcaption>{e(item.caption)}</figcaption></figure>")


def _observation(markdown: str) -> str:
    """The observation's headings two levels below the section's own (``#`` becomes ``###``)."""
    return _HEADING.sub(lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", markdown)


def _section_cells(section: Section, root: Path) -> list[nbformat.NotebookNode]:
    number = section.name.split("_", 1)[0]
    number = number if re.fullmatch(r"\d+[a-z]?", number) and not section.title.startswith(number) else ""
    head = [f'<a id="{html.escape(section.name)}"></a>\n\n## '
            + (f'<span class="num">{number}</span>' if number else "") + section.title]
    if section.notebook:
        head.append(DOT.join([f"`{section.notebook}`", f"ran in {format_seconds(section.seconds)}",
                              f"[executed notebook](notebooks/{section.name}.html)",
                              f"[.ipynb](notebooks/{section.name}.ipynb)"]))
    tables = headline_tables(section.metrics)
    if tables:
        head += ["### Headline numbers"] + [table_markdown(t) for t in tables]
    if not tables and not section.items:
        head.append("This notebook handed nothing over to the report; see its executed copy.")
    cells = [_cell("\n\n".join(head), "report-card")]
    for item in section.items:
        cells.append(_cell(figure_html(item, root), "report-figure") if item.kind == "figure"
                     else _cell(_observation(item.markdown), "report-observation"))
    return cells


def _masthead(report: Report) -> str:
    env = report.environment
    lines = [f"# {TITLE}", SUBTITLE,
             f"Generated {report.generated_text} by `make report` in {format_seconds(report.total_seconds)}"
             f" ({report.jobs} notebooks at a time){DOT}Python {env['python']}{DOT}torch {env['torch']}{DOT}"
             f"{escape_markdown(env['platform'])}{DOT}{env['cpu_count']} CPUs",
             "Also as [PDF](report.pdf); every number in [`metrics.json`](metrics.json)."]
    if not report.complete:
        lines.append('<p class="warning">Partial report: only the notebooks chosen with --only ran.</p>')
    lines += [f'<p class="warning">{html.escape(w)}</p>' for w in report.warnings]
    return "\n\n".join(lines)


def _contents(report: Report) -> str:
    rows = [["section", "notebook", "run time"], [":---", ":---", "---:"]]
    rows += [[f"[{escape_markdown(s.title)}](#{s.name})", f"`{s.name}`", format_seconds(s.seconds)]
             for s in report.sections]
    rows.append([f"**whole build** ({report.jobs} at a time)", "", f"**{format_seconds(report.total_seconds)}**"])
    return "## Contents\n\n" + "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _deliverables(deliverables: list[Deliverable]) -> str:
    parts = ["## Deliverables"]
    for item in deliverables:
        size = f"{item.size} B" if item.size < 1024 else f"{item.size / 1024:.1f} kB"
        lines = "binary file" if item.line_count is None else f"{item.line_count} lines"
        parts.append(f"[`{item.name}`]({item.name}) ({lines}, {size})")
        if item.preview:
            more = "\n\u2026" if item.line_count and item.line_count > len(item.preview) else ""
            parts.append("```\n" + "\n".join(item.preview) + more + "\n```")
    return "\n\n".join(parts)


def summary_notebook(report: Report, root: Path) -> nbformat.NotebookNode:
    """The summary page as a notebook of Markdown cells; ``root`` is the folder the figure paths start at."""
    cells = [_cell(_masthead(report), "report-masthead"), _cell(_contents(report), "report-card")]
    if report.deliverables:
        cells.append(_cell(_deliverables(report.deliverables), "report-card"))
    for section in report.sections:
        cells += _section_cells(section, root)
    return nbformat.v4.new_notebook(cells=cells, metadata={"title": TITLE})


def write_index(report: Report, root: Path, path: Path) -> None:
    page = HTMLExporter(template_name="report", extra_template_basedirs=[str(TEMPLATES)],
                        mathjax_url=mathjax_url(0), exclude_input_prompt=True, exclude_output_prompt=True)
    html_text, _ = page.from_notebook_node(summary_notebook(report, root), resources={"report_paper": PAPER})
    path.write_text(html_text, encoding="utf-8")
