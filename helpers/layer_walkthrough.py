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

Example::

    net = MyNet([2, 3, 2]).double()
    walk = build_layer_walkthrough(net, torch.randn(4, 2, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64))
    [step.title for step in walk.steps]  # start, forward 1, forward 2, backward 2, backward 1, end
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from helpers.gradcheck import AUTOGRAD_TOLERANCE, compare
from helpers.layer_trace import LayerPass, autograd_reference, trace_pass
from helpers.runtime import edition

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
    """The steps of one pass and the pass itself (:class:`helpers.layer_trace.LayerPass`)."""
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
    steps.append(LayerStep("end", L, "end", f"{record.loss_name} = {record.loss.item():.4g}; every dL/dW[l] and "
                           "dL/db[l] is known", ((panel(f"ŷ = a[{L}]", record.a[L], reference["a"][L]), "vs",
                                                  panel("y", record.y), "→", loss),)))
    return LayerWalkthrough(tuple(steps), record)


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
    Two rows, so the picture fits a screen. Each line that says how the factors combine carries its student
    edition's replacement, so the student's copy (tools.editions) has none of them."""
    delta, bias_grad, weight_grad = results
    mynet_layout, a_prev = record.layout == "xWᵀ", record.a[l - 1]  # MyNet: W (n_l, n_(l-1)); layers: (n_(l-1), n_l)
    passed_down = f"δ[{l + 1}] W[{l + 1}]" + ("" if mynet_layout else "ᵀ")  # student edition: passed_down = ""
    upstream = panel(f"dL/dŷ = dL/da[{l}]" if l == record.L else f"dL/da[{l}] = {passed_down}", record.upstream[l],
                     reference["upstream"][l])
    slope = panel(f"f'(z[{l}])", record.slope[l], reference["slope"][l])
    delta_first = (panel(f"δ[{l}]ᵀ", delta.values.T, delta.reference.T), "·", panel(f"a[{l - 1}]", a_prev))  # student edition: delta_first = ()
    input_first = (panel(f"a[{l - 1}]ᵀ", a_prev.T), "·", delta)  # student edition: input_first = ()
    factors = delta_first if mynet_layout else input_first
    product = " ".join(f"{p.name}" for p in factors[::2]) + ": " + "".join(f"({p.shape_text})" for p in factors[::2])
    formula = f"δ[{l}] = dL/da[{l}] ⊙ f'(z[{l}]);  dL/dW[{l}] = {product} → {weight_grad.shape_text};  dL/db[{l}] = Σₙ δ[{l}]"  # student edition: formula = ""
    return formula, ((upstream, "⊙", slope, "=", delta, "Σₙ →", bias_grad), (*factors, "=", weight_grad))  # student edition: return formula, ()


def key_frames(steps: tuple[LayerStep, ...]) -> list[int]:
    """Indices of the frames a printed strip shows: start, the middle forward step, the middle backward step
    (a hidden layer when there is one, where δ[l] comes from the layer above) and the end."""
    forward = [i for i, s in enumerate(steps) if s.phase == "forward"]
    backward = [i for i, s in enumerate(steps) if s.phase == "backward"]
    if not forward or not backward:
        raise ValueError("a layer walkthrough needs at least one forward and one backward step")
    return [0, forward[len(forward) // 2], backward[len(backward) // 2], len(steps) - 1]
