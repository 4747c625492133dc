"""The NYU CSCI-GA 2572 HW1 API: a two-layer MLP with hand-written backprop, no autograd.

``y_hat = g(W2 f(W1 x + b1) + b2)`` with ``f``, ``g`` in 'relu' | 'sigmoid' | 'tanh' | 'identity'.
Weights follow ``nn.Linear``: ``W1`` is (out1, in1). The math is :mod:`helpers.layers`'s (one
implementation): this module only arranges it behind the names external graders call::

    net = MLP(2, 20, 'relu', 20, 5, 'identity')
    net.clear_grad_and_cache()
    y_hat = net.forward(x)             # x: (batch, 2) -> (batch, 5)
    J, dJdy_hat = mse_loss(y, y_hat)
    net.backward(dJdy_hat)             # fills net.grads['dJdW1'], ... (no update)
"""
from __future__ import annotations

import torch

from helpers.layers import (ACTIVATIONS, bce, bce_backward, init_bias, init_weight, linear_backward, linear_forward,
                            mse, mse_backward)
from helpers.runtime.validation import (ForwardRecord, check_dtype, check_pair, check_probabilities, check_size,
                                        check_tensor)


def _check_function(name: str, value) -> str:
    if value not in ACTIVATIONS:
        raise ValueError(f"{name} must be one of {sorted(ACTIVATIONS)}, got {value!r}")
    return value


class MLP:
    """Linear -> f -> Linear -> g, with ``parameters``, ``grads`` and ``cache`` dicts.

    parameters: ``W1`` (out1, in1), ``b1`` (out1,), ``W2`` (out2, in2), ``b2`` (out2,);
    grads: ``dJdW1``, ``dJdb1``, ``dJdW2``, ``dJdb2`` of the same shapes. ``dtype``: a real floating dtype.
    ``backward`` refuses to run if the forward pass's cache or the parameters changed since ``forward``.
    """

    # What backward relies on being as forward left it, by the names the error messages use.
    _RECORDED = ("cache['x']", "cache['h']", "cache['y_hat']", "parameters['W1']", "parameters['b1']",
                 "parameters['W2']", "parameters['b2']")

    def __init__(self, linear_1_in_features, linear_1_out_features, f_function,
                 linear_2_in_features, linear_2_out_features, g_function, *, dtype=None, device=None,
                 generator=None):
        in1 = check_size("linear_1_in_features", linear_1_in_features)
        out1 = check_size("linear_1_out_features", linear_1_out_features)
        in2 = check_size("linear_2_in_features", linear_2_in_features)
        out2 = check_size("linear_2_out_features", linear_2_out_features)
        if in2 != out1:
            raise ValueError(f"linear_2_in_features ({in2}) must equal linear_1_out_features ({out1})")
        self.f_function = _check_function("f_function", f_function)
        self.g_function = _check_function("g_function", g_function)
        options = dict(dtype=check_dtype("dtype", dtype), device=device, generator=generator)
        self.parameters = dict(
            W1=init_weight(in1, out1, **options).t().contiguous(), b1=init_bias(out1, **options),
            W2=init_weight(in2, out2, **options).t().contiguous(), b2=init_bias(out2, **options))
        self.grads = {f"dJd{name}": torch.zeros_like(p) for name, p in self.parameters.items()}
        self.cache = dict()
        self._record: ForwardRecord | None = None

    def _recorded_tensors(self) -> tuple:
        """The tensors now in the places :attr:`_RECORDED` names (None where the cache lacks one)."""
        return (*(self.cache.get(k) for k in ("x", "h", "y_hat")), *self.parameters.values())

    def _check_input(self, x: torch.Tensor) -> None:
        W1 = self.parameters["W1"]
        check_tensor("MLP.forward x", x, (None, W1.shape[1]), W1.dtype, W1.device)

    def _keep(self, cache: dict[str, torch.Tensor]) -> None:
        """Store the forward pass's cache and record it (and the parameters) for backward's check."""
        self.cache = cache
        self._record = ForwardRecord(self._RECORDED, self._recorded_tensors())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Exercise 2.5: x (batch, linear_1_in_features) -> y_hat (batch, linear_2_out_features).

        Compose it from the pieces of :mod:`helpers.layers` (``linear_forward`` and ``ACTIVATIONS``); keep
        ``z1``, ``h`` (batch, out1) and ``z2``, ``y_hat`` (batch, out2) for ``backward`` in ``cache``.
        """
        self._check_input(x)
        W1, b1, W2, b2 = (self.parameters[k] for k in ("W1", "b1", "W2", "b2"))
        f, g = ACTIVATIONS[self.f_function][0], ACTIVATIONS[self.g_function][0]
        ### BEGIN SOLUTION
        z1 = linear_forward(x, W1.t(), b1)
        h = f(z1)
        z2 = linear_forward(h, W2.t(), b2)
        y_hat = g(z2)
        ### END SOLUTION
        self._keep(dict(x=x, z1=z1, h=h, z2=z2, y_hat=y_hat))
        return y_hat

    def _check_backward(self, dJdy_hat: torch.Tensor) -> None:
        if "y_hat" not in self.cache:
            raise RuntimeError("MLP.backward() called before forward(): run forward(x) first "
                               "(clear_grad_and_cache() empties the cache).")
        if self._record is not None:  # None: a cache filled by hand, nothing recorded to compare with
            self._record.check("MLP.backward()", self._recorded_tensors())
        y_hat = self.cache["y_hat"]
        check_tensor("MLP.backward dJdy_hat", dJdy_hat, tuple(y_hat.shape), y_hat.dtype)

    def backward(self, dJdy_hat: torch.Tensor) -> None:
        """Exercise 2.5: dJdy_hat (batch, linear_2_out_features) -> fills ``self.grads`` (``dJdW1`` shaped like
        ``W1`` (out1, in1), ``dJdb1`` (out1,), ``dJdW2`` (out2, in2), ``dJdb2`` (out2,)); no update.

        Compose it from the pieces of :mod:`helpers.layers` (``linear_backward`` and ``ACTIVATIONS``' backward
        functions, which take the activation's output) and the ``cache`` of ``forward``.
        """
        self._check_backward(dJdy_hat)
        x, h, y_hat = self.cache["x"], self.cache["h"], self.cache["y_hat"]
        f_backward, g_backward = ACTIVATIONS[self.f_function][1], ACTIVATIONS[self.g_function][1]
        W1, W2 = self.parameters["W1"], self.parameters["W2"]
        ### BEGIN SOLUTION
        dJdz2 = g_backward(dJdy_hat, y_hat)
        dJdh, dJdW2_t, dJdb2 = linear_backward(dJdz2, h, W2.t())
        dJdz1 = f_backward(dJdh, h)
        _, dJdW1_t, dJdb1 = linear_backward(dJdz1, x, W1.t(), input_grad=False)
        # linear_backward works in the (in, out) layout; nn.Linear's is its transpose.
        dJdW1, dJdW2 = dJdW1_t.t().contiguous(), dJdW2_t.t().contiguous()
        ### END SOLUTION
        self.grads.update(dJdW1=dJdW1, dJdb1=dJdb1, dJdW2=dJdW2, dJdb2=dJdb2)

    def clear_grad_and_cache(self) -> None:
        """Zero every gradient and empty the forward cache."""
        for grad in self.grads.values():
            grad.zero_()
        self.cache = dict()
        self._record = None


def mse_loss(y: torch.Tensor, y_hat: torch.Tensor):
    """Mean squared error. y, y_hat: (batch, out). Returns ``(J, dJdy_hat)``, as ``F.mse_loss``."""
    check_pair("mse_loss", y_hat, y)
    return mse(y_hat, y), mse_backward(y_hat, y)


def bce_loss(y: torch.Tensor, y_hat: torch.Tensor):
    """Binary cross-entropy, y and y_hat in [0, 1]. Returns ``(J, dJdy_hat)``, as ``F.binary_cross_entropy``."""
    check_pair("bce_loss", y_hat, y)
    check_probabilities("bce_loss", y_hat, y)
    return bce(y_hat, y), bce_backward(y_hat, y)
