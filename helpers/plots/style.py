"""The course's common plot style, so every notebook looks like one book."""
from __future__ import annotations

import matplotlib as mpl

from helpers.runtime.report_hooks import report_dir

# Colour-blind-safe palette (Okabe & Ito), in the order series are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
SEQUENTIAL_CMAP = "viridis"


def use_style() -> None:
    """Apply the course style to matplotlib (call once at the top of a notebook)."""
    mpl.rcParams.update({
        "figure.figsize": (7.0, 4.2),
        "figure.dpi": 90,
        "savefig.dpi": 110,
        "figure.constrained_layout.use": True,
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


def _inline_figures_at(dpi: float) -> None:
    """In a report build the builder takes each tagged figure from the cell's output: render those
    outputs at the print resolution, not the screen's (only the executed copies change)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: no inline figures to set up
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png", dpi=dpi)
