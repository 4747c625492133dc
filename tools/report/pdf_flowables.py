"""The PDF's look and its building blocks: fonts, colours, paragraph styles, zebra tables, code
panels and figures with their captions (reportlab flowables). :mod:`tools.report.pdf` assembles
them into the document; :mod:`tools.report.pdf_markdown` uses them for the observations.

Text is set in DejaVu Sans, which matplotlib ships, so Greek letters and symbols print.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, Preformatted, Table, TableStyle

INK, MUTED, LINE = colors.HexColor("#1f2328"), colors.HexColor("#59636e"), colors.HexColor("#d0d7de")
ACCENT, STRIPE, WARN = colors.HexColor("#0072B2"), colors.HexColor("#f6f8fa"), colors.HexColor("#9a6700")
PAGE_MARGIN = 2 * cm
FRAME_WIDTH, FRAME_HEIGHT = A4[0] - 2 * PAGE_MARGIN, A4[1] - 2 * PAGE_MARGIN  # the text area of a page
FIGURE_MAX_WIDTH_FRACTION = 0.88  # of the frame: figures a little narrower than the text
FIGURE_MAX_HEIGHT_FRACTION = 0.62  # of the frame, so a figure and its caption share a page with text
FIGURE_MIN_SCALE = 0.7  # a figure shrinks at most this much to fit the rest of a page
CELL_FONT_SIZE, WIDE_CELL_FONT_SIZE, MIN_CELL_FONT_SIZE = 8.5, 7.5, 6.0
WIDE_TABLE_COLUMNS = 7  # more columns than this start with the smaller type
CELL_PADDING = 10  # left + right, points
SANS, MONO = "DejaVuSans", "DejaVuSansMono"


def register_fonts() -> None:
    """Make DejaVu Sans (and Mono) from matplotlib's data folder known to reportlab, once."""
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


def paragraph_styles() -> dict[str, ParagraphStyle]:
    """The document's paragraph styles by role (``body``, ``h1``... ``caption``, ``code``)."""
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


# ---------------------------------------------------------------------------------------------------
# Tables and code panels
# ---------------------------------------------------------------------------------------------------
def zebra_table(markup: list[list[str]], plain: list[list[str]], numeric: list[bool]) -> Table:
    """A zebra table whose first row is the header: ``markup`` holds the cells' paragraph markup,
    ``plain`` the same cells as plain text (to measure), ``numeric`` which columns align right.

    Columns get their text's width; when that is too wide for the page, no word is broken: the type
    gets smaller and long texts wrap."""
    n_cols = max(len(row) for row in markup)
    size = CELL_FONT_SIZE if n_cols <= WIDE_TABLE_COLUMNS else WIDE_CELL_FONT_SIZE
    widths, shortfall = _column_widths(plain, size, FRAME_WIDTH)
    if shortfall > 1:  # even the longest words do not fit side by side
        size = max(MIN_CELL_FONT_SIZE, size * FRAME_WIDTH / (FRAME_WIDTH + shortfall))
        widths, _ = _column_widths(plain, size, FRAME_WIDTH)
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
            # split at plain spaces only: words joined by no-break spaces ("[0.74 … 0.80]") stay one word
            longest_word = max((pdfmetrics.stringWidth(w, font, size) for w in text.split(" ")), default=0)
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


def code_panel(text: str, style: ParagraphStyle) -> Table:
    """Monospaced text on a tinted panel (a one-cell table: Preformatted draws no background)."""
    panel = Table([[Preformatted(text, style)]], colWidths=[FRAME_WIDTH], hAlign="LEFT")
    panel.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), STRIPE),
                               ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                               ("LEFTPADDING", (0, 0), (-1, -1), 8)]))
    panel.spaceBefore, panel.spaceAfter = 2, 10
    return panel


# ---------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------
class CaptionedFigure(Flowable):
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


def captioned_figure(path: Path, caption: Paragraph) -> CaptionedFigure:
    """The PNG at ``path`` at its own size (its dpi, 100 when it has none), shrunk to fit the frame."""
    with PILImage.open(path) as image:
        width_px, height_px = image.size
        dpi = float(image.info.get("dpi", (100, 100))[0]) or 100.0
    width, height = width_px / dpi * 72, height_px / dpi * 72
    scale = min(1.0, FIGURE_MAX_WIDTH_FRACTION * FRAME_WIDTH / width,
                FIGURE_MAX_HEIGHT_FRACTION * FRAME_HEIGHT / height)
    return CaptionedFigure(str(path), width * scale, height * scale, caption)
