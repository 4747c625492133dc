"""Evaluating a classifier on a test set: confusion matrix, per-class precision and recall.

The figures are in :mod:`helpers.plots.classifier` (the confusion matrix) and
:mod:`helpers.plots.images` (image grids)."""
from __future__ import annotations

import math
from typing import Sequence

import torch

from helpers.runtime import edition
from helpers.runtime.exercises import HIDDEN_OBSERVATIONS


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


def sampling_agreement(gap_points: float, accuracy: float, n: int) -> tuple[float, str]:
    """How a gap of ``gap_points`` percentage points (test − validation accuracy) compares with the sampling noise
    of an accuracy near ``accuracy`` measured on ``n`` images: (its binomial standard error sqrt(p(1−p)/n) in
    points, "within one standard error" / "within two standard errors" / "further apart than sampling noise
    explains"). One wording for every place that weighs the test result against validation."""
    standard_error = 100 * math.sqrt(accuracy * (1 - accuracy) / n)
    agreement = ("within one standard error" if abs(gap_points) <= standard_error else
                 "within two standard errors" if abs(gap_points) <= 2 * standard_error else
                 "further apart than sampling noise explains")
    return standard_error, agreement


def interpret_test_accuracy(model_label: str, test_accuracy: float, val_accuracy: float, matrix: torch.Tensor,
                            recall: dict[str, float]) -> str:
    """What the test set says about the selected model, in Markdown, with its sampling noise.

    ``matrix``: the 2×2 confusion matrix (row = true class: cat, car); ``recall``: per class name. In the
    student edition, :data:`helpers.runtime.exercises.HIDDEN_OBSERVATIONS` instead: the student's answer.
    """
    if not edition.SHOWS_ANSWERS:
        return HIDDEN_OBSERVATIONS
    ### BEGIN SOLUTION
    n_test = int(matrix.sum())
    gap = 100 * (test_accuracy - val_accuracy)
    standard_error, agreement = sampling_agreement(gap, test_accuracy, n_test)
    recall_gap = recall["cat"] - recall["car"]
    class_error = math.sqrt(0.25 / (n_test / 2))  # the largest standard error of a recall on one class's images
    difficulty = ("the two classes are about equally hard for it (the recall difference is within sampling noise)"
                  if abs(recall_gap) <= 2 * class_error else
                  f"{'cats' if recall_gap < 0 else 'cars'} are the harder class for it")
    return (f"The selected MLP ({model_label}) classifies **{test_accuracy:.2%}** of the {n_test:,} test images "
            f"correctly. Validation promised {val_accuracy:.2%}; the difference, {gap:+.2f} percentage points, is "
            f"{agreement} of a test accuracy on {n_test:,} images (±{standard_error:.2f} points). It mistakes {int(matrix[0, 1])} cats for cars and "
            f"{int(matrix[1, 0])} cars for cats (recall {recall['cat']:.2%} for cats, {recall['car']:.2%} for "
            f"cars): {difficulty}.")
    ### END SOLUTION
