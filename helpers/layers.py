"""Layers with hand-written backward passes, no autograd (CSE 849 Project 1; the NYU API in :mod:`helpers.mlp`).

Read top to bottom, like cs231n's ``layers.py``:

1. the math, each op's backward right below its forward (``linear_forward`` / ``linear_backward``, ``relu`` /
   ``relu_backward``, ..., ``mse`` / ``mse_backward``, ``bce`` / ``bce_backward``): exercises 2.1-2.3;
2. the layer classes with the course's interface: ``Layer(lr)``, ``forward(x)`` (or ``layer(x)``),
   ``backward(grad)``, ``train()``, ``eval()`` and the course's names ``weight``, ``lr``, ``eval_mode``,
   ``grad``, ``grad_comps``; ``Linear`` (its SGD step is exercise 2.4), the activations, ``Sequential`` and the
   course's three-layer ``MLP``;
3. the losses ``MSELoss`` and ``BCELoss``, whose ``backward()`` takes no argument (the gradient starts there).

So the course's loop runs as written: ``out = model.forward(X); loss = loss_fn(out, y); grad =
loss_fn.backward(); model.backward(grad)``. In training mode ``forward`` keeps what ``backward`` needs; in eval
mode it keeps nothing and ``backward`` raises; ``backward`` also raises if a tensor ``forward`` kept was changed
in place in between (an input edited, parameters loaded): each tensor's version counter, compared.

Shapes are batch-first: ``x`` is (batch, d_in). Weights follow the course's ``W ∈ R^{d_in × d_out}``, so
``out = x @ weight + bias``. Every backward takes the upstream gradient dL/d(output) and returns dL/d(input);
the loss carries the ``1/N`` of its mean, so linear layers sum over the batch and never divide.
"""
from __future__ import annotations

import math

import torch

# The input checks (a clear error at the course's entry points) live in helpers.runtime.validation; re-exported
# here because helpers.layers is the course's public module for all of it.
from helpers.runtime.validation import (check_dtype, check_lr, check_pair, check_probabilities,  # noqa: F401
                                        check_size, check_tensor, check_unchanged, versions_of)

LOG_CLAMP = -100.0
"""``torch.nn.BCELoss`` clamps each log at -100, so a saturated sigmoid gives a finite loss."""
BCE_EPSILON = torch.tensor(1e-12, dtype=torch.float32).item()
"""``torch.nn.BCELoss``'s backward clamps the divisor of its gradient from below at 1e-12 (no 0/0), with 1e-12
held as a float32 (9.99999996e-13); the same constant gives bit-identical gradients."""
BIAS_INIT_STD = 0.01


# =============================================================================================================
# 1. The math: each op's forward, then its backward
# =============================================================================================================

def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ weight + bias``: x (N, d_in), weight (d_in, d_out), bias (d_out,) -> (N, d_out)."""
    return torch.addmm(bias, x, weight)


def linear_backward(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, input_grad: bool = True):
    """Exercise 2.1: the gradients of ``out = x @ weight + bias`` given ``grad_out`` = dL/d(out), (N, d_out).

    x: (N, d_in), weight: (d_in, d_out). Returns ``(grad_x (N, d_in) or None when not input_grad,
    grad_weight (d_in, d_out), grad_bias (d_out,))``, vectorised (no Python loops). The 1/N of a mean
    belongs to the loss: the layer divides by nothing.
    """
    ### BEGIN SOLUTION
    grad_x = grad_out.mm(weight.t()) if input_grad else None
    grad_weight = x.t().mm(grad_out)
    grad_bias = grad_out.sum(0)
    ### END SOLUTION
    return grad_x, grad_weight, grad_bias


def linear_backward_loops(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor):
    """Exercise 2.1, first part: :func:`linear_backward` one scalar at a time (the course's first tip: loops
    first, vectorise after). grad_out (N, d_out), x (N, d_in), weight (d_in, d_out).

    Each entry ``Z[n, j] = sum_i x[n, i] W[i, j] + b[j]`` adds its chain-rule terms to the three gradients,
    one Python loop per index. Slow: for checking the vectorised form on small sizes. Returns
    ``(grad_x (N, d_in), grad_weight (d_in, d_out), grad_bias (d_out,))``.
    """
    check_tensor("linear_backward_loops x", x, (None, None))
    batch, d_in = x.shape
    check_tensor("linear_backward_loops weight", weight, (d_in, None), x.dtype, x.device)
    d_out = weight.shape[1]
    check_tensor("linear_backward_loops grad_out", grad_out, (batch, d_out), x.dtype, x.device)
    grad_x, grad_weight = torch.zeros_like(x), torch.zeros_like(weight)
    grad_bias = torch.zeros(d_out, dtype=x.dtype, device=x.device)
    ### BEGIN SOLUTION
    for n in range(batch):
        for j in range(d_out):
            g = grad_out[n, j]  # dL/dZ[n, j]
            grad_bias[j] += g  # dZ[n, j]/db[j] = 1
            for i in range(d_in):
                grad_weight[i, j] += g * x[n, i]  # dZ[n, j]/dW[i, j] = x[n, i]
                grad_x[n, i] += g * weight[i, j]  # dZ[n, j]/dx[n, i] = W[i, j]
    ### END SOLUTION
    return grad_x, grad_weight, grad_bias


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0), element-wise."""
    return torch.relu(x)


def relu_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.2: dL/dx from dL/dy and the output y = relu(x), both of any shape (the same).

    At the kink (x = 0, so y = 0) the derivative is taken as 0, as in PyTorch.
    """
    ### BEGIN SOLUTION
    # The local derivative 1[x > 0] equals sign(y) because y = relu(x) >= 0; one fast kernel, no bool mask.
    return grad_y * y.sign()
    ### END SOLUTION


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-x)), element-wise (torch's version never overflows)."""
    return torch.sigmoid(x)


def sigmoid_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.2: dL/dx from dL/dy and the output y = sigmoid(x) alone (x is not kept); same shapes."""
    ### BEGIN SOLUTION
    return grad_y * (1 - y) * y
    ### END SOLUTION


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x), element-wise."""
    return torch.tanh(x)


def tanh_backward(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.2: dL/dx from dL/dy and the output y = tanh(x) alone (x is not kept); same shapes."""
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
    "relu": (relu, lambda grad_y, y: relu_backward(grad_y, y)),
    "sigmoid": (sigmoid, lambda grad_y, y: sigmoid_backward(grad_y, y)),
    "tanh": (tanh, lambda grad_y, y: tanh_backward(grad_y, y)),
    "identity": (identity, identity_backward),
}
"""name -> (function, backward(grad_y, y)); every backward needs only the activation's output. (The backward
entries call your functions above by name, so they always run the current version of them.)"""


def mse(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements (a 0-dim tensor), as ``F.mse_loss``."""
    diff = y_hat - y
    return (diff * diff).mean()


def mse_backward(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.3: dJ/dy_hat of :func:`mse` (the mean over all N elements). y_hat, y: same shape -> that shape."""
    ### BEGIN SOLUTION
    return (y_hat - y) * (2.0 / y_hat.numel())
    ### END SOLUTION


def bce(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy -[y log y_hat + (1-y) log(1-y_hat)], logs clamped at -100 like torch."""
    log_p = torch.log(y_hat).clamp_min(LOG_CLAMP)
    log_not_p = torch.log1p(-y_hat).clamp_min(LOG_CLAMP)
    return ((y - 1) * log_not_p - y * log_p).mean()


def bce_backward(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.3: dJ/dy_hat of :func:`bce` (mean over all N elements). y_hat, y: same shape -> that shape.

    Where y_hat is exactly 0 or 1 the derivative divides by zero: clamp that divisor from below at
    :data:`BCE_EPSILON`, as ``torch.nn.BCELoss`` does, so the result equals torch's bit for bit.
    """
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


# =============================================================================================================
# 2. The layer classes (the course's interface)
# =============================================================================================================

# Guards at the entry point only: while a Sequential runs its layers, the layer its input enters checks that input
# (the first in forward, the last in backward); the others receive what our own code produced, so they skip the
# re-checks. Before its backward pass the Sequential checks every layer's saved state at once (a stale input or
# weight is refused before the first SGD step), so our layers do not check it again one by one.
_after_the_entry_layer = False
_saved_state_checked = False


def _run_layers(layers, value, method: str):
    """``value`` through ``getattr(layer, method)`` of each layer in order, checked by the first layer only."""
    global _after_the_entry_layer, _saved_state_checked
    value = getattr(layers[0], method)(value)
    outer = _after_the_entry_layer, _saved_state_checked
    # only our own layers skip the saved-state check: a course's layer may drive sub-layers of its own
    ours = method == "backward" and all(isinstance(layer, (Linear, Activation)) for layer in layers)
    _after_the_entry_layer, _saved_state_checked = True, ours
    try:
        for layer in layers[1:]:
            value = getattr(layer, method)(value)
    finally:
        _after_the_entry_layer, _saved_state_checked = outer
    return value


class Layer:
    """Base class: ``Layer(lr)`` takes the learning rate first, as the course's does (``None`` for layers without
    parameters); ``layer(x)`` is ``layer.forward(x)``. ``forward`` keeps what ``backward`` needs, in training
    mode only; each ``backward`` consumes it (call ``forward`` again before the next ``backward``).

    The course's names: ``weight`` (None for a layer without one); ``lr`` (the step size of the SGD update
    ``backward`` applies); ``eval_mode`` (False while training, True after ``eval()``); ``grad``: dL/d(weight)
    of the last ``backward`` (the same tensor as ``grad_weight``, None before; layers with a bias keep its
    gradient in ``grad_bias``); ``grad_comps``: what ``forward`` kept, by name (for ``Linear``: ``x``,
    ``weight``, ``bias``), or None when nothing is kept. The tensors are the saved ones: editing one in place
    makes the next ``backward`` refuse. Subclasses keep tensors with ``_save(...)`` and take them back with
    ``_take_saved()``.
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
        """Keep ``tensors`` for ``backward`` with their version counters (in training mode only)."""
        if not self.eval_mode:
            self._saved, self._versions = tensors, versions_of(tensors)

    def _check_saved(self) -> None:
        """Raise unless ``backward`` can run now: training mode, after a forward pass, nothing changed since."""
        if self._saved is None or self.eval_mode or versions_of(self._saved) != self._versions:
            name = type(self).__name__
            if self.eval_mode:
                raise RuntimeError(f"{name}.backward() called in eval mode: eval() keeps nothing for backward. "
                                   "Call train(), then forward(), then backward().")
            if self._saved is None:
                raise RuntimeError(f"{name}.backward() called before forward() (or twice after one forward): "
                                   "run forward() in training mode first.")
            check_unchanged(f"{name}.backward()", self._saved_names, self._saved, self._versions)

    def _take_saved(self) -> tuple:
        if not _saved_state_checked:
            self._check_saved()
        saved, self._saved = self._saved, None
        return saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


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
        if not _after_the_entry_layer:
            check_tensor("Linear.forward x", x, (None, self.d_in), self.weight.dtype, self.weight.device)
        self._save(x, self.weight, self.bias)
        return linear_forward(x, self.weight, self.bias)

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        """grad: dL/d(out), (batch, d_out) -> dL/dx, (batch, d_in); updates weight and bias."""
        x, _, _ = self._take_saved()
        if not _after_the_entry_layer:
            check_tensor("Linear.backward grad", grad, (x.shape[0], self.d_out), self.weight.dtype)
        grad_x, self.grad_weight, self.grad_bias = linear_backward(grad, x, self.weight)
        self.sgd_step()
        return grad_x

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
        if not _after_the_entry_layer:
            check_tensor(f"{type(self).__name__}.forward x", x, (None,) * getattr(x, "ndim", 1))
        y = ACTIVATIONS[self.kind][0](x)
        self._save(y)
        return y

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        (y,) = self._take_saved()
        if not _after_the_entry_layer:
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
        return tuple(map(vars(self).__getitem__, self.layer_names))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run_layers(self.layers, x, "forward")

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        """dL/d(output) -> dL/d(input); every Linear applies its SGD step on the way."""
        self._check_saved()  # every layer's, before the first SGD step: a refusal leaves all unchanged
        return _run_layers(self.layers[::-1], grad, "backward")

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


# =============================================================================================================
# 3. The losses
# =============================================================================================================

class Loss(Layer):
    """A loss: ``forward(y_hat, y)`` (or ``loss_fn(y_hat, y)``) returns the mean loss (0-dim tensor);
    ``backward()`` takes no argument and returns dJ/dy_hat, the ``1/N`` of the mean included."""

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
