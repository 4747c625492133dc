"""Figures the report prints keep their text readable on paper: the smallest text of each, once printed at the
size the report gives it (:func:`tools.report.summary.printed_text_pt`, the same arithmetic as the printed page's
measurement in :mod:`tools.report.printing`), is at least ``MIN_FIGURE_TEXT_PT``.

Each figure is drawn as a report build draws it: a PNG at the print dpi with a tight bounding box, its smallest
text recorded by :func:`helpers.plots.style.png_with_text_size`. The figures drawn by notebook cells (01's
trajectories and loss curves) are measured by the report build itself (its warnings and ``metrics.json``).
"""
from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from IPython.core.pylabtools import print_figure
from PIL import Image

from helpers.experiments.catcar_extension import ablation_configs
from helpers.experiments.catcar_sweep import grid
from helpers.experiments.linear_vs_nonlinear import LINEAR_MAPS
from helpers.graph_derivations import nyu_graph
from helpers.layers import MLP
from helpers.plots.classifier import plot_sweep
from helpers.plots.graph_drawing import draw_graph
from helpers.plots.layer_walkthrough import LayerWalkthroughFigure
from helpers.plots.linear_maps import plot_linear_maps
from helpers.plots.style import png_with_text_size, use_style
from helpers.plots.walkthrough import WalkthroughFigure, key_frame_strip
from helpers.scalar_autodiff import Value, sigmoid
from tools.report.content import Item
from tools.report.printing import MIN_FIGURE_TEXT_PT
from tools.report.summary import printed_text_pt

PRINT_DPI = 110  # the course style's savefig.dpi: what a report build renders figures at


@pytest.fixture(autouse=True, scope="module")
def course_style():
    with matplotlib.rc_context():
        use_style()
        yield


def printed_pt(figure) -> float:
    """``figure``'s smallest text once printed in the report, in points."""
    data, facts = png_with_text_size(lambda f: print_figure(f, "png", bbox_inches="tight", dpi=PRINT_DPI),
                                     figure, PRINT_DPI)
    plt.close(figure)
    width, height = Image.open(io.BytesIO(data)).size
    return printed_text_pt(Item("figure", "figure", smallest_text_pt=facts["smallest_text_pt"], dpi=PRINT_DPI),
                           width, height)


def two_neuron_graph():
    """Notebook 00's two-neuron graph (the longest the course draws), after its backward pass."""
    values = {"y": 1.0, "w₁": 0.5, "x": 1.2, "b₁": -0.3, "w₂": 0.8, "b₂": 0.1, "λ": 0.01}
    y, w1, x, b1, w2, b2, lam = (Value(v, name) for name, v in values.items())
    f = (y - sigmoid(w2 * sigmoid(w1 * x + b1) + b2)) ** 2 + lam * (w1 ** 2 + w2 ** 2)
    f.backward()
    return draw_graph(f, title="f = [y - σ(w₂σ(w₁x + b₁) + b₂)]² + λ(w₁² + w₂²)")


def sweep_runs(configs):
    """Runs of a sweep with made-up curves (the figure's layout depends on their number and labels only)."""
    return [SimpleNamespace(config=c, train_losses=[0.7 - 0.01 * i - 0.1 * e for e in range(10)],
                            val_accuracies=[0.6 + 0.01 * i + 0.02 * e for e in range(10)]) for i, c in enumerate(configs)]


def course_mlp_walkthrough():
    generator = torch.Generator().manual_seed(0)
    mlp = MLP(2, 1, 3, lr=0.1, dtype=torch.float64, generator=generator)
    x, y = (torch.randn(4, n, dtype=torch.float64, generator=generator) for n in (2, 1))
    return LayerWalkthroughFigure(mlp, x, y, projector=True)


FIGURES = {
    "00 two-neuron graph": two_neuron_graph,
    "00 walkthrough strip": lambda: key_frame_strip(
        WalkthroughFigure(nyu_graph(x=1.0, y=2.0, z=-1.5, o=0.5), projector=True), "forward, then backward"),
    "02 linear maps": lambda: plot_linear_maps(LINEAR_MAPS),
    "02/03 layer walkthrough strip": lambda: key_frame_strip(course_mlp_walkthrough(), "layer by layer"),
    "04 sweep curves": lambda: plot_sweep(sweep_runs(grid((0.01, 0.05), (0.0, 0.9), (0.0, 0.01)))),
    "04 ablation curves": lambda: plot_sweep(sweep_runs(ablation_configs(grid((0.01,), (0.9,), (0.0,))[0]))),
}


@pytest.mark.parametrize("name", FIGURES)
def test_figure_text_prints_at_a_readable_size(name):
    assert printed_pt(FIGURES[name]()) >= MIN_FIGURE_TEXT_PT
