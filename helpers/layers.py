"""Layers with hand-written backward passes, no autograd (the CSE 849 Project 1 structure).

Two levels, one implementation of the math:

* plain functions, each op's backward right below its forward (``linear_forward`` /
  ``linear_backward``, ``relu`` / ``relu_backward``, ..., ``mse`` / ``mse_backward``,
  ``bce`` / ``bce_backward``), shared with the NYU-style API in :mod:`helpers.mlp`;
* layer classes with the course's interface: ``forward(x)``, ``backward(grad)``, ``train()``,
  ``eval()`` (attribute ``eval_mode``). In training mode ``forward`` keeps what ``backward`` needs;
  in eval mode it keeps nothing and ``backward`` raises.

Shapes are batch-first: ``x`` is (batch, d_in). ``Linear`` follows the course's convention
``W ∈ R^{d_in × d_out}``, so ``out = x @ weight + bias``. Gradients keep the batch dimension until a
parameter gradient is formed: the loss carries the ``1/N`` of the mean, so ``Linear`` sums over
the batch and never divides.
"""
from __future__ import annotations

import math

import torch

LOG_CLAMP = -100.0
"""``torch.nn.BCELoss`` clamps each log at -100, so a saturated sigmoid gives a finite loss."""
BCE_EPSILON = torch.tensor(1e-12, dtype=torch.float32).item()
"""``torch.nn.BCELoss``'s backward divides by ``max(y_hat (1 - y_hat), 1e-12)`` (no 0/0), with 1e-12
held as a float32 (9.99999996e-13); the same constant gives bit-identical gradients."""
BIAS_INIT_STD = 0.01


# --------------------------------------------------------------------------- input checks
def check_tensor(name: str, t, shape: tuple, dtype: torch.dtype | None = None, device=None) -> None:
    """Raise ``ValueError`` unless ``t`` is a floating tensor of ``shape`` (None = any size), ``dtype``, ``device``."""
    def expected() -> str:
        return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor of shape {expected()}, got {type(t).__name__}")
    if t.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, t.shape)):
        raise ValueError(f"{name}: expected shape {expected()}, got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor, got {t.dtype}")
    if dtype is not None and t.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype} (the parameters' dtype), got {t.dtype}; "
                         f"convert with .to({dtype})")
    if device is not None and t.device != device:
        raise ValueError(f"{name}: expected a tensor on {device} (where the parameters are), got {t.device}")


def check_pair(name: str, y_hat, y) -> None:
    """Predictions and targets of a loss: same shape (no silent broadcasting) and same dtype."""
    if not isinstance(y_hat, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(f"{name}: y_hat and y must be torch.Tensors, got "
                         f"{type(y_hat).__name__} and {type(y).__name__}")
    check_tensor(f"{name} y_hat", y_hat, (None,) * y_hat.ndim)
    if y_hat.shape != y.shape:
        raise ValueError(f"{name}: y_hat has shape {tuple(y_hat.shape)} but y has {tuple(y.shape)}; they "
                         "must match exactly (e.g. reshape targets (N,) to (N, 1)) to avoid broadcasting")
    check_tensor(f"{name} y", y, (None,) * y.ndim, y_hat.dtype)
    if y_hat.numel() == 0:
        raise ValueError(f"{name}: empty batch")


def check_size(name: str, value) -> int:
    """A layer width or feature count: a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_lr(lr) -> float:
    """A learning rate: a finite number >= 0 (0 freezes the layer, handy for gradient checks)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
    return float(lr)


# --------------------------------------------------------------------------- the math
def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ weight + bias``: x (N, d_in), weight (d_in, d_out), bias (d_out,) -> (N, d_out)."""
    return torch.addmm(bias, x, weight)


def linear_backward(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, input_grad: bool = True):
    """Gradients of ``out = x @ weight + bias`` given ``grad_out`` = dL/d(out), (N, d_out).

    Returns ``(grad_x (N, d_in) or None when not input_grad, grad_weight (d_in, d_out),
    grad_bias (d_out,))``. The batch is summed, not averaged: the loss already carries 1/N.
    """
    ### BEGIN SOLUTION
    grad_x = grad_out.mm(weight.t()) if input_grad else None
    grad_weight = x.t().mm(grad_out)
    grad_bias = grad_out.sum(0)
    ### END SOLUTION
    return grad_x, grad_weight, grad_bias


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0), element-wise."""
    return torch.relu(x)


def relu_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dx from dL/dy and the output y = relu(x): the gradient passes where x > 0 (0 at the kink)."""
    ### BEGIN SOLUTION
    # The step function 1[x > 0] equals sign(y) because y = relu(x) >= 0; one fast kernel, no bool mask.
    return grad_y * y.sign()
    ### END SOLUTION


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-x)), element-wise (torch's version never overflows)."""
    return torch.sigmoid(x)


def sigmoid_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dx = dL/dy * y (1 - y), from the output y = sigmoid(x)."""
    ### BEGIN SOLUTION
    return grad_y * (1 - y) * y
    ### END SOLUTION


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x), element-wise."""
    return torch.tanh(x)


def tanh_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dx = dL/dy * (1 - y^2), from the output y = tanh(x)."""
    ### BEGIN SOLUTION
    return grad_y * (1 - y * y)
    ### END SOLUTION


def identity(x: torch.Tensor) -> torch.Tensor:
    """x itself (a linear output layer)."""
    return x


def identity_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dx = dL/dy."""
    return grad_y


ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "identity": (identity, identity_backward),
}
"""name -> (function, backward(grad_y, y)); every backward needs only the activation's output."""


def mse(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements (a 0-dim tensor), as ``F.mse_loss``."""
    diff = y_hat - y
    return (diff * diff).mean()


def mse_backward(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dJ/dy_hat of the mean squared error: 2 (y_hat - y) / N, N = number of elements."""
    ### BEGIN SOLUTION
    return (y_hat - y) * (2.0 / y_hat.numel())
    ### END SOLUTION


def check_probabilities(name: str, y_hat: torch.Tensor, y: torch.Tensor) -> None:
    """BCE needs predictions and targets in [0, 1] (NaN fails too)."""
    for label, t in (("y_hat", y_hat), ("y", y)):
        if not bool(((t >= 0) & (t <= 1)).all()):
            raise ValueError(f"{name}: every element of {label} must lie in [0, 1] (use a sigmoid output), "
                             f"got values in [{t.min().item():.4g}, {t.max().item():.4g}]")


def bce(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy -[y log y_hat + (1-y) log(1-y_hat)], logs clamped at -100 like torch."""
    log_p = torch.log(y_hat).clamp_min(LOG_CLAMP)
    log_not_p = torch.log1p(-y_hat).clamp_min(LOG_CLAMP)
    return ((y - 1) * log_not_p - y * log_p).mean()


def bce_backward(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dJ/dy_hat = (y_hat - y) / (y_hat (1 - y_hat)) / N, denominator clamped at 1e-12 like torch."""
    ### BEGIN SOLUTION
    return (y_hat - y) / ((1 - y_hat) * y_hat).clamp_min(BCE_EPSILON) / y_hat.numel()
    ### END SOLUTION


def init_weight(d_in: int, d_out: int, dtype=None, device=None, generator=None) -> torch.Tensor:
    """He initialisation, N(0, 2/d_in), shape (d_in, d_out): keeps activations' scale through ReLUs.

    Drawn on the CPU (``generator``, if given, is a CPU generator) and then moved to ``device``, so a
    seed gives the same initial weights on every device.
    """
    weight = torch.randn(d_in, d_out, dtype=dtype, generator=generator).mul_(math.sqrt(2.0 / d_in))
    return weight.to(device)


def init_bias(d_out: int, dtype=None, device=None, generator=None) -> torch.Tensor:
    """N(0, 0.01^2), shape (d_out,): small offsets, so early steps are driven by the data (CPU draw, as above)."""
    return torch.randn(d_out, dtype=dtype, generator=generator).mul_(BIAS_INIT_STD).to(device)


# --------------------------------------------------------------------------- layer classes
class Layer:
    """Base class: ``forward`` keeps what ``backward`` needs, in training mode only.

    Each ``backward`` consumes what its ``forward`` kept: call ``forward`` again before the next
    ``backward``.
    """

    def __init__(self):
        self.eval_mode = False
        self._saved = None

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
            self._saved = tensors

    def _take_saved(self) -> tuple:
        name = type(self).__name__
        if self.eval_mode:
            raise RuntimeError(f"{name}.backward() called in eval mode: eval() keeps nothing for backward. "
                               "Call train(), then forward(), then backward().")
        if self._saved is None:
            raise RuntimeError(f"{name}.backward() called before forward() (or twice after one forward): "
                               "run forward() in training mode first.")
        saved, self._saved = self._saved, None
        return saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(Layer):
    """Fully connected layer ``out = x @ weight + bias`` updated by SGD inside ``backward``.

    weight: (d_in, d_out), He-initialised; bias: (d_out,). ``backward(grad)`` takes dL/d(out),
    (batch, d_out), stores ``grad_weight`` (d_in, d_out) and ``grad_bias`` (d_out,), applies
    ``param -= lr * grad`` and returns dL/dx, (batch, d_in), computed with the weight before the step.
    """

    def __init__(self, d_in: int, d_out: int, lr: float, *, dtype=None, device=None, generator=None):
        super().__init__()
        self.d_in, self.d_out = check_size("d_in", d_in), check_size("d_out", d_out)
        self.lr = check_lr(lr)
        self.weight = init_weight(d_in, d_out, dtype, device, generator)
        self.bias = init_bias(d_out, dtype, device, generator)
        self.grad_weight: torch.Tensor | None = None
        self.grad_bias: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, d_in) -> (batch, d_out)."""
        check_tensor("Linear.forward x", x, (None, self.d_in), self.weight.dtype, self.weight.device)
        self._save(x)
        return linear_forward(x, self.weight, self.bias)

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        """grad: dL/d(out), (batch, d_out) -> dL/dx, (batch, d_in); updates weight and bias."""
        (x,) = self._take_saved()
        check_tensor("Linear.backward grad", grad, (x.shape[0], self.d_out), self.weight.dtype)
        grad_x, self.grad_weight, self.grad_bias = linear_backward(grad, x, self.weight)
        ### BEGIN SOLUTION
        self.weight.add_(self.grad_weight, alpha=-self.lr)
        self.bias.add_(self.grad_bias, alpha=-self.lr)
        ### END SOLUTION
        return grad_x

    def parameters(self) -> dict[str, torch.Tensor]:
        return {"weight": self.weight, "bias": self.bias}

    def __repr__(self) -> str:
        return f"Linear(d_in={self.d_in}, d_out={self.d_out}, lr={self.lr:g})"


class Activation(Layer):
    """Element-wise activation; subclasses name one entry of :data:`ACTIVATIONS`.

    forward: x of any shape -> y of the same shape; backward: dL/dy -> dL/dx (same shape).
    """

    kind = "identity"

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


class Loss(Layer):
    """A loss: ``forward(y_hat, y)`` returns the mean loss (0-dim tensor); ``backward()`` returns dJ/dy_hat."""

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


class Sequential(Layer):
    """Named layers applied in order; ``backward`` runs them in reverse."""

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
        if self.eval_mode:
            raise RuntimeError(f"{type(self).__name__}.backward() called in eval mode: call train(), then "
                               "forward(), then backward().")
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

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
        """Copy ``values`` (e.g. an earlier ``snapshot()``) into the parameters, in place."""
        own = self.parameters()
        if set(values) != set(own):
            raise ValueError(f"parameter names differ: expected {sorted(own)}, got {sorted(values)}")
        for name, tensor in own.items():
            if values[name].shape != tensor.shape:
                raise ValueError(f"{name}: expected shape {tuple(tensor.shape)}, got {tuple(values[name].shape)}")
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
