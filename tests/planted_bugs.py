"""Wrong `backpropagation` candidates shared by the grader tests: each plants one typical mistake."""
from helpers.mynet import backpropagation


def halved(model, y_true, y_pred):
    """Planted bug: e' = (ŷ - y) instead of 2 (ŷ - y), so every gradient is half the right one."""
    backpropagation(model, y_true, y_pred)
    for l in range(1, model.L + 1):
        model.dL_dw[l], model.dL_db[l] = model.dL_dw[l] / 2, model.dL_db[l] / 2


def transposed(model, y_true, y_pred):
    """Planted bug: a[l-1]ᵀ δ[l] instead of δ[l]ᵀ a[l-1] for the weights."""
    backpropagation(model, y_true, y_pred)
    for l in range(1, model.L + 1):
        model.dL_dw[l] = model.dL_dw[l].T.contiguous()
