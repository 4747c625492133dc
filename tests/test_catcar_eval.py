"""helpers.experiments.catcar_eval: confusion matrix and per-class precision/recall on hand-counted examples."""
import math

import pytest
import torch

from helpers.experiments.catcar_eval import confusion_matrix, precision_recall

# 3 cats: 2 right, 1 called car; 4 cars: 3 right, 1 called cat
LABELS = torch.tensor([0, 0, 0, 1, 1, 1, 1])
PREDICTIONS = torch.tensor([0, 1, 0, 1, 1, 0, 1])


def test_confusion_matrix_counts_true_rows_predicted_columns():
    assert confusion_matrix(LABELS, PREDICTIONS, 2).tolist() == [[2, 1], [1, 3]]
    assert confusion_matrix(torch.tensor([2, 2]), torch.tensor([0, 2]), 3).tolist() == [[0, 0, 0], [0, 0, 0],
                                                                                          [1, 0, 1]]


def test_precision_and_recall_by_hand():
    scores = precision_recall(confusion_matrix(LABELS, PREDICTIONS, 2), ["cat", "car"])
    assert scores["cat"]["precision"] == pytest.approx(2 / 3)  # 3 predicted cats, 2 real
    assert scores["cat"]["recall"] == pytest.approx(2 / 3)     # 3 real cats, 2 found
    assert scores["car"]["precision"] == pytest.approx(3 / 4)
    assert scores["car"]["recall"] == pytest.approx(3 / 4)
    never_predicted = precision_recall(torch.tensor([[0, 2], [0, 1]]), ["cat", "car"])
    assert math.isnan(never_predicted["cat"]["precision"]) and never_predicted["cat"]["recall"] == 0.0


@pytest.mark.parametrize("labels, predictions, message", [
    (torch.tensor([0, 1]), torch.tensor([0]), "two \\(N,\\) tensors"),
    (torch.tensor([0, 2]), torch.tensor([0, 1]), "labels must lie in 0..1"),
    (torch.tensor([0, 1]), torch.tensor([-1, 1]), "predictions must lie in 0..1"),
])
def test_confusion_matrix_rejects_bad_input(labels, predictions, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(labels, predictions, 2)


def test_interpretation_weighs_the_gap_against_sampling_noise():
    from helpers.experiments.catcar_eval import interpret_test_accuracy
    matrix = torch.tensor([[900, 100], [50, 950]])  # 2,000 test images, 92.5 % correct
    recall = {"cat": 0.9, "car": 0.95}
    text = interpret_test_accuracy("lr=0.01", 0.925, 0.93, matrix, recall)
    assert "classifies **92.50%** of the 2,000 test images" in text
    # sqrt(.925 * .075 / 2000) = 0.59 points
    assert "-0.50 percentage points, is within one standard error of a test accuracy on 2,000 images (±0.59 points)" in text
    assert "mistakes 100 cats for cars and 50 cars for cats" in text and "cats are the harder class" in text
    assert "further apart than sampling noise" in interpret_test_accuracy("m", 0.925, 0.96, matrix, recall)
    close = interpret_test_accuracy("m", 0.925, 0.93, matrix, {"cat": 0.92, "car": 0.93})
    assert "equally hard" in close
