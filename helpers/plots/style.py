"""The course's common plot style, so every notebook looks like one book."""
from __future__ import annotations

import matplotlib as mpl

from helpers.runtime.report_hooks import report_dir

# Colour-blind-safe palette (Okabe & Ito), in the order series are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
SEQUENTIAL_CMAP = "viridis"
# A Figure showing pictures with text in them (a walkthrough's frames) says, in this attribute, how small that
# text is in the figure's points: text drawn as pixels is not seen by png_with_text_size otherwise.
IMAGE_TEXT_PT_ATTRIBUTE = "smallest_image_text_pt"


def use_style() -> None:
    """Apply the course style to matplotlib (call once at the top of a notebook)."""
    mpl.rcParams.update({
        "figure.figsize": (7.0, 4.2),
        "figure.dpi": 90,
        "savefig.dpi": 110,
        "figure.constrained_layout.use": True,
        # Opaque white paper: the inline backend's default is transparent, which puts black axes and
        # labels on JupyterLab's dark theme (unreadable). Set after pyplot is imported, so it wins.
        "figure.facecolor": "white",
        "figure.edgecolor": "white",
        "savefig.facecolor": "white",
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "legend.frameon": False,
        "image.cmap": SEQUENTIAL_CMAP,
        # Stable SVG/PNG metadata: no timestamps or random ids in saved figures.
        "svg.hashsalt": "backprop-lab",
    })
    if report_dir() is not None:
        _inline_figures_at(mpl.rcParams["savefig.dpi"])
        _describe_figures_in_text()


def describe_figure(figure) -> str:
    """One line naming what a figure shows, from its titles and axis labels (the report's alt text).

    ``"Gradient descent on the spiral. Panels: seed 0, λ = 0.0001; seed 0, λ = 0.001 (+13 more).
    Axes: x₁, x₂."``; ``"Figure with 2 panels"`` when nothing in it is titled or labelled.
    """
    def one_line(text: str) -> str:
        return " ".join(text.split())
    titles, labels = [], []
    for ax in figure.get_axes():
        title = "; ".join(filter(None, (one_line(ax.get_title(loc)) for loc in ("left", "center", "right"))))
        if title and title not in titles:
            titles.append(title)
        labels += [label for label in (ax.get_xlabel(), ax.get_ylabel()) if label and label not in labels]
    parts = [one_line(figure.get_suptitle())]
    if titles:
        more = f" (+{len(titles) - 4} more)" if len(titles) > 4 else ""
        parts.append("Panels: " + "; ".join(titles[:4]) + more)
    if labels:
        parts.append("Axes: " + ", ".join(labels[:6]))
    text = ". ".join(part.rstrip(".") for part in parts if part)
    return text + "." if text else f"Figure with {len(figure.get_axes())} panels"


def _describe_figures_in_text() -> None:
    """In a report build a figure's text/plain output describes it (harvested as its alt text) instead
    of ``<Figure size 990x360 with 2 Axes>``; only the executed copies change."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:  # plain Python: no display formatters
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/plain"].for_type(
            Figure, lambda figure, printer, cycle: printer.text(describe_figure(figure)))


def _inline_figures_at(dpi: float) -> None:
    """In a report build the builder takes each tagged figure from the cell's output: render those
    outputs at the print resolution, not the screen's, and say in the PNG's output metadata how small
    its text is (only the executed copies change)."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: no inline figures to set up
        return
    shell = get_ipython()
    if shell is not None:
        set_matplotlib_formats("png", dpi=dpi)
        png = shell.display_formatter.formatters["image/png"]
        draw_png = png.lookup_by_type(Figure)
        png.for_type(Figure, lambda figure: png_with_text_size(draw_png, figure, dpi))


def png_with_text_size(draw_png, figure, dpi: float) -> tuple:
    """``draw_png(figure)`` and, as its display metadata, ``smallest_text_pt`` (the smallest font size,
    in points of the figure, of the text actually drawn in it, and of the text in the pictures it shows when
    the figure says so: ``IMAGE_TEXT_PT_ATTRIBUTE``) and ``dpi``: the report scales the
    picture for print and checks that no text there gets smaller than it can read."""
    from matplotlib.backends.backend_agg import RendererAgg

    sizes, draw_text = [], RendererAgg.draw_text

    def recording(renderer, gc, x, y, text, prop, *args, **kwargs):
        if text.strip():
            sizes.append(prop.get_size_in_points())
        return draw_text(renderer, gc, x, y, text, prop, *args, **kwargs)
    RendererAgg.draw_text = recording  # the figure is drawn once here anyway: measure that drawing
    try:
        data = draw_png(figure)
    finally:
        RendererAgg.draw_text = draw_text
    sizes += [size for size in [getattr(figure, IMAGE_TEXT_PT_ATTRIBUTE, None)] if size]
    return data, {"smallest_text_pt": round(min(sizes), 2) if sizes else None, "dpi": dpi}


def relative_luminance(colour) -> float:
    """WCAG 2 relative luminance of a matplotlib colour (0 black … 1 white)."""
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4
    red, green, blue = (linear(c) for c in mpl.colors.to_rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(foreground, background) -> float:
    """WCAG 2 contrast ratio of two colours, 1 … 21 (text needs ≥ 4.5 to be read comfortably)."""
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_on(background) -> tuple[float, float, float]:
    """Black or white, whichever contrasts more with ``background`` (as an RGB tuple)."""
    black, white = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return black if contrast_ratio(black, background) >= contrast_ratio(white, background) else white
