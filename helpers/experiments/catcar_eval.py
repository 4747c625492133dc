"""Evaluating a classifier on a test set: confusion matrix, per-class precision and recall, pictures."""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import torch


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(n_classes, n_classes) int64 counts: row = true class, column = predicted class."""
    labels, predictions = labels.cpu().long(), predictions.cpu().long()
    if labels.shape != predictions.shape or labels.dim() != 1:
        raise ValueError(f"labels and predictions must be two (N,) tensors, got {tuple(labels.shape)} "
                         f"and {tuple(predictions.shape)}")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if len(values) and not 0 <= int(values.min()) <= int(values.max()) < n_classes:
            raise ValueError(f"{name} must lie in 0..{n_classes - 1}, got {values.min()}..{values.max()}")
    return torch.bincount(labels * n_classes + predictions, minlength=n_classes ** 2).view(n_classes, n_classes)


def precision_recall(matrix: torch.Tensor, class_names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per class: precision = TP / predicted as the class, recall = TP / truly the class (NaN if 0/0)."""
    matrix = matrix.double()
    hits = matrix.diagonal()
    scores = {}
    for c, name in enumerate(class_names):
        predicted, actual = matrix[:, c].sum().item(), matrix[c, :].sum().item()
        scores[name] = {"precision": hits[c].item() / predicted if predicted else math.nan,
                        "recall": hits[c].item() / actual if actual else math.nan}
    return scores


def plot_confusion_matrix(matrix: torch.Tensor, class_names: Sequence[str], title: str = "confusion matrix"):
    """Counts in the cells, row-normalised colours (each true class sums to 1)."""
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


def image_grid(images: torch.Tensor, titles: Sequence[str], n_cols: int = 8, scale: float = 1.1,
               suptitle: str | None = None):
    """Show (N, 3, H, W) images (uint8, or floats in [0, 1]) in a grid, one title each."""
    if images.dim() != 4 or images.shape[1] != 3 or len(titles) != len(images):
        raise ValueError(f"expected (N, 3, H, W) images and N titles, got {tuple(images.shape)} and {len(titles)}")
    n_rows = max(1, math.ceil(len(images) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * scale, n_rows * (scale + 0.25)), squeeze=False)
    pictures = images.float() / 255 if images.dtype == torch.uint8 else images.clamp(0, 1)
    for ax in axes.flat:
        ax.axis("off")
    for ax, picture, title in zip(axes.flat, pictures, titles):
        ax.imshow(picture.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(title, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig
