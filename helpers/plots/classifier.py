"""Classifier figures: the confusion matrix of a test set (notebook 04)."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch


def plot_confusion_matrix(matrix: torch.Tensor, class_names: Sequence[str], title: str = "confusion matrix"):
    """Counts in the cells, row-normalised colours (each true class sums to 1).

    matrix: (C, C) counts, row = true class, column = predicted class (as from
    :func:`helpers.experiments.catcar_eval.confusion_matrix`); ``class_names``: C labels.
    """
    rates = matrix.double() / matrix.sum(dim=1, keepdim=True).clamp_min(1)
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    ax.imshow(rates.numpy(), vmin=0, vmax=1, cmap="Blues")
    for (row, col), count in zip(((r, c) for r in range(len(class_names)) for c in range(len(class_names))),
                                 matrix.flatten().tolist()):
        ax.text(col, row, f"{count}\n({rates[row, col]:.1%})", ha="center", va="center",
                color="white" if rates[row, col] > 0.5 else "black")
    ticks = range(len(class_names))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=class_names, yticklabels=class_names,
           xlabel="predicted", ylabel="true", title=title)
    ax.grid(False)
    return fig
