"""Evaluating a classifier on a test set: confusion matrix, per-class precision and recall.

The figures are in :mod:`helpers.plots.classifier` (the confusion matrix) and
:mod:`helpers.plots.images` (image grids)."""
from __future__ import annotations

import math
from typing import Sequence

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
