"""NYU HW1 1.4 (e) as a picture: a grid and an asymmetric shape under each linear map, and under ReLU."""
from __future__ import annotations

from typing import Callable, Mapping

import matplotlib.pyplot as plt
import torch

from helpers.plots.style import PALETTE

# An "F" (no mirror symmetry, so a reflection shows), points as rows (N, 2).
F_SHAPE = torch.tensor([[0.0, 0.0], [0.25, 0.0], [0.25, 0.4], [0.6, 0.4], [0.6, 0.6], [0.25, 0.6], [0.25, 0.8],
                        [0.8, 0.8], [0.8, 1.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64) - 0.3


def _grid_lines(half_width: float = 1.0, n_lines: int = 9, n_points: int = 60) -> list[torch.Tensor]:
    """Horizontal and vertical lines of a square grid, each a polyline (n_points, 2)."""
    ticks = torch.linspace(-half_width, half_width, n_lines, dtype=torch.float64)
    along = torch.linspace(-half_width, half_width, n_points, dtype=torch.float64)
    return ([torch.stack([along, torch.full_like(along, t)], dim=1) for t in ticks]
            + [torch.stack([torch.full_like(along, t), along], dim=1) for t in ticks])


def _draw_mapped(ax, transform: Callable[[torch.Tensor], torch.Tensor], title: str) -> None:
    """Draw the grid and the F before (grey) and after (colour) ``transform`` (points (N, 2) -> (N, 2))."""
    for line in _grid_lines():
        ax.plot(*line.T, color="0.85", lw=0.6)
        ax.plot(*transform(line).T, color=PALETTE[0], lw=0.6, alpha=0.6)
    ax.fill(*F_SHAPE.T, color="0.6", alpha=0.5, label="before")
    ax.fill(*transform(F_SHAPE).T, color=PALETTE[1], alpha=0.8, label="after")
    basis = transform(torch.eye(2, dtype=torch.float64))
    for vector, colour in zip(basis, (PALETTE[3], PALETTE[2])):
        ax.annotate("", xy=tuple(vector.tolist()), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color=colour, lw=1.8))
    ax.set(title=title, xlim=(-1.7, 1.7), ylim=(-1.7, 1.7), aspect="equal", xticks=[], yticks=[])


PANELS_PER_ROW = 3


def plot_linear_maps(maps: Mapping[str, torch.Tensor]):
    """One panel per 2×2 matrix A in ``maps`` (points p -> A p), one for ReLU (not linear) and one saying what
    the colours mean, ``PANELS_PER_ROW`` to a row (large enough to read in print). Returns the figure."""
    rows = -(-(len(maps) + 2) // PANELS_PER_ROW)
    fig, axes = plt.subplots(rows, PANELS_PER_ROW, figsize=(3.2 * PANELS_PER_ROW, 3.3 * rows))
    axes = axes.flat
    for ax, (name, matrix) in zip(axes, maps.items()):
        _draw_mapped(ax, lambda points, matrix=matrix: points @ matrix.T, name)
    _draw_mapped(axes[len(maps)], torch.relu, "ReLU (not linear):\nfolds the plane")
    key = axes[len(maps) + 1]
    key.legend(*axes[0].get_legend_handles_labels(), loc="upper left", fontsize=10)
    key.text(0.02, 0.7, "grey: the plane and an F\nbefore the map\ncolour: after it\narrows: images of e₁, e₂",
             va="top", fontsize=10, transform=key.transAxes)
    for ax in axes[len(maps) + 1:]:
        ax.set_axis_off()
    return fig
