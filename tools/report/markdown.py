"""Markdown of the notebooks' observations: parsed with mistune (nbconvert's own Markdown library).

:func:`parse` gives the token tree the PDF is drawn from; :func:`to_html` the HTML for the index
page, with headings shifted below the section's own and ``$...$`` math drawn as inline SVG.
"""
from __future__ import annotations

import base64
import html

import mistune

from tools.report.maths import render_math

PLUGINS = ["table", "strikethrough", "math"]
HTML_MATH_SIZE_PT = 12.0


def parse(markdown: str) -> list[dict]:
    """mistune's token tree (dicts with ``type``, ``children``, ``raw``, ``attrs``)."""
    return mistune.create_markdown(renderer=None, plugins=PLUGINS)(markdown)


def math_html(tex: str, display: bool) -> str:
    """An ``<img>`` with the formula as SVG, or the TeX source when mathtext cannot draw it."""
    image = render_math(tex, HTML_MATH_SIZE_PT * (1.2 if display else 1.0), "svg")
    if image is None:
        return f'<code class="tex">{html.escape(tex)}</code>'
    source = "data:image/svg+xml;base64," + base64.b64encode(image.data).decode("ascii")
    style = (f"width:{image.width_pt:.1f}pt;height:{image.height_pt:.1f}pt;"
             f"vertical-align:{-image.depth_pt:.1f}pt")
    return f'<img class="math" src="{source}" alt="{html.escape(tex, quote=True)}" style="{style}">'


class _ReportHTMLRenderer(mistune.HTMLRenderer):
    def __init__(self, heading_offset: int):
        super().__init__(escape=True)
        self.heading_offset = heading_offset

    def heading(self, text: str, level: int, **attrs) -> str:
        return super().heading(text, min(level + self.heading_offset, 6), **attrs)

    def inline_math(self, text: str) -> str:
        return math_html(text, display=False)

    def block_math(self, text: str) -> str:
        return f'<div class="math-block">{math_html(text, display=True)}</div>\n'


def to_html(markdown: str, heading_offset: int = 2) -> str:
    """HTML for ``markdown``; raw HTML in it is escaped; ``# x`` becomes ``<h{1+offset}>``."""
    render = mistune.create_markdown(renderer=_ReportHTMLRenderer(heading_offset), plugins=PLUGINS)
    return render(markdown)
