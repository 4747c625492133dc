"""``report/report.pdf``: the index page's content as a PDF, written with reportlab (pure Python).

A first page with the title, the build's facts, the contents and the deliverables; then one chapter
per notebook (headline-number tables, figures, observations). The observations' Markdown is drawn
from mistune's token tree: headings, paragraphs, nested lists, bold/italic/code/links, tables, code
blocks, quotes and ``$...$`` math (as images from :mod:`tools.report.maths`). Text is set in DejaVu
Sans, which matplotlib ships, so Greek letters and symbols print.
"""
from __future__ import annotations

import hashlib
import tempfile
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, HRFlowable, ListFlowable,
                                ListItem, PageBreak, PageTemplate, Paragraph, Preformatted, Spacer, Table,
                                TableStyle)

from tools.report.content import SUBTITLE, TITLE, Deliverable, Report, Section
from tools.report.tables import Table as ReportTable
from tools.report.tables import format_seconds, headline_tables
from tools.report.markdown import parse
from tools.report.maths import render_math

INK, MUTED, LINE = colors.HexColor("#1f2328"), colors.HexColor("#59636e"), colors.HexColor("#d0d7de")
ACCENT, STRIPE, WARN = colors.HexColor("#0072B2"), colors.HexColor("#f6f8fa"), colors.HexColor("#9a6700")
PAGE_MARGIN = 2 * cm
FIGURE_MAX_WIDTH_FRACTION = 0.88  # of the frame: figures a little narrower than the text
FIGURE_MAX_HEIGHT_FRACTION = 0.62  # of the frame, so a figure and its caption share a page with text
FIGURE_MIN_SCALE = 0.7  # a figure shrinks at most this much to fit the rest of a page
MATH_DPI = 300
CELL_FONT_SIZE, WIDE_CELL_FONT_SIZE, MIN_CELL_FONT_SIZE = 8.5, 7.5, 6.0
WIDE_TABLE_COLUMNS = 7  # more columns than this start with the smaller type
CELL_PADDING = 10  # left + right, points
MATH_SCALE = 1.12  # Computer Modern looks small next to DejaVu Sans of the same size
SANS, MONO = "DejaVuSans", "DejaVuSansMono"


def _register_fonts() -> None:
    if SANS in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    faces = {SANS: "DejaVuSans", f"{SANS}-Bold": "DejaVuSans-Bold", f"{SANS}-Oblique": "DejaVuSans-Oblique",
             f"{SANS}-BoldOblique": "DejaVuSans-BoldOblique", MONO: "DejaVuSansMono",
             f"{MONO}-Bold": "DejaVuSansMono-Bold"}
    for name, file in faces.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / f"{file}.ttf")))
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=f"{SANS}-Bold", italic=f"{SANS}-Oblique",
                                  boldItalic=f"{SANS}-BoldOblique")
    pdfmetrics.registerFontFamily(MONO, normal=MONO, bold=f"{MONO}-Bold", italic=MONO, boldItalic=f"{MONO}-Bold")


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=SANS, fontSize=10, leading=14.5, textColor=INK, spaceAfter=6)
    styles = {
        "body": body,
        "title": ParagraphStyle("title", parent=body, fontName=f"{SANS}-Bold", fontSize=24, leading=29,
                                spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=12, leading=16, textColor=MUTED,
                                   spaceAfter=10),
        "meta": ParagraphStyle("meta", parent=body, fontSize=8.5, leading=12, textColor=MUTED, spaceAfter=3),
        "warning": ParagraphStyle("warning", parent=body, fontName=f"{SANS}-Bold", textColor=WARN),
        "h1": ParagraphStyle("h1", parent=body, fontName=f"{SANS}-Bold", fontSize=17, leading=22,
                             spaceBefore=0, spaceAfter=4, keepWithNext=1),
        "h2": ParagraphStyle("h2", parent=body, fontName=f"{SANS}-Bold", fontSize=12.5, leading=17,
                             spaceBefore=12, spaceAfter=5, keepWithNext=1),
        "h3": ParagraphStyle("h3", parent=body, fontName=f"{SANS}-Bold", fontSize=11, leading=15,
                             spaceBefore=9, spaceAfter=4, keepWithNext=1),
        "caption": ParagraphStyle("caption", parent=body, fontSize=8.5, leading=11, textColor=MUTED,
                                  alignment=TA_CENTER, spaceBefore=3, spaceAfter=12),
        "table_title": ParagraphStyle("table_title", parent=body, fontName=f"{SANS}-Bold", fontSize=9.5,
                                      spaceBefore=4, spaceAfter=3, keepWithNext=1),
        "code": ParagraphStyle("code", parent=body, fontName=MONO, fontSize=8, leading=10.5, spaceAfter=0),
        "quote": ParagraphStyle("quote", parent=body, leftIndent=14, textColor=MUTED),
        "math": ParagraphStyle("math", parent=body, alignment=TA_CENTER, spaceBefore=4, spaceAfter=8),
    }
    return styles


class _PdfBuilder:
    """Turns a :class:`Report` into flowables; ``root`` is the report folder the figure paths start at."""

    def __init__(self, report: Report, root: Path, scratch: Path):
        _register_fonts()
        self.report, self.root, self.scratch = report, root, scratch
        self.styles = _styles()
        self.frame_width = A4[0] - 2 * PAGE_MARGIN
        self.frame_height = A4[1] - 2 * PAGE_MARGIN

    # -- inline Markdown ---------------------------------------------------------------------------
    def _math_img(self, tex: str, size_pt: float) -> str:
        image = render_math(tex, size_pt * MATH_SCALE, "png", MATH_DPI)
        if image is None:
            return f'<font face="{MONO}">{escape(tex)}</font>'
        path = self.scratch / f"math-{hashlib.sha256(f'{size_pt}{tex}'.encode()).hexdigest()[:16]}.png"
        path.write_bytes(image.data)
        return (f'<img src="{path}" width="{image.width_pt:.2f}" height="{image.height_pt:.2f}" '
                f'valign="{-image.depth_pt:.2f}"/>')

    def inline(self, tokens: list[dict], size_pt: float = 10) -> str:
        """reportlab paragraph markup for mistune inline tokens."""
        out = []
        for token in tokens:
            kind = token["type"]
            children = token.get("children", [])
            if kind == "text":
                out.append(escape(token["raw"]))
            elif kind == "strong":
                out.append(f"<b>{self.inline(children, size_pt)}</b>")
            elif kind == "emphasis":
                out.append(f"<i>{self.inline(children, size_pt)}</i>")
            elif kind == "strikethrough":
                out.append(f"<strike>{self.inline(children, size_pt)}</strike>")
            elif kind == "codespan":
                out.append(f'<font face="{MONO}" backColor="#eef1f4">{escape(token["raw"])}</font>')
            elif kind == "link":
                url = escape(token["attrs"]["url"], {'"': "&quot;"})
                out.append(f'<a href="{url}" color="#0072B2">{self.inline(children, size_pt)}</a>')
            elif kind == "softbreak":
                out.append(" ")
            elif kind == "linebreak":
                out.append("<br/>")
            elif kind == "inline_math":
                out.append(self._math_img(token["raw"], size_pt))
            elif kind == "block_math":  # $$...$$ inside a paragraph
                out.append(self._math_img(token["raw"], size_pt * 1.15))
            elif "raw" in token:
                out.append(escape(token["raw"]))
            else:  # images and anything unforeseen: keep their text
                out.append(self.inline(children, size_pt))
        return "".join(out)

    # -- block Markdown ------------------------------------------------------------------------------
    def blocks(self, tokens: list[dict]) -> list:
        flowables = []
        for token in tokens:
            flowables += self.block(token)
        return flowables

    def block(self, token: dict) -> list:
        kind, children = token["type"], token.get("children", [])
        styles = self.styles
        if kind == "heading":
            style = styles["h2"] if token["attrs"]["level"] <= 1 else styles["h3"]
            return [Paragraph(self.inline(children, style.fontSize), style)]
        if kind in ("paragraph", "block_text"):
            return [Paragraph(self.inline(children), styles["body"])]
        if kind == "list":
            return [self._list(token)]
        if kind == "block_code":
            return [self.code_block(token["raw"].rstrip("\n"))]
        if kind == "block_math":
            return [Paragraph(self._math_img(token["raw"], 12), styles["math"])]
        if kind == "table":
            return self._markdown_table(token)
        if kind == "block_quote":
            return [Paragraph(p.text, styles["quote"]) if isinstance(p, Paragraph) else p
                    for p in self.blocks(children)]
        if kind == "thematic_break":
            return [HRFlowable(width="100%", thickness=0.6, color=LINE, spaceBefore=6, spaceAfter=6)]
        if kind == "blank_line":
            return []
        return [Paragraph(self.inline(children) if children else escape(token.get("raw", "")), styles["body"])]

    def _list(self, token: dict) -> ListFlowable:
        ordered = token["attrs"].get("ordered", False)
        items = [ListItem(self.blocks(item.get("children", [])) or [Spacer(1, 0)]) for item in token["children"]]
        options = dict(bulletType="1", bulletFormat="%s.") if ordered else dict(
            bulletType="bullet", start="\u2022" if token["attrs"].get("depth", 0) == 0 else "\u2013")
        return ListFlowable(items, leftIndent=14, bulletFontName=SANS, bulletFontSize=9,
                            bulletColor=MUTED if not ordered else INK, spaceAfter=4, **options)

    def _markdown_table(self, token: dict) -> list:
        head = next((c for c in token["children"] if c["type"] == "table_head"), {"children": []})
        body = next((c for c in token["children"] if c["type"] == "table_body"), {"children": []})
        rows = [head["children"]] + [row["children"] for row in body["children"]]
        aligns = [cell["attrs"].get("align") == "right" for cell in head["children"]]
        cells = [[self.inline(cell.get("children", []), CELL_FONT_SIZE) for cell in row] for row in rows]
        plain = [[_plain_text(cell.get("children", [])) for cell in row] for row in rows]
        return [self._table(cells, plain, aligns), Spacer(1, 8)]

    def code_block(self, text: str) -> Table:
        """Monospaced text on a tinted panel (a one-cell table: Preformatted draws no background)."""
        panel = Table([[Preformatted(text, self.styles["code"])]], colWidths=[self.frame_width], hAlign="LEFT")
        panel.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), STRIPE),
                                   ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 8)]))
        panel.spaceBefore, panel.spaceAfter = 2, 10
        return panel

    # -- tables --------------------------------------------------------------------------------------
    def _table(self, markup: list[list[str]], plain: list[list[str]], numeric: list[bool]) -> Table:
        """A zebra table whose first row is the header. Columns get their text's width; when that is
        too wide for the page, no word is broken: the type gets smaller and long texts wrap."""
        n_cols = max(len(row) for row in markup)
        size = CELL_FONT_SIZE if n_cols <= WIDE_TABLE_COLUMNS else WIDE_CELL_FONT_SIZE
        widths, shortfall = _column_widths(plain, size, self.frame_width)
        if shortfall > 1:  # even the longest words do not fit side by side
            size = max(MIN_CELL_FONT_SIZE, size * self.frame_width / (self.frame_width + shortfall))
            widths, _ = _column_widths(plain, size, self.frame_width)
        data = []
        for r, row in enumerate(markup):
            cells = []
            for c in range(n_cols):
                style = _cell_style(head=r == 0, numeric=c < len(numeric) and numeric[c], size=size)
                cells.append(Paragraph(row[c] if c < len(row) else "", style))
            data.append(cells)
        table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(TableStyle([
            ("LINEBELOW", (0, 0), (-1, 0), 1.0, INK),
            ("LINEBELOW", (0, 1), (-1, -1), 0.4, LINE),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, STRIPE]),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 5), ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ]))
        return table

    def report_table(self, table: ReportTable) -> list:
        rows = [table.header] + table.rows
        flowables = [Paragraph(escape(table.title), self.styles["table_title"])] if table.title else []
        flowables.append(self._table([[escape(v) for v in row] for row in rows], rows, table.numeric))
        flowables.append(Spacer(1, 8))
        return flowables

    # -- report parts ------------------------------------------------------------------------------
    def figure(self, relative_path: str, caption: str) -> "_Figure":
        path = self.root / relative_path
        with PILImage.open(path) as image:
            width_px, height_px = image.size
            dpi = float(image.info.get("dpi", (100, 100))[0]) or 100.0
        width, height = width_px / dpi * 72, height_px / dpi * 72
        scale = min(1.0, FIGURE_MAX_WIDTH_FRACTION * self.frame_width / width,
                    FIGURE_MAX_HEIGHT_FRACTION * self.frame_height / height)
        return _Figure(str(path), width * scale, height * scale, Paragraph(escape(caption), self.styles["caption"]))

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
        flowables.append(self._table(markup, rows, [False, False, True]))
        flowables += self.deliverables(report.deliverables)
        return flowables

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
                flowables.append(self.code_block("\n".join(item.preview) + more))
        return flowables

    def section(self, section: Section) -> list:
        styles = self.styles
        heading = Paragraph(f'<a name="{_anchor(section)}"/>{escape(section.title)}', styles["h1"])
        heading.outline_title = section.title  # picked up by _ReportDoc.afterFlowable for the PDF outline
        flowables = [PageBreak(), heading]
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
                flowables += self.blocks(parse(item.markdown))
        if not tables and not section.items:
            flowables.append(Paragraph("This notebook handed nothing over to the report; see its executed copy.",
                                       styles["meta"]))
        return flowables


class _Figure(Flowable):
    """An image with its caption below, never split; it shrinks (down to ``FIGURE_MIN_SCALE``) to
    finish the page it starts on rather than leave a large gap."""

    def __init__(self, path: str, width: float, height: float, caption: Paragraph):
        super().__init__()
        self.path, self.image_width, self.image_height, self.caption = path, width, height, caption
        self.scale, self.spaceBefore, self.spaceAfter = 1.0, 6, 14

    def wrap(self, available_width, available_height):
        self.width = available_width
        _, self.caption_height = self.caption.wrap(available_width, available_height)
        room = available_height - self.caption_height
        self.scale = 1.0 if room >= self.image_height else max(FIGURE_MIN_SCALE, room / self.image_height)
        self.height = self.image_height * self.scale + self.caption_height
        return self.width, self.height

    def split(self, available_width, available_height):
        return []  # never split: moved whole to the next page, where it has its full size

    def draw(self) -> None:
        width, height = self.image_width * self.scale, self.image_height * self.scale
        self.canv.drawImage(self.path, (self.width - width) / 2, self.caption_height, width, height)
        self.caption.drawOn(self.canv, 0, 0)


def _anchor(section: Section) -> str:
    return f"section-{section.name}"


def _plain_text(tokens: list[dict]) -> str:
    return "".join(t.get("raw", "") if "raw" in t else _plain_text(t.get("children", [])) for t in tokens)


def _column_widths(rows: list[list[str]], size: float, available: float) -> tuple[list[float], float]:
    """Column widths for plain-text ``rows`` (the first is the header) at font ``size``: each column's
    full text width when all fit in ``available``, else at least its longest word plus a share of the
    rest in proportion to how much it would like. Also returns by how much the longest words alone
    overshoot ``available`` (0 when they fit)."""
    n_cols = max(len(row) for row in rows)
    natural, minimum = [CELL_PADDING] * n_cols, [CELL_PADDING] * n_cols
    for r, row in enumerate(rows):
        font = f"{SANS}-Bold" if r == 0 else SANS
        for c, text in enumerate(row):
            longest_word = max((pdfmetrics.stringWidth(w, font, size) for w in text.split()), default=0)
            natural[c] = max(natural[c], pdfmetrics.stringWidth(text, font, size) + CELL_PADDING)
            minimum[c] = max(minimum[c], longest_word + CELL_PADDING)
    if sum(natural) <= available:
        return natural, 0.0
    # Columns narrower than a fair share keep their full width; the others share what is left.
    full: set[int] = set()
    while True:
        share = (available - sum(natural[c] for c in full)) / (n_cols - len(full))
        narrow = {c for c in range(n_cols) if c not in full and natural[c] <= share}
        if not narrow:
            break
        full |= narrow
    for keep_full in (full, set()):
        flexible = [c for c in range(n_cols) if c not in keep_full]
        spare = available - sum(natural[c] for c in keep_full) - sum(minimum[c] for c in flexible)
        if spare >= 0:
            wish = {c: natural[c] - minimum[c] for c in flexible}
            total_wish = sum(wish.values()) or 1.0
            return [natural[c] if c in keep_full else minimum[c] + spare * wish[c] / total_wish
                    for c in range(n_cols)], 0.0
    return minimum, sum(minimum) - available


@lru_cache(maxsize=64)
def _cell_style(head: bool, numeric: bool, size: float) -> ParagraphStyle:
    return ParagraphStyle(f"cell-{head}-{numeric}-{size:.2f}", fontName=f"{SANS}-Bold" if head else SANS,
                          fontSize=size, leading=size * 1.3, textColor=INK,
                          alignment=TA_RIGHT if numeric else TA_LEFT)


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
