"""The losses of the hand-written layers (CSE 849 Project 1): ``MSELoss`` and ``BCELoss``, no autograd.

A loss is a :class:`helpers.layer_base.Layer` whose ``forward(y_hat, y)`` (or ``loss_fn(y_hat, y)``) returns
the mean loss and whose ``backward()`` takes no argument, since the gradient starts there: it returns
dJ/dy_hat, the ``1/N`` of the mean included. Re-exported by :mod:`helpers.layers`, the course's module.
"""
from __future__ import annotations

import torch

from helpers.functional import bce, bce_backward, mse, mse_backward
from helpers.layer_base import Layer
from helpers.runtime.validation import check_pair, check_probabilities


class Loss(Layer):
    """A loss: ``forward(y_hat, y)`` returns the mean loss (0-dim tensor); ``backward()`` returns dJ/dy_hat."""

    _saved_names = ("y_hat", "y")

    def _value(self, y_hat, y):
        raise NotImplementedError

    def _gradient(self, y_hat, y):
        raise NotImplementedError

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """y_hat, y: same shape, same floating dtype -> the mean loss over all elements."""
        check_pair(f"{type(self).__name__}.forward", y_hat, y)
        self._save(y_hat, y)
        return self._value(y_hat, y)

    def backward(self) -> torch.Tensor:
        """dJ/dy_hat, shape of y_hat (the 1/N of the mean included)."""
        y_hat, y = self._take_saved()
        return self._gradient(y_hat, y)


class MSELoss(Loss):
    """Mean squared error, as ``torch.nn.MSELoss()``."""

    def _value(self, y_hat, y):
        return mse(y_hat, y)

    def _gradient(self, y_hat, y):
        return mse_backward(y_hat, y)


class BCELoss(Loss):
    """Binary cross-entropy on probabilities, as ``torch.nn.BCELoss()`` (log clamped at -100)."""

    def _value(self, y_hat, y):
        check_probabilities("BCELoss.forward", y_hat, y)
        return bce(y_hat, y)

    def _gradient(self, y_hat, y):
        return bce_backward(y_hat, y)
