"""Classifier figures (notebook 04): the confusion matrix of a test set and the curves of an SGD sweep."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from helpers.plots.style import PALETTE


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


LINE_STYLES = ("-", "--", ":", "-.")


def plot_sweep(runs, highlight=None, figure=None):
    """Training loss and validation accuracy per epoch of every run of a sweep
    (:func:`helpers.experiments.catcar_sweep.run_sweep`); ``highlight`` (one of them) drawn on top.

    Colour: learning rate, momentum and recipe; line style: weight decay (solid for none). Drawn on a new
    pyplot figure, or on ``figure`` (cleared first; a live widget keeps one figure out of pyplot).
    """
    groups = list(dict.fromkeys((r.config.lr, r.config.momentum, r.config.augment, r.config.cosine) for r in runs))
    decays = sorted({r.config.weight_decay for r in runs})
    if figure is None:
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.6))
    else:
        fig = figure
        fig.clear()
        ax_loss, ax_acc = fig.subplots(1, 2)
    for run in runs:
        c = run.config
        style = dict(color=PALETTE[groups.index((c.lr, c.momentum, c.augment, c.cosine)) % len(PALETTE)],
                     linestyle=LINE_STYLES[decays.index(c.weight_decay) % len(LINE_STYLES)], label=c.label)
        if highlight is not None:
            style.update(lw=2.8, zorder=3) if run is highlight else style.update(lw=1.0, alpha=0.35)
        epochs = range(1, len(run.train_losses) + 1)
        ax_loss.plot(epochs, run.train_losses, **style)
        ax_acc.plot(epochs, run.val_accuracies, **style)
    ax_loss.set(xlabel="epoch", ylabel="mean training loss", title="training loss")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=9)
    return fig
