"""The observations' Markdown as PDF flowables, drawn from mistune's token tree
(:func:`tools.report.markdown.parse`): headings, paragraphs, nested lists, bold/italic/code/links,
tables, code blocks, quotes and ``$...$`` math (as images from :mod:`tools.report.maths`).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import HRFlowable, ListFlowable, ListItem, Paragraph, Spacer

from tools.report.maths import render_math
from tools.report.pdf_flowables import (CELL_FONT_SIZE, INK, LINE, MONO, MUTED, SANS, code_panel,
                                        zebra_table)

MATH_DPI = 300
MATH_SCALE = 1.12  # Computer Modern looks small next to DejaVu Sans of the same size


def _plain_text(tokens: list[dict]) -> str:
    return "".join(t.get("raw", "") if "raw" in t else _plain_text(t.get("children", [])) for t in tokens)


class MarkdownFlowables:
    """Turns mistune tokens into flowables in ``styles``; formulas are drawn as PNGs in ``scratch``."""

    def __init__(self, styles: dict[str, ParagraphStyle], scratch: Path):
        self.styles, self.scratch = styles, scratch

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
            return [code_panel(token["raw"].rstrip("\n"), styles["code"])]
        if kind == "block_math":
            return [Paragraph(self._math_img(token["raw"], 12), styles["math"])]
        if kind == "table":
            return self._table(token)
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

    def _table(self, token: dict) -> list:
        head = next((c for c in token["children"] if c["type"] == "table_head"), {"children": []})
        body = next((c for c in token["children"] if c["type"] == "table_body"), {"children": []})
        rows = [head["children"]] + [row["children"] for row in body["children"]]
        aligns = [cell["attrs"].get("align") == "right" for cell in head["children"]]
        cells = [[self.inline(cell.get("children", []), CELL_FONT_SIZE) for cell in row] for row in rows]
        plain = [[_plain_text(cell.get("children", [])) for cell in row] for row in rows]
        return [zebra_table(cells, plain, aligns), Spacer(1, 8)]
