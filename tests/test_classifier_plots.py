"""helpers.plots.classifier: the confusion-matrix figure (notebook 04)."""
import matplotlib.pyplot as plt
import torch

from helpers.plots.classifier import plot_confusion_matrix


def test_confusion_matrix_figure_shows_counts_and_row_rates():
    fig = plot_confusion_matrix(torch.tensor([[2, 1], [1, 3]]), ["cat", "car"], title="test set")
    ax = fig.axes[0]
    # 2 of 3 cats right (66.7 %), 3 of 4 cars right (75 %): rates are per true class (row)
    assert [text.get_text() for text in ax.texts] == ["2\n(66.7%)", "1\n(33.3%)", "1\n(25.0%)", "3\n(75.0%)"]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["cat", "car"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted", "true", "test set")
    assert tuple(fig.get_size_inches()) == (3.8, 3.4)  # the size notebook 04's figure has always had
    plt.close(fig)
