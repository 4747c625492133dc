"""Layers with hand-written backward passes, no autograd (the CSE 849 Project 1 structure).

Two levels, one implementation of the math:

* plain functions in :mod:`helpers.functional`, each op's backward right below its forward
  (``linear_forward`` / ``linear_backward``, ``relu`` / ``relu_backward``, ..., ``mse`` /
  ``mse_backward``, ``bce`` / ``bce_backward``), shared with the NYU-style API in :mod:`helpers.mlp`;
* layer classes with the course's interface: ``forward(x)`` (or ``layer(x)``), ``backward(grad)``,
  ``train()``, ``eval()`` and the course's names ``weight``, ``lr``, ``eval_mode``, ``grad``, ``grad_comps``
  (defined in :mod:`helpers.layer_base`, the losses in :mod:`helpers.losses`; all re-exported here, so
  the course's loop ``out = model.forward(X); loss = loss_fn(out, y); grad = loss_fn.backward();
  model.backward(grad)`` runs unchanged). In training mode ``forward`` keeps what ``backward`` needs;
  in eval mode it keeps nothing and ``backward`` raises. ``backward`` also raises if anything ``forward``
  used or kept was changed in place in between (an input edited, parameters loaded).

Shapes are batch-first: ``x`` is (batch, d_in). ``Linear`` follows the course's convention
``W ∈ R^{d_in × d_out}``, so ``out = x @ weight + bias``. Gradients keep the batch dimension until a
parameter gradient is formed: the loss carries the ``1/N`` of the mean, so ``Linear`` sums over
the batch and never divides.
"""
from __future__ import annotations

import torch

from helpers import backprop_references as reference

# The math lives in helpers.functional and the checks in helpers.runtime.validation; both are
# re-exported here because helpers.layers is the course's public module for all of it.
from helpers.functional import (ACTIVATIONS, BCE_EPSILON, BIAS_INIT_STD, LOG_CLAMP, bce, bce_backward,  # noqa: F401
                                identity, identity_backward, init_bias, init_weight, linear_backward,
                                linear_forward, mse, mse_backward, relu, relu_backward, sigmoid,
                                sigmoid_backward, tanh, tanh_backward)
from helpers.runtime.validation import (check_dtype, check_lr, check_pair, check_probabilities,  # noqa: F401
                                        check_size, check_tensor)
from helpers.layer_base import Layer
from helpers.runtime.exercises import reference_until_done
from helpers.losses import BCELoss, Loss, MSELoss  # noqa: F401 (the course's layers.py holds its losses)


class Linear(Layer):
    """Fully connected layer ``out = x @ weight + bias`` updated by SGD inside ``backward``.

    weight: (d_in, d_out), He-initialised; bias: (d_out,). ``backward(grad)`` takes dL/d(out),
    (batch, d_out), stores ``grad_weight`` (d_in, d_out; the course's ``grad``) and ``grad_bias`` (d_out,),
    applies ``param -= lr * grad`` and returns dL/dx, (batch, d_in), computed with the weight before the step.
    ``grad_comps`` (after a training ``forward``): ``x``, ``weight``, ``bias``.
    """

    _saved_names = ("its input x", "its weight", "its bias")

    def __init__(self, d_in: int, d_out: int, lr: float, *, dtype=None, device=None, generator=None):
        self.d_in, self.d_out = check_size("d_in", d_in), check_size("d_out", d_out)
        super().__init__(check_lr(lr))  # the course's Layer(lr): required here, the layer has parameters
        dtype = check_dtype("dtype", dtype)  # a real floating dtype (None: the default)
        self.weight = init_weight(d_in, d_out, dtype, device, generator)
        self.bias = init_bias(d_out, dtype, device, generator)
        self.grad_weight: torch.Tensor | None = None
        self.grad_bias: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, d_in) -> (batch, d_out)."""
        check_tensor("Linear.forward x", x, (None, self.d_in), self.weight.dtype, self.weight.device)
        self._save(x, self.weight, self.bias)
        return linear_forward(x, self.weight, self.bias)

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        """grad: dL/d(out), (batch, d_out) -> dL/dx, (batch, d_in); updates weight and bias."""
        x, _, _ = self._take_saved()
        check_tensor("Linear.backward grad", grad, (x.shape[0], self.d_out), self.weight.dtype)
        grad_x, self.grad_weight, self.grad_bias = linear_backward(grad, x, self.weight)
        self.sgd_step()
        return grad_x

    @reference_until_done(reference.sgd_step, "torch's SGD step")
    def sgd_step(self) -> None:
        """Exercise 2.4: one SGD step with ``lr`` on ``weight`` (d_in, d_out) and ``bias`` (d_out,), in place,
        from ``grad_weight`` and ``grad_bias`` (same shapes), as ``torch.optim.SGD`` takes it (bit for bit)."""
        ### BEGIN SOLUTION
        self.weight.add_(self.grad_weight, alpha=-self.lr)
        self.bias.add_(self.grad_bias, alpha=-self.lr)
        ### END SOLUTION

    def parameters(self) -> dict[str, torch.Tensor]:
        return {"weight": self.weight, "bias": self.bias}

    def __repr__(self) -> str:
        return f"Linear(d_in={self.d_in}, d_out={self.d_out}, lr={self.lr:g})"


class Activation(Layer):
    """Element-wise activation; subclasses name one entry of :data:`ACTIVATIONS`.

    forward: x of any shape -> y of the same shape; backward: dL/dy -> dL/dx (same shape).
    """

    kind = "identity"
    _saved_names = ("its output y",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(f"{type(self).__name__}.forward x", x, (None,) * getattr(x, "ndim", 1))
        y = ACTIVATIONS[self.kind][0](x)
        self._save(y)
        return y

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        (y,) = self._take_saved()
        check_tensor(f"{type(self).__name__}.backward grad", grad, tuple(y.shape), y.dtype)
        return ACTIVATIONS[self.kind][1](grad, y)


class ReLU(Activation):
    kind = "relu"


class Sigmoid(Activation):
    kind = "sigmoid"


class Tanh(Activation):
    kind = "tanh"


class Identity(Activation):
    kind = "identity"


class Sequential(Layer):
    """Named layers applied in order; ``backward`` runs them in reverse.

    Its ``weight``, ``grad`` and ``grad_comps`` are None: each layer holds its own (``model.layer1.grad``).
    """

    def __init__(self, **layers: Layer):
        super().__init__()
        self.layer_names = tuple(layers)
        for name, layer in layers.items():
            setattr(self, name, layer)

    @property
    def layers(self) -> tuple[Layer, ...]:
        return tuple(getattr(self, name) for name in self.layer_names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        """dL/d(output) -> dL/d(input); every Linear applies its SGD step on the way."""
        self._check_saved()  # every layer's, before the first SGD step: a refusal leaves all unchanged
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def _check_saved(self) -> None:
        if self.eval_mode:
            raise RuntimeError(f"{type(self).__name__}.backward() called in eval mode: call train(), then "
                               "forward(), then backward().")
        for layer in self.layers:
            layer._check_saved()

    def train(self):
        for layer in self.layers:
            layer.train()
        return super().train()

    def eval(self):
        for layer in self.layers:
            layer.eval()
        return super().eval()

    def parameters(self) -> dict[str, torch.Tensor]:
        return {f"{name}.{key}": value for name in self.layer_names
                for key, value in getattr(self, name).parameters().items()}

    def load_parameters(self, values: dict[str, torch.Tensor]) -> None:
        """Copy ``values`` (e.g. an earlier ``snapshot()``) into the parameters, in place: each must match its
        parameter's shape, dtype and device (no silent cast) and be finite, all checked before any is copied."""
        own = self.parameters()
        if set(values) != set(own):
            raise ValueError(f"parameter names differ: expected {sorted(own)}, got {sorted(values)}")
        for name, tensor in own.items():
            check_tensor(f"load_parameters {name}", values[name], tuple(tensor.shape), tensor.dtype, tensor.device,
                         finite=True)
        for name, tensor in own.items():
            tensor.copy_(values[name])

    def snapshot(self) -> dict[str, torch.Tensor]:
        """Copies of the parameters (for keeping the best model during training)."""
        return {name: tensor.clone() for name, tensor in self.parameters().items()}

    @property
    def lr(self) -> float:
        rates = {layer.lr for layer in self.layers if isinstance(layer, Linear)}
        return rates.pop() if len(rates) == 1 else float("nan")

    @lr.setter
    def lr(self, value: float) -> None:
        value = check_lr(value)
        for layer in self.layers:
            if isinstance(layer, Linear):
                layer.lr = value

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.layer_names)
        return f"{type(self).__name__}({inner})"


class MLP(Sequential):
    """The course pipeline: ``layer1`` -> ``act1`` (ReLU) -> ``layer2`` -> ``act2`` (ReLU) -> ``layer3``.

    X: (batch, d_in) -> (batch, d_out). Hidden layers have width ``hid_dim``; every Linear uses ``lr``.
    """

    def __init__(self, d_in: int, d_out: int, hid_dim: int, lr: float, *, dtype=None, device=None,
                 generator=None):
        options = dict(dtype=dtype, device=device, generator=generator)
        super().__init__(layer1=Linear(d_in, hid_dim, lr, **options), act1=ReLU(),
                         layer2=Linear(hid_dim, hid_dim, lr, **options), act2=ReLU(),
                         layer3=Linear(hid_dim, d_out, lr, **options))
        self.d_in, self.d_out, self.hid_dim = d_in, d_out, hid_dim
