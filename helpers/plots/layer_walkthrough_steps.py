"""Backpropagation layer by layer: the steps a class walks through on a small MLP (notebooks 02 and 03).

:func:`build_layer_walkthrough` runs one forward and one backward pass of a network, with the network's
*own* code, and turns what it computed into plain data: a *start* step (the batch x = a[0] and the
targets), one *forward* step per layer l = 1..L (z[l] from a[l-1], W[l] and b[l], then a[l] = f(z[l])),
one *backward* step per layer l = L..1 (the model's δ[l] = dL/dz[l], dL/dW[l] and dL/db[l]; the instructor's
edition, :data:`helpers.runtime.edition.SHOWS_ANSWERS`, also draws the factors each is formed from) and an
*end* step. Two kinds of network:

* a network of :mod:`helpers.layers` (``layers.MLP`` or any ``Sequential`` of ``Linear`` layers, each
  followed by at most one activation): z[l] = a[l-1] W[l] + b[l] with W[l] and dL/dW[l] of shape
  (n_(l-1), n_l); the loss is ``MSELoss`` (the mean). Its backward steps each ``Linear`` by SGD,
  so the walkthrough runs on a copy: the network passed in is left as it was;
* a :class:`helpers.mynet.MyNet` (anything exposing ``L``, ``z``, ``a``, ``df``, ``fc``): z[l] = a[l-1] W[l]ᵀ
  + b[l] with W[l] and dL/dW[l] of shape (n_l, n_(l-1)); the loss is Σ (y - ŷ)² and the backward pass
  is ``backpropagation(model, y_true, y_pred)`` (also run on a copy).

Each number a step shows is a :class:`Panel`: the model's own tensor beside the value torch autograd gives
for the same quantity on an independent float64 replay of the forward pass, so a wrong backward shows up
(``agrees`` False) at the step where it happens. :mod:`helpers.plots.layer_walkthrough` draws the steps.

The pass itself is recorded first (:func:`trace_pass`, :class:`LayerPass`): :func:`trace_pass` accepts a network of
:mod:`helpers.layers` (``Linear`` layers, each followed by at most one activation; loss ``MSELoss``) or a
:class:`helpers.mynet.MyNet` (loss Σ (y - ŷ)², backward ``backpropagation(model, y_true, y_pred)``) and returns
a :class:`LayerPass` in one notation for both: a[0] = x, z[l] = the l-th linear layer's output,
a[l] = f(z[l]), δ[l] = dL/dz[l], l = 1..L. :func:`autograd_reference` recomputes every one of those
quantities with torch autograd on an independent float64 replay of the forward pass.


Example::

    net = MyNet([2, 3, 2]).double()
    walk = build_layer_walkthrough(net, torch.randn(4, 2, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64))
    [step.title for step in walk.steps]  # start, forward 1, forward 2, backward 2, backward 1, end
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch

from helpers.gradcheck import AUTOGRAD_TOLERANCE, compare
from helpers.layers import Activation, Layer, Linear, MSELoss, Sequential
from helpers.runtime import edition
from helpers.runtime.validation import check_tensor


TORCH_ACTIVATIONS: dict[str, Callable] = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                                          "identity": lambda t: t}
NOT_A_NETWORK = ("the layer walkthrough expects a network of helpers.layers (Linear layers with forward and "
                 "backward, e.g. layers.MLP) or a MyNet (L, z, a, df, fc, walked through with "
                 "backpropagation(model, y_true, y_pred)); got {name}, which has no backward pass to walk through")


@dataclass(frozen=True)
class LayerPass:
    """What one pass computed. Per layer l = 1..L (dict keys; ``a`` also has 0), N = batch size:

    a[l] (N, n_l); z[l], upstream[l] = dL/da[l], slope[l] = f'(z[l]), delta[l] = δ[l] = dL/dz[l]: (N, n_l);
    weight[l] and weight_grad[l] in the model's layout: (n_(l-1), n_l) when ``layout`` is 'xW'
    (helpers.layers, z = a W + b), (n_l, n_(l-1)) when 'xWᵀ' (MyNet, z = a Wᵀ + b); bias[l], bias_grad[l]:
    (n_l,). ``y`` (N, n_L); ``loss`` a 0-dim tensor. ``functions[l]`` is f of layer l, ``activations`` their names.
    """
    layout: str
    activations: tuple[str, ...]
    functions: dict[int, Callable]
    a: dict[int, torch.Tensor]
    z: dict[int, torch.Tensor]
    weight: dict[int, torch.Tensor]
    bias: dict[int, torch.Tensor]
    upstream: dict[int, torch.Tensor]
    slope: dict[int, torch.Tensor]
    delta: dict[int, torch.Tensor]
    weight_grad: dict[int, torch.Tensor]
    bias_grad: dict[int, torch.Tensor]
    y: torch.Tensor
    loss: torch.Tensor
    loss_name: str
    mean_loss: bool

    @property
    def L(self) -> int:
        return len(self.z)

    @property
    def dtype(self) -> torch.dtype:
        return self.weight[1].dtype


def trace_pass(model, x: torch.Tensor, y: torch.Tensor, backpropagation=None) -> LayerPass:
    """Run ``model`` forward on ``x`` (N, n_0) and backward against ``y`` (N, n_L), on a copy of the model.

    Raises TypeError for a model without a backward pass, ValueError for x or y of the wrong shape or dtype,
    empty or not finite.
    """
    for name, t in (("x", x), ("y", y)):
        if not (isinstance(t, torch.Tensor) and t.ndim == 2):
            continue  # the network's own check below says which shape it expects
        check_tensor(f"layer walkthrough {name}", t, (None, None), finite=True)
        if t.shape[0] == 0:
            raise ValueError(f"layer walkthrough {name}: expected a batch of at least one sample, got {tuple(t.shape)}")
    if isinstance(model, Sequential):
        return _trace_layers(model, x, y)
    if all(hasattr(model, name) for name in ("L", "z", "a", "df", "fc")):
        if backpropagation is None:
            from helpers.mynet import backpropagation
        if not callable(backpropagation):
            raise TypeError(f"backpropagation must be a function (model, y_true, y_pred), got {backpropagation!r}")
        return _trace_mynet(model, x, y, backpropagation)
    raise TypeError(NOT_A_NETWORK.format(name=type(model).__name__))


def _groups(model: Sequential) -> list[tuple[Linear, Activation | None]]:
    """The network as (Linear, its activation or None) pairs, checked to have real backward passes."""
    groups, layers = [], list(model.layers)
    for name, layer in zip(model.layer_names, layers):
        if type(layer).backward is Layer.backward or not callable(getattr(layer, "backward", None)):
            raise TypeError(f"layer {name} ({type(layer).__name__}) defines no backward(): " +
                            NOT_A_NETWORK.format(name=type(model).__name__))
        if isinstance(layer, Linear):
            groups.append([layer, None])
        elif isinstance(layer, Activation) and groups and groups[-1][1] is None:
            groups[-1][1] = layer
        else:
            raise ValueError(f"layer {name} ({type(layer).__name__}): the layer walkthrough expects Linear layers, "
                             "each followed by at most one activation (ReLU, Sigmoid, Tanh, Identity)")
    if not groups:
        raise ValueError("the network has no Linear layer: there is nothing to walk through")
    return [tuple(group) for group in groups]


def _trace_layers(model: Sequential, x, y) -> LayerPass:
    """The pass of a helpers.layers network, each layer's forward and backward called as Sequential does."""
    groups = _groups(copy.deepcopy(model).train())  # backward takes an SGD step: not on the caller's model
    first = groups[0][0]
    check_tensor("layer walkthrough x", x, (None, first.d_in), first.weight.dtype, first.weight.device)
    L, a, z, weight, bias = len(groups), {0: x}, {}, {}, {}
    for l, (linear, act) in enumerate(groups, 1):
        weight[l], bias[l] = linear.weight.clone(), linear.bias.clone()  # before backward's SGD step
        z[l] = linear.forward(a[l - 1])
        a[l] = act.forward(z[l]) if act is not None else z[l]
    loss_fn = MSELoss()
    check_tensor("layer walkthrough y", y, tuple(a[L].shape), a[L].dtype, a[L].device)
    loss = loss_fn(a[L], y)
    upstream, slope, delta, weight_grad, bias_grad = {L: loss_fn.backward()}, {}, {}, {}, {}
    for l in range(L, 0, -1):
        linear, act = groups[l - 1]
        delta[l] = act.backward(upstream[l]) if act is not None else upstream[l]
        passed_down = linear.backward(delta[l])
        weight_grad[l], bias_grad[l] = linear.grad_weight, linear.grad_bias
        if l > 1:
            upstream[l - 1] = passed_down
        slope[l] = _slope(act, z[l])
    names = tuple(act.kind if act is not None else "identity" for _, act in groups)
    return LayerPass("xW", names, {l: TORCH_ACTIVATIONS[n] for l, n in enumerate(names, 1)}, a, z, weight, bias,
                     upstream, slope, delta, weight_grad, bias_grad, y, loss, "L = mean((ŷ - y)²)", True)


def _slope(act: Activation | None, z: torch.Tensor) -> torch.Tensor:
    """f'(z) by the layer's own backward: its backward of an upstream gradient of ones (N, n)."""
    if act is None:
        return torch.ones_like(z)
    act.forward(z)
    return act.backward(torch.ones_like(z))


def _trace_mynet(model, x, y, backpropagation) -> LayerPass:
    """The pass of a MyNet-like model: its forward, then ``backpropagation`` fills dL_dw and dL_db."""
    net = copy.deepcopy(model)  # forward and backpropagation overwrite z, a, dL_dw: not the caller's
    weight1 = net.fc["1"].weight
    check_tensor("layer walkthrough x", x, (None, weight1.shape[1]), weight1.dtype, weight1.device)
    y_pred = net(x)
    check_tensor("layer walkthrough y", y, tuple(y_pred.shape), y_pred.dtype, y_pred.device)
    deltas = backpropagation(net, y, y_pred)
    L = net.L
    with torch.no_grad():
        weight = {l: net.fc[str(l)].weight.detach().clone() for l in range(1, L + 1)}
        bias = {l: net.fc[str(l)].bias.detach().clone() for l in range(1, L + 1)}
        z = {l: net.z[l].detach() for l in range(1, L + 1)}
        slope = {l: net.df[l](z[l]) for l in range(1, L + 1)}
    # dL/da[l] as the model's δ[l+1] passes it down: a vector-Jacobian product of the model's own layer by
    # autograd (spelling it out here would print exercise 3.1's answer in the student's copy)
    upstream, delta = {L: _vjp(lambda p: ((y - p) ** 2).sum(), y_pred.detach(), None)}, {}
    for l in range(L, 0, -1):
        own = deltas.get(l) if isinstance(deltas, dict) else None  # the model's δ when backpropagation returns it
        delta[l] = own.detach() if isinstance(own, torch.Tensor) else _vjp(net.f[l], z[l], upstream[l])
        if l > 1:
            upstream[l - 1] = _vjp(net.fc[str(l)], net.a[l - 1].detach(), delta[l])
    for name in ("dL_dw", "dL_db"):
        empty = [l for l in range(1, L + 1) if not isinstance(getattr(net, name)[l], torch.Tensor)]
        if empty:
            raise RuntimeError(f"backpropagation left model.{name}[{empty[0]}] empty: it must fill dL_dw[l] and "
                               "dL_db[l] for every layer l = 1..L")
    names = tuple(getattr(net, "activations", ("f",) * L))
    return LayerPass("xWᵀ", names, dict(net.f), {l: net.a[l].detach() for l in range(L + 1)}, z, weight, bias,
                     upstream, slope, delta, {l: net.dL_dw[l].detach() for l in range(1, L + 1)},
                     {l: net.dL_db[l].detach() for l in range(1, L + 1)}, y, ((y - y_pred) ** 2).sum().detach(),
                     "L = Σ(y - ŷ)²", False)


def _vjp(function: Callable, point: torch.Tensor, cotangent: torch.Tensor | None) -> torch.Tensor:
    """The gradient at ``point`` of ``function`` (a scalar when ``cotangent`` is None) or of its product with
    ``cotangent`` (the shape of ``function(point)``), by autograd: a tensor shaped like ``point``."""
    with torch.enable_grad():
        point = point.detach().requires_grad_()
        output = function(point)
        (gradient,) = torch.autograd.grad(output, point, cotangent)
    return gradient.detach()


def autograd_reference(record: LayerPass) -> dict[str, dict]:
    """Every quantity of ``record`` recomputed by torch autograd on a float64 replay of the forward pass from
    the same x, weights and biases: keys 'a', 'z', 'upstream', 'slope', 'delta', 'weight_grad', 'bias_grad'
    (dicts by layer, shapes as in :class:`LayerPass`) and 'loss' (0-dim)."""
    as64 = lambda t: t.detach().to(torch.float64).clone()  # noqa: E731
    weight = {l: as64(w).requires_grad_() for l, w in record.weight.items()}
    bias = {l: as64(b).requires_grad_() for l, b in record.bias.items()}
    a, z, slope = {0: as64(record.a[0])}, {}, {}
    for l in range(1, record.L + 1):
        w = weight[l] if record.layout == "xW" else weight[l].T
        z[l] = a[l - 1] @ w + bias[l]
        a[l] = record.functions[l](z[l])
        z[l].retain_grad()
        a[l].retain_grad()
        point = z[l].detach().requires_grad_()
        (slope[l],) = torch.autograd.grad(record.functions[l](point).sum(), point)  # element-wise f' by autograd
    squared = (a[record.L] - as64(record.y)) ** 2
    loss = squared.mean() if record.mean_loss else squared.sum()
    loss.backward()
    layers = range(1, record.L + 1)
    return {"a": {l: t.detach() for l, t in a.items()}, "z": {l: z[l].detach() for l in layers},
            "upstream": {l: a[l].grad for l in layers}, "slope": slope, "delta": {l: z[l].grad for l in layers},
            "weight_grad": {l: weight[l].grad for l in layers}, "bias_grad": {l: bias[l].grad for l in layers},
            "loss": loss.detach()}


# -- the steps of the walkthrough ----------------------------------------------------------------------
# How close the model's numbers must be to autograd's float64 replay: round-off of the model's dtype.
TOLERANCE = {torch.float64: AUTOGRAD_TOLERANCE, torch.float32: 1e-5}
COARSE_TOLERANCE = 1e-2  # half precision and the like


@dataclass(frozen=True)
class Panel:
    """One matrix a step shows: ``values`` (the model's, 2-D float64 on the CPU; a vector is one row, 1 × n)
    and ``reference``, autograd's value of the same quantity (same shape; None for inputs and parameters)."""
    name: str
    values: torch.Tensor
    reference: torch.Tensor | None = None
    tolerance: float = AUTOGRAD_TOLERANCE

    @property
    def shape_text(self) -> str:
        """The shape as printed beside the picture: '4×3'."""
        return "×".join(str(n) for n in self.values.shape)

    @property
    def agrees(self) -> bool:
        """Whether the model's values equal autograd's (relative error within ``tolerance``)."""
        return self.reference is None or compare(self.name, self.values, self.reference, self.tolerance).passed


@dataclass(frozen=True)
class LayerStep:
    """One frame: ``phase`` ('start', 'forward', 'backward', 'end') at ``layer`` l (0 at the start, L at the end).

    ``equations`` are rows to draw, each a tuple of :class:`Panel` and operator strings in reading order
    ('a[0] · W[1] + b[1] = z[1]'); ``formula`` says the same in one line with the shapes.
    """
    phase: str
    layer: int
    title: str
    formula: str
    equations: tuple[tuple[Panel | str, ...], ...]

    @property
    def panels(self) -> tuple[Panel, ...]:
        return tuple(item for row in self.equations for item in row if isinstance(item, Panel))

    @property
    def agrees(self) -> bool:
        """Whether every number the step shows agrees with autograd."""
        return all(panel.agrees for panel in self.panels)


@dataclass(frozen=True)
class LayerWalkthrough:
    """The steps of one pass and the pass itself (:class:`LayerPass`)."""
    steps: tuple[LayerStep, ...]
    record: LayerPass


def build_layer_walkthrough(model, x: torch.Tensor, y: torch.Tensor, backpropagation=None) -> LayerWalkthrough:
    """The walkthrough of ``model`` on the batch ``x`` (N, n_0) with targets ``y`` (N, n_L).

    ``backpropagation``: for a MyNet, the function ``backpropagation(model, y_true, y_pred)`` to walk through
    (default :func:`helpers.mynet.backpropagation`); ignored for a network of :mod:`helpers.layers`.
    ``steps`` has 2 + 2L entries. The model passed in is not changed (the pass runs on a copy).
    """
    record = trace_pass(model, x, y, backpropagation)
    reference = autograd_reference(record)
    tolerance = TOLERANCE.get(record.dtype, COARSE_TOLERANCE)

    def panel(name, values, ref=None):
        as_rows = lambda t: None if t is None else t.detach().to("cpu", torch.float64).reshape(-1, t.shape[-1])  # noqa: E731
        return Panel(name, as_rows(values), as_rows(ref), tolerance)

    L = record.L
    steps = [LayerStep("start", 0, "start", f"the batch x = a[0] ({_shape(record.a[0])}) and the targets y "
                       f"({_shape(record.y)}); nothing computed yet",
                       ((panel("x = a[0]", record.a[0]), "and", panel("y", record.y)),))]
    steps += [_forward_step(record, reference, l, panel) for l in range(1, L + 1)]
    steps += [_backward_step(record, reference, l, panel) for l in range(L, 0, -1)]
    loss = panel(record.loss_name, record.loss.reshape(1, 1), reference["loss"].reshape(1, 1))
    steps.append(LayerStep("end", L, "end", f"{record.loss_name} = {number_text(record.loss.item())}; every dL/dW[l] and "
                           "dL/db[l] is known", ((panel(f"ŷ = a[{L}]", record.a[L], reference["a"][L]), "vs",
                                                  panel("y", record.y), "→", loss),)))
    return LayerWalkthrough(tuple(steps), record)


def number_text(value: float) -> str:
    """How the walkthrough writes every number, in its cells and its captions alike: 3 significant digits."""
    return "0" if value == 0 else f"{value:.3g}"


def _shape(t: torch.Tensor) -> str:
    return "×".join(str(n) for n in t.shape)


def _forward_step(record: LayerPass, reference: dict, l: int, panel) -> LayerStep:
    """z[l] from a[l-1], W[l] and b[l] (in the model's layout), then a[l] = f(z[l])."""
    a_prev, weight, z, a = record.a[l - 1], record.weight[l], record.z[l], record.a[l]
    transposed = record.layout == "xWᵀ"
    w_name = f"W[{l}]ᵀ" if transposed else f"W[{l}]"
    shown_weight = weight.T if transposed else weight
    f = record.activations[l - 1]
    formula = (f"z[{l}] = a[{l - 1}] {w_name} + b[{l}]: ({_shape(a_prev)})({_shape(shown_weight)}) → {_shape(z)};"
               f"  a[{l}] = {f}(z[{l}])")
    equations = ((panel(f"a[{l - 1}]", a_prev, reference["a"][l - 1]), "·", panel(w_name, shown_weight), "+",
                  panel(f"b[{l}]", record.bias[l]), "=", panel(f"z[{l}]", z, reference["z"][l])),
                 (f"{f}(", panel(f"z[{l}]", z, reference["z"][l]), ") =", panel(f"a[{l}]", a, reference["a"][l])))
    return LayerStep("forward", l, f"forward, layer {l}", formula, equations)


def _backward_step(record: LayerPass, reference: dict, l: int, panel) -> LayerStep:
    """Layer l's backward step: the model's δ[l] (N, n_l), dL/db[l] (1, n_l) and dL/dW[l] (the model's layout),
    each beside autograd's value. Only the instructor's edition also draws the factors each is formed from."""
    delta = panel(f"δ[{l}]", record.delta[l], reference["delta"][l])
    bias_grad = panel(f"dL/db[{l}]", record.bias_grad[l], reference["bias_grad"][l])
    weight_grad = panel(f"dL/dW[{l}]", record.weight_grad[l], reference["weight_grad"][l])
    formula = (f"the backward pass at layer {l}: δ[{l}] = dL/dz[{l}] ({delta.shape_text}), "
               f"dL/dW[{l}] ({weight_grad.shape_text}), dL/db[{l}] ({bias_grad.shape_text})")
    equations = ((delta, bias_grad), (weight_grad,))  # no factors: how they combine is exercises 2.1 and 3.1
    if edition.SHOWS_ANSWERS:
        formula, equations = _with_factors(record, reference, l, panel, (delta, bias_grad, weight_grad))
    return LayerStep("backward", l, f"backward, layer {l}", formula, equations)


def _with_factors(record: LayerPass, reference: dict, l: int, panel, results: tuple) -> tuple[str, tuple]:
    """Instructor's edition: the caption and rows of layer l's backward step with the factors of δ[l], dL/dW[l]
    and dL/db[l] (``panel`` as in :func:`_backward_step`; ``results`` its δ[l], dL/db[l] and dL/dW[l] panels).
    Two rows, so the picture fits a screen. Called only where
    :data:`helpers.runtime.edition.SHOWS_ANSWERS` is True."""
    delta, bias_grad, weight_grad = results
    mynet_layout, a_prev = record.layout == "xWᵀ", record.a[l - 1]  # MyNet: W (n_l, n_(l-1)); layers: (n_(l-1), n_l)
    passed_down = f"δ[{l + 1}] W[{l + 1}]" + ("" if mynet_layout else "ᵀ")
    upstream = panel(f"dL/dŷ = dL/da[{l}]" if l == record.L else f"dL/da[{l}] = {passed_down}", record.upstream[l],
                     reference["upstream"][l])
    slope = panel(f"f'(z[{l}])", record.slope[l], reference["slope"][l])
    delta_first = (panel(f"δ[{l}]ᵀ", delta.values.T, delta.reference.T), "·", panel(f"a[{l - 1}]", a_prev))
    input_first = (panel(f"a[{l - 1}]ᵀ", a_prev.T), "·", delta)
    factors = delta_first if mynet_layout else input_first
    product = " ".join(f"{p.name}" for p in factors[::2]) + ": " + "".join(f"({p.shape_text})" for p in factors[::2])
    formula = f"δ[{l}] = dL/da[{l}] ⊙ f'(z[{l}]);  dL/dW[{l}] = {product} → {weight_grad.shape_text};  dL/db[{l}] = Σₙ δ[{l}]"
    return formula, ((upstream, "⊙", slope, "=", delta, "Σₙ →", bias_grad), (*factors, "=", weight_grad))


def key_frames(steps: tuple[LayerStep, ...]) -> list[int]:
    """Indices of the frames a printed strip shows: start, the middle forward step, the middle backward step
    (a hidden layer when there is one, where δ[l] comes from the layer above) and the end."""
    forward = [i for i, s in enumerate(steps) if s.phase == "forward"]
    backward = [i for i, s in enumerate(steps) if s.phase == "backward"]
    if not forward or not backward:
        raise ValueError("a layer walkthrough needs at least one forward and one backward step")
    return [0, forward[len(forward) // 2], backward[len(backward) // 2], len(steps) - 1]
