"""``report/report.pdf``: the index page's content as a PDF, written with reportlab (pure Python).

A first page with the title, the build's facts, the contents and the deliverables; then one chapter
per notebook (headline-number tables, figures, observations). This module assembles the document;
the look and the tables, code panels and figures are :mod:`tools.report.pdf_flowables`, the
observations' Markdown is drawn by :mod:`tools.report.pdf_markdown`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.platypus import (BaseDocTemplate, CondPageBreak, Frame, HRFlowable, PageBreak, PageTemplate,
                                Paragraph, Spacer)

from tools.report.content import SUBTITLE, TITLE, Deliverable, Report, Section
from tools.report.markdown import parse
from tools.report.pdf_flowables import (ACCENT, FRAME_HEIGHT, LINE, MONO, MUTED, PAGE_MARGIN, SANS, CaptionedFigure,
                                        captioned_figure, code_panel, paragraph_styles, register_fonts,
                                        zebra_table)
from tools.report.pdf_markdown import MarkdownFlowables

SECTION_START_ROOM = 0.45  # of a page: a section starts on the current page when this much is left
from tools.report.tables import Table as ReportTable
from tools.report.tables import format_seconds, headline_tables


class _PdfBuilder:
    """Turns a :class:`Report` into flowables; ``root`` is the report folder the figure paths start at."""

    def __init__(self, report: Report, root: Path, scratch: Path):
        register_fonts()
        self.report, self.root = report, root
        self.styles = paragraph_styles()
        self.markdown = MarkdownFlowables(self.styles, scratch)

    def report_table(self, table: ReportTable) -> list:
        rows = [table.header] + table.rows
        flowables = [Paragraph(escape(table.title), self.styles["table_title"])] if table.title else []
        flowables.append(zebra_table([[escape(v) for v in row] for row in rows], rows, table.numeric))
        flowables.append(Spacer(1, 8))
        return flowables

    def figure(self, relative_path: str, caption: str) -> CaptionedFigure:
        return captioned_figure(self.root / relative_path, Paragraph(escape(caption), self.styles["caption"]))

    def title_page(self) -> list:
        report, styles = self.report, self.styles
        env = report.environment
        flowables = [
            Paragraph(escape(TITLE), styles["title"]),
            Paragraph(escape(SUBTITLE), styles["subtitle"]),
            Paragraph(f"Generated {escape(report.generated_text)} by <font face=\"{MONO}\">make report</font> in "
                      f"{format_seconds(report.total_seconds)} ({report.jobs} notebooks at a time)", styles["meta"]),
            Paragraph(f"Python {escape(env['python'])} \u00b7 torch {escape(env['torch'])} \u00b7 "
                      f"{escape(env['platform'])} \u00b7 {env['cpu_count']} CPUs", styles["meta"]),
        ]
        if not report.complete:
            flowables.append(Paragraph("Partial report: only the notebooks chosen with --only ran.",
                                       styles["warning"]))
        flowables += [Paragraph(escape(w), styles["warning"]) for w in report.warnings]
        flowables += [Spacer(1, 10), Paragraph("Contents", styles["h2"])]
        rows = [["section", "notebook", "run time"]]
        markup = [list(rows[0])]
        for section in report.sections:
            seconds = format_seconds(section.seconds)
            rows.append([section.title, section.name, seconds])
            markup.append([f'<a href="#{_anchor(section)}" color="#0072B2">{escape(section.title)}</a>',
                           escape(section.name), seconds])
        flowables.append(zebra_table(markup, rows, [False, False, True]))
        flowables += self.deliverables(report.deliverables)
        return flowables + [PageBreak()]

    def deliverables(self, deliverables: list[Deliverable]) -> list:
        if not deliverables:
            return []
        flowables = [Paragraph("Deliverables", self.styles["h2"])]
        for item in deliverables:
            lines = "binary file" if item.line_count is None else f"{item.line_count} lines"
            flowables.append(Paragraph(f'<font face="{MONO}">{escape(item.name)}</font> '
                                       f'<font color="#59636e">({lines}, {item.size} bytes, next to this '
                                       f"PDF)</font>", self.styles["body"]))
            if item.preview:
                more = "\n\u2026" if item.line_count and item.line_count > len(item.preview) else ""
                flowables.append(code_panel("\n".join(item.preview) + more, self.styles["code"]))
        return flowables

    def section(self, section: Section) -> list:
        styles = self.styles
        heading = Paragraph(f'<a name="{_anchor(section)}"/>{escape(section.title)}', styles["h1"])
        heading.outline_title = section.title  # picked up by _ReportDoc.afterFlowable for the PDF outline
        # A new page only when less than SECTION_START_ROOM of this one is left: a section that ends
        # with a few lines at the top of a page is followed on that page, not by a near-empty page.
        flowables = [CondPageBreak(SECTION_START_ROOM * FRAME_HEIGHT), heading]
        if section.notebook:
            seconds = format_seconds(section.seconds)
            flowables.append(Paragraph(f'<font face="{MONO}">{escape(section.notebook)}</font> \u00b7 ran in '
                                       f"{seconds} \u00b7 executed copy: <a href=\"notebooks/{escape(section.name)}.html\" "
                                       f"color=\"#0072B2\">notebooks/{escape(section.name)}.html</a>",
                                       styles["meta"]))
        flowables.append(HRFlowable(width="100%", thickness=0.8, color=ACCENT, spaceBefore=2, spaceAfter=8))
        tables = headline_tables(section.metrics)
        if tables:
            flowables.append(Paragraph("Headline numbers", styles["h2"]))
            for table in tables:
                flowables += self.report_table(table)
        for item in section.items:
            if item.kind == "figure":
                flowables.append(self.figure(item.path, item.caption))
            else:
                flowables += self.markdown.blocks(parse(item.markdown))
        if not tables and not section.items:
            flowables.append(Paragraph("This notebook handed nothing over to the report; see its executed copy.",
                                       styles["meta"]))
        return flowables


def _anchor(section: Section) -> str:
    return f"section-{section.name}"


class _ReportDoc(BaseDocTemplate):
    def __init__(self, path: Path, title: str):
        super().__init__(str(path), pagesize=A4, leftMargin=PAGE_MARGIN, rightMargin=PAGE_MARGIN,
                         topMargin=PAGE_MARGIN, bottomMargin=PAGE_MARGIN, title=title,
                         author="backprop-lab (make report)", subject="Headless run of every notebook",
                         creator="tools.report.pdf")
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
        self.addPageTemplates([PageTemplate("page", frames=[frame], onPage=self._decorate)])

    def _decorate(self, canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(SANS, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(PAGE_MARGIN, PAGE_MARGIN / 2, TITLE)
        canvas.drawRightString(A4[0] - PAGE_MARGIN, PAGE_MARGIN / 2, f"page {doc.page}")
        canvas.setStrokeColor(LINE)
        canvas.setLineWidth(0.5)
        canvas.line(PAGE_MARGIN, PAGE_MARGIN * 0.7, A4[0] - PAGE_MARGIN, PAGE_MARGIN * 0.7)
        canvas.restoreState()

    def afterFlowable(self, flowable) -> None:
        title = getattr(flowable, "outline_title", None)
        if title:
            key = f"outline-{self.page}-{title}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(title, key, level=0)


def write_pdf(report: Report, root: Path, path: Path) -> None:
    """Write the PDF of ``report`` to ``path``; figure paths are relative to ``root``."""
    with tempfile.TemporaryDirectory(prefix="report-pdf-") as scratch:
        builder = _PdfBuilder(report, root, Path(scratch))
        story = builder.title_page()
        for section in report.sections:
            story += builder.section(section)
        _ReportDoc(path, TITLE).build(story)
