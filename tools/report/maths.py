"""LaTeX in the report's observations drawn with matplotlib's mathtext (no TeX, no browser, offline).

Used by the HTML page (SVG) and the PDF (PNG). mathtext knows most inline TeX (fractions, Greek,
sub/superscripts, ``\\sqrt``, ``\\mathrm``...) but not environments such as ``aligned``; for those
:func:`render_math` returns None and the caller shows the TeX source instead.

Formulas are drawn on a standalone :class:`~matplotlib.figure.Figure` with its own Agg canvas, never
through pyplot: importing or using this module leaves matplotlib's backend and rcParams as they were.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import matplotlib
from matplotlib import mathtext
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

MATH_FONTSET = "cm"  # Computer Modern: reads as LaTeX


@dataclass(frozen=True)
class MathImage:
    data: bytes
    width_pt: float
    height_pt: float
    depth_pt: float  # how far the formula reaches below the text baseline


@lru_cache(maxsize=512)
def render_math(tex: str, size_pt: float = 12.0, fmt: str = "svg", dpi: int = 200) -> MathImage | None:
    """Draw ``tex`` (without the ``$`` delimiters) on a transparent background; None when mathtext
    cannot parse it. The output has no timestamp, so a rebuild gives the same bytes."""
    expression = f"${tex.strip()}$"
    metadata = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"mathtext.fontset": MATH_FONTSET, "svg.fonttype": "path",
                                "svg.hashsalt": "backprop-lab"}):
        prop = FontProperties(size=size_pt)  # picks up the math font set of this context
        try:
            width, height, depth, *_ = mathtext.MathTextParser("path").parse(expression, dpi=72, prop=prop)
        except ValueError:
            return None
        figure = Figure(figsize=(width / 72, height / 72))
        FigureCanvasAgg(figure)  # its own canvas: no pyplot, no global backend
        figure.text(0, depth / height, expression, fontproperties=prop)
        buffer = io.BytesIO()
        figure.savefig(buffer, dpi=dpi, format=fmt, transparent=True, metadata=metadata)
    return MathImage(buffer.getvalue(), float(width), float(height), float(depth))
