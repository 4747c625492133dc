"""The base class of the hand-written layers (CSE 849 Project 1), with the course's interface and names.

``Layer(lr)`` takes the learning rate first, as the course's base class does (``None`` for layers without
parameters). Every layer is callable, ``layer(x)`` being ``layer.forward(x)``, so the course's loop runs as
written: ``out = model.forward(X); loss = loss_fn(out, y); grad = loss_fn.backward(); model.backward(grad)``.

The course's attribute names, with its meaning:

* ``weight``: the layer's weight tensor (``None`` for a layer without one);
* ``lr``: the step size of the SGD update ``backward`` applies (``None`` for a layer without parameters);
* ``eval_mode``: ``False`` while training, ``True`` after ``eval()``; ``train()`` sets it back;
* ``grad``: the gradient of the loss with respect to ``weight``, formed by the last ``backward`` (``None``
  before it): the same tensor as ``grad_weight``, so ``weight_before - lr * grad`` is the weight after the
  step. Layers with a bias keep its gradient in ``grad_bias``;
* ``grad_comps``: what ``forward`` kept for ``backward``, by name (for ``Linear``: the input ``x``, from
  which dZ/dW is built, and the parameters), or ``None`` when nothing is kept (eval mode, no forward yet,
  or ``backward`` already used it). A read-only view: the tensors themselves are the saved ones, and
  editing one in place makes the next ``backward`` refuse (the version counters recorded by ``forward``).
"""
from __future__ import annotations

import torch

from helpers.runtime.validation import ForwardRecord, check_lr


class Layer:
    """Base class: ``forward`` keeps what ``backward`` needs, in training mode only.

    Each ``backward`` consumes what its ``forward`` kept: call ``forward`` again before the next
    ``backward``. What ``forward`` keeps is checked to be unchanged when ``backward`` takes it.
    Subclasses keep tensors with ``_save(...)`` and take them back with ``_take_saved()``.
    """

    _saved_names: tuple[str, ...] = ()  # what forward keeps, named for error messages; last word = grad_comps key
    weight: torch.Tensor | None = None  # layers with parameters set their own
    grad_weight: torch.Tensor | None = None
    lr: float | None = None

    def __init__(self, lr: float | None = None):
        if lr is not None:
            self.lr = check_lr(lr)
        self.eval_mode = False
        self._saved = None

    def __call__(self, *args, **kwargs):
        """``layer(...)`` is ``layer.forward(...)`` (same checks, same state kept for ``backward``)."""
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")

    @property
    def grad(self) -> torch.Tensor | None:
        """The course's name for ``grad_weight``: dL/d(weight) from the last ``backward`` (None before)."""
        return self.grad_weight

    @grad.setter
    def grad(self, value: torch.Tensor | None) -> None:
        self.grad_weight = value

    @property
    def grad_comps(self) -> dict[str, torch.Tensor] | None:
        """The course's name for what ``forward`` kept: ``{name: tensor}`` (None when nothing is kept)."""
        if self._saved is None:
            return None
        return {name.split()[-1]: tensor for name, tensor in zip(self._saved_names, self._saved)}

    def train(self):
        """Training mode: ``forward`` keeps its inputs for ``backward``."""
        self.eval_mode = False
        return self

    def eval(self):
        """Eval mode (inference): ``forward`` keeps nothing and ``backward`` raises."""
        self.eval_mode = True
        self._saved = None
        return self

    def parameters(self) -> dict[str, torch.Tensor]:
        """Named parameter tensors (live references, not copies); none for parameter-free layers."""
        return {}

    def _save(self, *tensors: torch.Tensor) -> None:
        if not self.eval_mode:
            self._saved, self._record = tensors, ForwardRecord(self._saved_names, tensors)

    def _check_saved(self) -> None:
        """Raise unless ``backward`` can run now: training mode, after a forward pass, nothing changed since."""
        name = type(self).__name__
        if self.eval_mode:
            raise RuntimeError(f"{name}.backward() called in eval mode: eval() keeps nothing for backward. "
                               "Call train(), then forward(), then backward().")
        if self._saved is None:
            raise RuntimeError(f"{name}.backward() called before forward() (or twice after one forward): "
                               "run forward() in training mode first.")
        self._record.check(f"{name}.backward()")

    def _take_saved(self) -> tuple:
        self._check_saved()
        saved, self._saved = self._saved, None
        return saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
