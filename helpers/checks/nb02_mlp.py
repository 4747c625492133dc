"""Notebook 02 (backprop by hand): its exercises 2.1-2.9, their checks, references and stand-ins, and the
gradient-check tables the notebook prints.

Sections, top to bottom:

1. the references: each exercise computed another way (autograd's vector-Jacobian product of a forward written
   with torch's own ops, ``torch.optim``'s SGD), named ``*_reference``; they stand in for an exercise while it
   is a stub (the registry's ``stand_ins``) and are what the checks compare with. The lesson modules
   (:mod:`helpers.layers`, :mod:`helpers.mlp`, :mod:`helpers.two_layer_theory`) stay free of autograd;
2. the exercise checks (2.1-2.4 the layers and losses, 2.5 the NYU ``mlp.py``, 2.6-2.7 the numerator layout,
   2.8-2.9 CSE 849 q2's training loop and its choice on validation with one test evaluation),
   each with its mistake tables; the student's code runs in the sandbox (``code``, a
   :class:`helpers.checks.sandbox.StudentCode`), where :mod:`helpers.checks.nb02_mlp_sandbox` builds the
   student's objects with the references in place of the other exercises' functions, so a mistake of one
   exercise never fails another. Every input is float64 from a fixed seed;
3. the notebook's gradient-check demonstrations (:class:`ThreeGradients`, ``check_linear`` ...,
   ``check_formulas``, ``check_jacobians``) and their tables;
4. the registry entries (``EXERCISES``), whose diagnoses are the keys of the mistake tables.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from helpers import mlp, two_layer_theory as theory
from helpers import mlp as nyu
from helpers.checks.toolkit import (CheckOutcome, Exercise, exact_outcome, first_failure, outcome, randn, seeded,
                                   torch_sgd_step)
from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, GradientComparison, compare,
                               compare_gradients, error_floor, numerical_gradient, verdict)
from helpers.layers import BCELoss, Identity, Layer, Linear, MLP, MSELoss, ReLU, Sigmoid, Tanh
from helpers.models.twins import torch_twin

NOTEBOOK = "02_manual_backprop_mlp"


# =============================================================================================================
# 1. References
# =============================================================================================================

# torch's own activations (never this package's math)
TORCH_ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda t: t}


def vjp(function, inputs: tuple, upstream: torch.Tensor) -> tuple:
    """Autograd's vector-Jacobian product: the gradients of ``(function(*inputs) * upstream).sum()`` with respect
    to each input (shapes of the inputs; ``upstream`` shaped like the output), also under ``torch.no_grad``."""
    leaves = tuple(tensor.detach().clone().requires_grad_(True) for tensor in inputs)
    with torch.enable_grad():
        weighted = (function(*leaves) * upstream).sum()
    # The scalar form gives the same numbers (sum's and mul's backward pass ``upstream`` on exactly), and unlike
    # grad_outputs it does not make autograd import sympy (0.7 s in every freshly forked check).
    return torch.autograd.grad(weighted, leaves)


def linear_backward_reference(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, input_grad: bool = True):
    """grad_out (N, d_out), x (N, d_in), weight (d_in, d_out) -> (grad_x or None, grad_weight, grad_bias)."""
    bias = torch.zeros(weight.shape[1], dtype=weight.dtype, device=weight.device)
    grad_x, grad_weight, grad_bias = vjp(lambda x, w, b: x @ w + b, (x, weight, bias), grad_out)
    return (grad_x if input_grad else None), grad_weight, grad_bias


def linear_backward_loops_reference(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor):
    """As :func:`linear_backward_reference` (its loop version returns all three gradients)."""
    return linear_backward_reference(grad_out, x, weight)


def relu_backward_reference(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``torch.relu`` at x = y (relu(y) = y where y >= 0, and the same 0 at the kink)."""
    return vjp(torch.relu, (y,), grad_y)[0]


def sigmoid_backward_reference(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``torch.sigmoid`` at x = logit(y)."""
    return vjp(torch.sigmoid, (torch.logit(y),), grad_y)[0]


def tanh_backward_reference(grad_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``torch.tanh`` at x = atanh(y)."""
    return vjp(torch.tanh, (torch.atanh(y),), grad_y)[0]


def mse_backward_reference(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``F.mse_loss`` (mean over all elements)."""
    return vjp(lambda prediction: F.mse_loss(prediction, y), (y_hat,), torch.ones((), dtype=y_hat.dtype))[0]


def bce_backward_reference(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vjp of ``F.binary_cross_entropy`` (mean over all elements; torch clamps as :func:`helpers.layers.bce`)."""
    return vjp(lambda prediction: F.binary_cross_entropy(prediction, y), (y_hat,),
               torch.ones((), dtype=y_hat.dtype))[0]


def sgd_step_reference(layer) -> None:
    """``Linear.sgd_step`` by torch's SGD on the layer's weight (d_in, d_out) and bias (d_out,), in place."""
    torch_sgd_step([layer.weight, layer.bias], [layer.grad_weight, layer.grad_bias], [None, None], lr=layer.lr)


def _nyu_forward(net, x: torch.Tensor, **parameters: torch.Tensor) -> dict[str, torch.Tensor]:
    """The NYU net's forward pass with ``F.linear`` and torch's activations: the cache's tensors by name."""
    f, g = TORCH_ACTIVATIONS[net.f_function], TORCH_ACTIVATIONS[net.g_function]
    z1 = F.linear(x, parameters["W1"], parameters["b1"])
    h = f(z1)
    z2 = F.linear(h, parameters["W2"], parameters["b2"])
    return dict(x=x, z1=z1, h=h, z2=z2, y_hat=g(z2))


def mlp_forward_reference(net, x: torch.Tensor) -> torch.Tensor:
    """``mlp.MLP.forward``: x (batch, in1) -> y_hat (batch, out2), cache and record kept as the exercise does."""
    net._check_input(x)
    cache = _nyu_forward(net, x, **net.parameters)
    net._keep(cache)
    return cache["y_hat"]


def mlp_backward_reference(net, dJdy_hat: torch.Tensor) -> None:
    """``mlp.MLP.backward``: vjp of the torch forward at the cached input; fills ``net.grads``."""
    net._check_backward(dJdy_hat)
    names = ("W1", "b1", "W2", "b2")

    def y_hat(*values):
        return _nyu_forward(net, net.cache["x"], **dict(zip(names, values)))["y_hat"]
    gradients = vjp(y_hat, tuple(net.parameters[name] for name in names), dJdy_hat)
    net.grads.update({f"dJd{name}": gradient for name, gradient in zip(names, gradients)})


def local_derivative_reference(name: str, z: torch.Tensor) -> torch.Tensor:
    """:func:`helpers.two_layer_theory.local_derivative` by autograd (each entry's derivative: the gradient of the sum)."""
    leaf = z.detach().clone().requires_grad_(True)
    (slope,) = torch.autograd.grad(theory.ELEMENTWISE[name](leaf).sum(), leaf)
    return slope


def loss_row_gradient_reference(loss: str, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:func:`helpers.two_layer_theory.loss_row_gradient` by autograd of :func:`loss_value`, transposed into a row."""
    leaf = y_hat.detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(theory.loss_value(loss, leaf, y), leaf)
    return gradient.T


def jacobians_reference(table: theory.ForwardTable, y: torch.Tensor, f: str, g: str, loss: str) -> dict[str, torch.Tensor]:
    """:func:`helpers.two_layer_theory.jacobians` by ``torch.autograd.functional.jacobian`` of f at z1, g at z3 and the loss at y_hat
    (flattened to vectors, so the Jacobians are plain matrices)."""
    jacobian = torch.autograd.functional.jacobian
    return {"dz2/dz1": jacobian(lambda z: theory.ELEMENTWISE[f](z), table.z1.flatten()),
            "dy_hat/dz3": jacobian(lambda z: theory.ELEMENTWISE[g](z), table.z3.flatten()),
            "dl/dy_hat": jacobian(lambda v: theory.loss_value(loss, v[:, None], y), table.y_hat.flatten())[None, :]}


def numerator_layout_gradients_reference(params: dict[str, torch.Tensor], table: theory.ForwardTable,
                                         jac: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """:func:`helpers.two_layer_theory.numerator_layout_gradients` by autograd: the net linearised at the sample (f and g replaced by
    their Jacobians in ``jac``, the loss by dl/dy_hat), whose gradients there are the net's; transposed."""
    leaves = {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}
    z1 = leaves["W1"] @ table.x + leaves["b1"]
    z2 = table.z2 + jac["dz2/dz1"] @ (z1 - table.z1)
    z3 = leaves["W2"] @ z2 + leaves["b2"]
    linear_loss = (jac["dl/dy_hat"] @ jac["dy_hat/dz3"] @ z3).sum()
    names = ("dl/dz3", "dl/dz1", *theory.PARAMETERS)
    gradients = torch.autograd.grad(linear_loss, [z3, z1, *(leaves[name] for name in theory.PARAMETERS)])
    return {name: gradient.T for name, gradient in zip(names, gradients)}


BACKWARD_REFERENCES = {"relu": relu_backward_reference, "sigmoid": sigmoid_backward_reference,
                       "tanh": tanh_backward_reference, "mse": mse_backward_reference, "bce": bce_backward_reference}


# =============================================================================================================
# 2. The exercise checks
# =============================================================================================================

BATCH, D_IN, D_OUT = 5, 3, 4


def _linear_mistakes(grad_out: torch.Tensor) -> dict[str, dict]:
    """The common mistakes of a linear backward pass, per returned tensor (what each would have returned)."""
    batch = grad_out.shape[0]
    return {
        "grad_x": {"dL/dx was divided by the batch size (the 1/N belongs to the loss, not the layer)":
                   lambda g: g / batch, "sign error in dL/dx": lambda g: -g},
        "grad_weight": {"the weight gradient is transposed": lambda g: g.T,
                        "the weight gradient is averaged over the batch instead of summed (the 1/N belongs to "
                        "the loss)": lambda g: g / batch,
                        "sign error in the weight gradient": lambda g: -g},
        "grad_bias": {"the bias gradient is not summed over the batch (one row per example)": lambda g: grad_out,
                      "the bias gradient is averaged over the batch instead of summed": lambda g: g / batch,
                      "the bias gradient keeps only the first example": lambda g: grad_out[0],
                      "sign error in the bias gradient": lambda g: -g},
    }


def _linear_outcomes(label: str, student: tuple, expected: tuple, grad_out: torch.Tensor) -> list[CheckOutcome]:
    mistakes = _linear_mistakes(grad_out)
    names = ("grad_x", "grad_weight", "grad_bias")
    if not isinstance(student, tuple) or len(student) != 3:
        return [CheckOutcome(f"{label}: returns (grad_x, grad_weight, grad_bias)", False,
                             "return a tuple of the three gradients, in that order")]
    return [outcome(f"{label}: {name} against autograd", got, want, mistakes[name], what=name)
            for name, got, want in zip(names, student, expected)]


def check_linear_backward(code) -> list[CheckOutcome]:
    """Exercise 2.1: loops and vectorised, against autograd and central differences; a batch of one."""
    loops, linear_backward = (code.function(f"helpers.layers:{name}")
                              for name in ("linear_backward_loops", "linear_backward"))
    generator = seeded(21)
    x, weight, grad_out = randn(generator, BATCH, D_IN), randn(generator, D_IN, D_OUT), randn(generator, BATCH, D_OUT)
    expected = linear_backward_reference(grad_out, x, weight)
    outcomes = _linear_outcomes("loops", loops(grad_out, x, weight), expected, grad_out)
    vectorised = linear_backward(grad_out, x, weight)
    outcomes += _linear_outcomes("vectorised", vectorised, expected, grad_out)
    bias = randn(generator, D_OUT)
    work = {"x": x.clone(), "weight": weight.clone(), "bias": bias}
    scalar = lambda: (F.linear(work["x"], work["weight"].T, work["bias"]) * grad_out).sum()  # noqa: E731
    numerical = [numerical_gradient(scalar, work[name]) for name in ("x", "weight", "bias")]
    if isinstance(vectorised, tuple) and len(vectorised) == 3:
        outcomes.append(first_failure("vectorised: all three against central differences", [
            outcome(name, got, want, _linear_mistakes(grad_out)[name], tolerance=FINITE_DIFFERENCE_TOLERANCE, f_value=scalar().item(), what=name)
            for name, got, want in zip(("grad_x", "grad_weight", "grad_bias"), vectorised, numerical)]))
    single = linear_backward(grad_out[:1], x[:1], weight)
    outcomes += [first_failure("vectorised, a batch of one", _linear_outcomes(
        "batch of one", single, linear_backward_reference(grad_out[:1], x[:1], weight), grad_out[:1]))]
    no_input = linear_backward(grad_out, x, weight, input_grad=False)
    skipped = isinstance(no_input, tuple) and len(no_input) == 3 and no_input[0] is None
    outcomes.append(CheckOutcome("input_grad=False returns None for grad_x", skipped,
                                 "" if skipped else "when input_grad is False, return None in place of grad_x"))
    return outcomes


ACTIVATION_KINDS = ("relu", "sigmoid", "tanh")


def _activation_mistakes(kind: str, upstream: torch.Tensor, y: torch.Tensor, slope: torch.Tensor) -> dict:
    """``slope``: the activation's local derivative (the reference with an upstream of ones)."""
    mistakes = {"forgot to multiply by the upstream gradient (returned the local derivative alone)":
                lambda g: slope,
                "forgot the local derivative (returned the upstream gradient unchanged)": lambda g: upstream,
                "sign error": lambda g: -g}
    if kind == "relu":
        mistakes["the ReLU mask is inverted (the gradient passes where x < 0)"] = lambda g: upstream - g
    else:
        backward = BACKWARD_REFERENCES[kind]
        mistakes[f"the derivative was evaluated at the output, {kind}'(y), instead of at the input x"] = (
            lambda g: backward(upstream, getattr(torch, kind)(y)))
    if kind == "sigmoid":
        mistakes["used the derivative of tanh instead of the sigmoid's"] = lambda g: tanh_backward_reference(upstream, y)
    return mistakes


def check_activation_backward(code) -> list[CheckOutcome]:
    """Exercise 2.2: ReLU, sigmoid and tanh against autograd (ReLU with exact zeros: derivative 0 there) and
    central differences."""
    generator, outcomes = seeded(22), []
    x = randn(generator, 6, 4)
    x = torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)
    x[0, :2] = 0.0  # the kink: relu'(0) is taken as 0
    upstream = randn(generator, 6, 4)
    for kind in ACTIVATION_KINDS:
        y = getattr(torch, kind)(x)
        expected = BACKWARD_REFERENCES[kind](upstream, y)
        slope = BACKWARD_REFERENCES[kind](torch.ones_like(y), y)
        student = code.call(f"helpers.layers:{kind}_backward", upstream, y)
        outcomes.append(outcome(f"{kind}_backward against autograd", student, expected,
                                       _activation_mistakes(kind, upstream, y, slope), what=f"{kind}_backward"))
    smooth = x[1:].clone()
    for kind in ACTIVATION_KINDS:
        scalar = lambda: (getattr(torch, kind)(smooth) * upstream[1:]).sum()  # noqa: E731
        y = getattr(torch, kind)(smooth)
        slope = BACKWARD_REFERENCES[kind](torch.ones_like(y), y)
        student = code.call(f"helpers.layers:{kind}_backward", upstream[1:], y)
        outcomes.append(outcome(f"{kind}_backward against central differences", student,
                                       numerical_gradient(scalar, smooth),
                                       _activation_mistakes(kind, upstream[1:], y, slope),
                                       tolerance=FINITE_DIFFERENCE_TOLERANCE, f_value=scalar().item(), what=f"{kind}_backward"))
    return outcomes


def _loss_mistakes(y_hat: torch.Tensor, y: torch.Tensor, kind: str) -> dict:
    count, batch = y_hat.numel(), y_hat.shape[0]
    mistakes = {"missing 1/N: the loss is a mean over all entries": lambda g: g * count,
                "divided by the batch size instead of the number of entries (batch × outputs)":
                    lambda g: g * count / batch,
                "sign error: the residual's sign is flipped": lambda g: -g}
    if kind == "mse":
        mistakes["the factor 2 of the square's derivative is missing"] = lambda g: g / 2
    else:
        logits = torch.logit(y_hat)
        mistakes["returned the gradient at the logit (the sigmoid's slope cancelled) instead of at y_hat"] = (
            lambda g: vjp(lambda z: F.binary_cross_entropy_with_logits(z, y), (logits,),
                                    torch.ones((), dtype=g.dtype))[0])
    return mistakes


def check_loss_backward(code) -> list[CheckOutcome]:
    """Exercise 2.3: MSE and BCE against autograd and central differences; BCE at y_hat exactly 0 and 1."""
    generator = seeded(23)
    outcomes = []
    for kind, y_hat, y in (("mse", randn(generator, 4, 3), randn(generator, 4, 3)),
                           ("bce", torch.sigmoid(randn(generator, 4, 3)),
                            torch.rand(4, 3, dtype=torch.float64, generator=generator))):
        student = code.call(f"helpers.layers:{kind}_backward", y_hat, y)
        expected = BACKWARD_REFERENCES[kind](y_hat, y)
        outcomes.append(outcome(f"{kind}_backward against autograd", student, expected,
                                       _loss_mistakes(y_hat, y, kind), what=f"{kind}_backward"))
        torch_loss = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}[kind]
        work = y_hat.clone()
        outcomes.append(outcome(f"{kind}_backward against central differences", student,
                                       numerical_gradient(lambda: torch_loss(work, y), work),
                                       _loss_mistakes(y_hat, y, kind), tolerance=FINITE_DIFFERENCE_TOLERANCE, f_value=torch_loss(y_hat, y).item(), what=f"{kind}_backward"))
    saturated = torch.tensor([0.0, 1.0, 1e-30, 0.5], dtype=torch.float64)
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    student = code.call("helpers.layers:bce_backward", saturated, labels)
    finite = isinstance(student, torch.Tensor) and bool(torch.isfinite(student).all())
    outcomes.append(exact_outcome("bce_backward at y_hat exactly 0 and 1: torch's values, bit for bit", student,
                                  bce_backward_reference(saturated, labels), {}, "bce_backward") if finite else
                    CheckOutcome("bce_backward at y_hat exactly 0 and 1: torch's values, bit for bit", False,
                                 "inf or nan where y_hat is 0 or 1: clamp the divisor that vanishes there from "
                                 "below at BCE_EPSILON"))
    return outcomes


def _sgd_mistakes(name: str, start: torch.Tensor, gradient: torch.Tensor, lr: float) -> dict:
    """The SGD step's mistakes for one parameter (``start``: before the step; ``gradient``: shaped like it)."""
    return {"step in the wrong direction (+lr·grad)": lambda r: start + lr * gradient,
            "the learning rate is missing (the whole gradient subtracted)": lambda r: start - gradient,
            f"the {name} is not updated": lambda r: start}


NOT_IN_PLACE = ("the parameters were replaced by new tensors: update them in place, so every holder of a "
                "reference (optimisers, snapshots) sees the step")


def _stepped_grad_x_mistakes(grad_out: torch.Tensor, x: torch.Tensor, stepped_weight: torch.Tensor) -> dict:
    return {"dL/dx was computed with the weight after the step":
            lambda r: linear_backward_reference(grad_out, x, stepped_weight)[0]}


def check_sgd_step(code) -> list[CheckOutcome]:
    """Exercise 2.4: ``Linear.backward``'s SGD step against ``torch.optim.SGD`` (to a few ulp: another order of
    operations, ``w -= lr * g``, is as right), in place; the student's layer runs in the sandbox."""
    generator, lr = seeded(24), 0.1
    weight, bias = randn(generator, D_IN, D_OUT), randn(generator, D_OUT)
    x, grad_out = randn(generator, BATCH, D_IN), randn(generator, BATCH, D_OUT)
    ran = code.call("helpers.checks.nb02_mlp_sandbox:linear_backward_and_step", weight, bias, lr, x, grad_out)
    before = {"weight": weight, "bias": bias}
    _, grad_weight, grad_bias = linear_backward_reference(grad_out, x, weight)
    stepped = {"weight": weight.clone(), "bias": bias.clone()}
    torch_sgd_step(list(stepped.values()), [grad_weight, grad_bias], [None, None], lr=lr)
    outcomes = []
    for name, gradient in (("weight", grad_weight), ("bias", grad_bias)):
        outcomes.append(exact_outcome(f"{name} after backward: as torch.optim.SGD", ran[name], stepped[name],
                                      _sgd_mistakes(name, before[name], gradient, lr), f"the {name}"))
    in_place = bool(ran["weight_kept"]) and bool(ran["bias_kept"])
    outcomes.append(CheckOutcome("in place: the layer keeps its weight and bias tensors", in_place,
                                 "" if in_place else NOT_IN_PLACE))
    expected_x = linear_backward_reference(grad_out, x, weight)[0]
    outcomes.append(outcome("backward returns dL/dx from the weight before the step", ran["grad_x"], expected_x,
                            _stepped_grad_x_mistakes(grad_out, x, stepped["weight"]), what="dL/dx"))
    return outcomes


NYU_CASES = (("relu", "identity", "mse"), ("tanh", "sigmoid", "bce"), ("sigmoid", "tanh", "mse"))
TORCH_LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}


def _net(f: str, g: str, generator: torch.Generator) -> mlp.MLP:
    return mlp.MLP(3, 5, f, 5, 2, g, dtype=torch.float64, generator=generator)


def _reference_net(f: str, g: str, parameters: dict, x: torch.Tensor) -> mlp.MLP:
    """A trusted ``mlp.MLP`` with these parameters, its cache filled by the reference forward pass."""
    (out1, in1), (out2, in2) = parameters["W1"].shape, parameters["W2"].shape
    net = mlp.MLP(in1, out1, f, in2, out2, g, dtype=parameters["W1"].dtype)
    net.parameters = {name: t.clone() for name, t in parameters.items()}
    net.grads = {f"dJd{name}": torch.zeros_like(t) for name, t in parameters.items()}
    mlp_forward_reference(net, x)
    return net


def _reference_grads(net: mlp.MLP, dJdy_hat: torch.Tensor, f: str | None = None, g: str | None = None) -> dict:
    """The reference gradients of ``net`` at its cached input (optionally with f or g swapped: mistakes)."""
    twin = mlp.MLP.__new__(mlp.MLP)
    twin.__dict__.update(net.__dict__, f_function=f or net.f_function, g_function=g or net.g_function,
                         grads={name: torch.zeros_like(t) for name, t in net.grads.items()}, _record=None)
    mlp_backward_reference(twin, dJdy_hat)
    return twin.grads


def _grad_mistakes(name: str, net: mlp.MLP, dJdy_hat: torch.Tensor) -> dict:
    mistakes = {"the weight gradient is not transposed back to nn.Linear's (out, in) layout": lambda r: r.t(),
                "forgot the local derivative of g (the output activation)":
                    lambda r: _reference_grads(net, dJdy_hat, g="identity")[name],
                "forgot the local derivative of f (the hidden activation)":
                    lambda r: _reference_grads(net, dJdy_hat, f="identity")[name],
                "sign error": lambda r: -r}
    return mistakes


def _run(code, f: str, g: str, parameters: dict, x: torch.Tensor, dJdy_hat: torch.Tensor) -> dict:
    """The student's ``forward(x)`` then ``backward(dJdy_hat)`` in the sandbox (reference pieces inside)."""
    ran = code.call("helpers.checks.nb02_mlp_sandbox:nyu_forward_backward", f, g, parameters, x, dJdy_hat)
    if not isinstance(ran, dict) or not all(isinstance(ran.get(key), dict) for key in ("cache", "grads", "parameters")):
        raise TypeError("the MLP's cache, grads and parameters are not dicts of tensors")
    return ran


NYU_FORWARD_MISTAKES = {"f and g are swapped": lambda swapped, expected: swapped,
                        "g is not applied to the output": lambda swapped, expected: lambda r: expected["z2"]}
"""The forward pass's mistakes: each, given the swapped net's output function and the expected cache, makes
the mistake's model."""


BACKWARD_STEPPED = "backward changed the parameters: it only fills grads and takes no step"


def check_nyu_mlp(code) -> list[CheckOutcome]:
    """Exercise 2.5: forward and cache against torch, backward against autograd (three f, g, loss cases), and
    central differences of the MSE case; the student's ``MLP`` runs in the sandbox."""
    generator, outcomes = seeded(25), []
    for f, g, loss in NYU_CASES:
        parameters = dict(_net(f, g, generator).parameters)
        x = randn(generator, 4, 3)
        y = torch.rand(4, 2, dtype=torch.float64, generator=generator)
        net = _reference_net(f, g, parameters, x)
        expected = _nyu_forward(net, x, **parameters)
        dJdy_hat = vjp(lambda p: TORCH_LOSSES[loss](p, y), (expected["y_hat"],),
                                 torch.ones((), dtype=torch.float64))[0]
        ran = _run(code, f, g, parameters, x, dJdy_hat)
        swapped = lambda r, net=net, x=x: _nyu_forward(  # noqa: E731
            _swapped(net), x, **parameters)["y_hat"]
        outcomes.append(first_failure(f"f={f}, g={g}: forward output and cache against torch", [
            outcome("y_hat", ran["y_hat"], expected["y_hat"], {
                key: mistake(swapped, expected) for key, mistake in NYU_FORWARD_MISTAKES.items()}, what="y_hat"),
            *(outcome(f"cache['{key}']", ran["cache"].get(key), expected[key], what=f"cache['{key}']")
              for key in ("z1", "h", "z2"))]))
        wanted = _reference_grads(net, dJdy_hat)
        outcomes.append(first_failure(f"f={f}, g={g}, {loss}: grads against autograd", [
            outcome(name, ran["grads"].get(name), wanted[name], _grad_mistakes(name, net, dJdy_hat), what=name)
            for name in wanted]))
        after = ran["parameters"]
        unchanged = all(isinstance(after.get(name), torch.Tensor) and torch.equal(parameters[name], after[name])
                        for name in parameters)
        outcomes.append(CheckOutcome(f"f={f}, g={g}: backward leaves the parameters alone", unchanged,
                                     "" if unchanged else BACKWARD_STEPPED))
    outcomes.append(_nyu_finite_differences(code, generator))
    return outcomes


def _swapped(net: mlp.MLP):
    twin = mlp.MLP.__new__(mlp.MLP)
    twin.__dict__.update(net.__dict__, f_function=net.g_function, g_function=net.f_function)
    return twin


def _nyu_finite_differences(code, generator: torch.Generator) -> CheckOutcome:
    parameters = dict(_net("tanh", "identity", generator).parameters)
    x, y = randn(generator, 4, 3), randn(generator, 4, 2)
    work = {name: t.clone() for name, t in parameters.items()}
    net = _reference_net("tanh", "identity", parameters, x)
    objective = lambda: F.mse_loss(_nyu_forward(net, x, **work)["y_hat"], y)  # noqa: E731
    ran = _run(code, "tanh", "identity", parameters, x, mse_backward_reference(net.cache["y_hat"], y))
    value = objective().item()
    return first_failure("f=tanh, g=identity, mse: grads against central differences", [
        outcome(f"dJd{name}", ran["grads"].get(f"dJd{name}"), numerical_gradient(objective, parameter), {},
                       tolerance=FINITE_DIFFERENCE_TOLERANCE, f_value=value, what=f"dJd{name}") for name, parameter in work.items()])


def _fields(table: theory.ForwardTable) -> dict:
    """A forward table as data (the sandbox rebuilds the ``ForwardTable``)."""
    return {field.name: getattr(table, field.name) for field in dataclasses.fields(table)}


THEORY_CASES = (("5relu", "identity", "sse", "real"), ("tanh", "sigmoid", "sse", "binary"),
                ("tanh", "sigmoid", "bce", "binary"))


def _layout_mistakes(name: str, params: dict, table: theory.ForwardTable, jac: dict) -> dict:
    """The numerator-layout mistakes for the derivative ``name`` (each recomputes the reference with one
    Jacobian replaced by the identity, or transposes or negates it)."""
    def without(jacobian):
        def mistake(r):
            identity = torch.eye(jac[jacobian].shape[0], dtype=jac[jacobian].dtype)
            return numerator_layout_gradients_reference(params, table, {**jac, jacobian: identity})[name]
        return mistake
    return {"not in numerator layout: this is the transpose (PyTorch's .grad layout)": lambda r: r.T,
            "the Jacobian dy_hat/dz3 of g is missing from the chain": without("dy_hat/dz3"),
            "the Jacobian dz2/dz1 of f is missing from the chain": without("dz2/dz1"),
            "sign error": lambda r: -r}


LAYOUT_DIFFERENCE_MISTAKES = {"not in numerator layout: this is the transpose": lambda r: r.T}


def check_numerator_layout(code) -> list[CheckOutcome]:
    """Exercise 2.6: the six numerator-layout derivatives against autograd (three cases, the reference
    Jacobians given) and the parameters' against central differences."""
    outcomes = []
    for seed, (f, g, loss, target) in enumerate(THEORY_CASES):
        params, x, y = theory.random_problem(n=3, h=4, k=2, seed=(16, 13, 13)[seed], target=target)
        table = theory.forward_table(params, x, y, f, g, loss)
        jac = jacobians_reference(table, y, f, g, loss)
        student = code.call("helpers.checks.nb02_mlp_sandbox:numerator_layout_gradients", params, _fields(table), jac)
        expected = numerator_layout_gradients_reference(params, table, jac)
        checks = [outcome(name, student.get(name) if isinstance(student, dict) else None, want,
                          _layout_mistakes(name, params, table, jac), what=name) for name, want in expected.items()]
        outcomes.append(first_failure(f"f={f}, g={g}, {loss}: all six against autograd", checks))
        if seed == 0 and isinstance(student, dict):
            work = {name: p.clone() for name, p in params.items()}
            value = lambda: theory.forward_table(work, x, y, f, g, loss).loss  # noqa: E731
            outcomes.append(first_failure(f"f={f}, g={g}, {loss}: parameters against central differences", [
                outcome(name, student.get(name), numerical_gradient(value, work[name]).T, LAYOUT_DIFFERENCE_MISTAKES,
                               tolerance=FINITE_DIFFERENCE_TOLERANCE, f_value=value().item(), what=name) for name in theory.PARAMETERS]))
    return outcomes


def _derivative_mistakes(name: str, z: torch.Tensor) -> dict:
    return {"the factor 5 of 5 ReLU is missing": lambda r: r / 5,
            "returned the activation itself, not its derivative": lambda r: theory.ELEMENTWISE[name](z),
            "sign error": lambda r: -r}


def _row_gradient_mistakes(y: torch.Tensor) -> dict:
    return {"a column, not a row: numerator layout makes dl/dy_hat a (1, K) row": lambda r: r.T,
            "the factor 2 of the square is missing": lambda r: r / 2,
            "the 1/K of the BCE mean is missing": lambda r: r * len(y),
            "sign error": lambda r: -r}


JACOBIAN_MISTAKES = {"an element-wise function's Jacobian kept as a vector: it is a (diagonal) matrix":
                     lambda r: torch.diagonal(r)[:, None],
                     "an element-wise function's Jacobian kept as a row vector": lambda r: torch.diagonal(r)[None, :],
                     "a column, not a row": lambda r: r.T}


def check_jacobians_exercise(code) -> list[CheckOutcome]:
    """Exercise 2.7: each activation's derivative, each loss's row gradient, then the assembled Jacobians."""
    generator = seeded(27)
    z = randn(generator, 6, 1)
    z[0, 0] = 0.0  # a ReLU kink: derivative 0
    outcomes = [first_failure("local_derivative of 5relu, relu, tanh, sigmoid, identity against autograd", [
        outcome(name, code.call("helpers.two_layer_theory:local_derivative", name, z),
                local_derivative_reference(name, z), _derivative_mistakes(name, z), what=f"the derivative of {name}")
        for name in theory.ELEMENTWISE])]
    y_hat, y = torch.sigmoid(randn(generator, 3, 1)), (randn(generator, 3, 1) > 0).double()
    outcomes.append(first_failure("loss_row_gradient of sse and bce against autograd", [
        outcome(loss, code.call("helpers.two_layer_theory:loss_row_gradient", loss, y_hat, y),
                loss_row_gradient_reference(loss, y_hat, y), _row_gradient_mistakes(y), what=f"dl/dy_hat ({loss})")
        for loss in ("sse", "bce")]))
    for f, g, loss, target in THEORY_CASES:
        params, x, target_y = theory.random_problem(n=3, h=4, k=2, seed=70, target=target)
        table = theory.forward_table(params, x, target_y, f, g, loss)
        student = code.call("helpers.checks.nb02_mlp_sandbox:jacobians_on_reference_derivatives", _fields(table),
                            target_y, f, g, loss)
        expected = jacobians_reference(table, target_y, f, g, loss)
        outcomes.append(first_failure(f"jacobians, f={f}, g={g}, {loss}: the three matrices against autograd", [
            outcome(name, student.get(name) if isinstance(student, dict) else None, want, JACOBIAN_MISTAKES, what=name)
            for name, want in expected.items()]))
    return outcomes


# =============================================================================================================
# 3. The notebook's gradient-check demonstrations
# =============================================================================================================

DTYPE = torch.float64

LAYER_CLASSES = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "identity": Identity}
REFERENCE_LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}


@dataclass
class ThreeGradients:
    """The data of one row of the notebook's gradient tables: the analytic, autograd and central-difference
    gradients of one scalar ``f_value``, by tensor name. Its verdicts are :class:`helpers.gradcheck.GradientComparison`
    rows (:meth:`comparisons`), the lesson's one comparison type."""
    name: str
    analytic: dict[str, torch.Tensor]
    autograd: dict[str, torch.Tensor]
    numerical: dict[str, torch.Tensor]
    f_value: float  # the scalar differentiated: sets the finite differences' noise floor

    def comparisons(self, reference: str) -> list[GradientComparison]:
        """The analytic gradients against ``'autograd'`` or ``'numerical'``, under the one policy."""
        if reference == "autograd":
            return compare_gradients(self.analytic, self.autograd, AUTOGRAD_TOLERANCE)
        return compare_gradients(self.analytic, self.numerical, FINITE_DIFFERENCE_TOLERANCE, self.f_value)


def max_error(checks: list[ThreeGradients], reference: str) -> float:
    """The worst relative error of the analytic gradients against ``'autograd'`` or ``'numerical'``."""
    return max(row.max_relative_error for check in checks for row in check.comparisons(reference))


def all_pass(checks: list[ThreeGradients]) -> bool:
    """Every comparison of every check, against autograd and against central differences, passes."""
    return all(row.passed for check in checks for reference in ("autograd", "numerical")
               for row in check.comparisons(reference))


def away_from_kinks(x: torch.Tensor, margin: float = 1e-3) -> torch.Tensor:
    """``x`` with entries closer than ``margin`` to 0 pushed out to ``±margin`` (ReLU's kink)."""
    return torch.where(x.abs() < margin, torch.where(x < 0, -margin, margin), x)


def _autograd(f, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    leaves = {name: t.detach().clone().requires_grad_(True) for name, t in tensors.items()}
    f(**leaves).backward()
    return {name: leaf.grad for name, leaf in leaves.items()}


def _differenced(f, tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], float]:
    """Central differences of the scalar ``f()`` for every tensor, and ``f()`` itself."""
    return {name: numerical_gradient(f, t) for name, t in tensors.items()}, float(f())


def _layer_loss(layer: Layer, x: torch.Tensor, upstream: torch.Tensor):
    """``L = sum(layer(x) * G)`` with the layer in eval mode (a pure function of x and the parameters)."""
    def loss():
        layer.eval()
        out = layer.forward(x)
        layer.train()
        return (out * upstream).sum()
    return loss


def check_linear(batch: int, d_in: int, d_out: int, generator: torch.Generator) -> ThreeGradients:
    """``Linear`` (lr = 0, so backward leaves the parameters alone): dL/dx, dL/dweight, dL/dbias."""
    layer = Linear(d_in, d_out, lr=0.0, dtype=DTYPE, generator=generator)
    x, upstream = randn(generator, batch, d_in), randn(generator, batch, d_out)
    layer.forward(x)
    analytic = {"x": layer.backward(upstream), "weight": layer.grad_weight, "bias": layer.grad_bias}
    tensors = {"x": x, "weight": layer.weight, "bias": layer.bias}
    reference = _autograd(lambda x, weight, bias: ((x @ weight + bias) * upstream).sum(), tensors)
    return ThreeGradients(f"Linear({d_in}, {d_out}), batch {batch}", analytic, reference,
                          *_differenced(_layer_loss(layer, x, upstream), tensors))


def check_activation(kind: str, batch: int, width: int, generator: torch.Generator) -> ThreeGradients:
    """An activation layer ('relu', 'sigmoid', 'tanh', 'identity'): dL/dx."""
    layer = LAYER_CLASSES[kind]()
    x = away_from_kinks(randn(generator, batch, width))
    upstream = randn(generator, batch, width)
    layer.forward(x)
    analytic = {"x": layer.backward(upstream)}
    reference = _autograd(lambda x: (TORCH_ACTIVATIONS[kind](x) * upstream).sum(), {"x": x})
    return ThreeGradients(f"{type(layer).__name__}, batch {batch}", analytic, reference,
                          *_differenced(_layer_loss(layer, x, upstream), {"x": x}))


def loss_inputs(kind: str, batch: int, width: int, generator: torch.Generator):
    """Predictions and targets for a loss: any reals for 'mse'; probabilities in (0, 1) for 'bce'."""
    if kind == "mse":
        return randn(generator, batch, width), randn(generator, batch, width)
    y_hat = torch.sigmoid(randn(generator, batch, width))
    return y_hat, torch.rand(batch, width, dtype=DTYPE, generator=generator)


def check_loss(kind: str, batch: int, width: int, generator: torch.Generator) -> ThreeGradients:
    """``MSELoss`` or ``BCELoss``: dJ/dy_hat against ``F.mse_loss`` / ``F.binary_cross_entropy``."""
    loss = {"mse": MSELoss, "bce": BCELoss}[kind]()
    y_hat, y = loss_inputs(kind, batch, width, generator)
    loss.forward(y_hat, y)
    analytic = {"y_hat": loss.backward()}
    reference = _autograd(lambda y_hat: REFERENCE_LOSSES[kind](y_hat, y), {"y_hat": y_hat})

    def value():
        loss.eval()
        return loss.forward(y_hat, y)
    return ThreeGradients(f"{type(loss).__name__}, batch {batch}", analytic, reference,
                          *_differenced(value, {"y_hat": y_hat}))


def check_layers_mlp(batch: int, d_in: int, hid_dim: int, d_out: int, generator: torch.Generator) -> ThreeGradients:
    """The course ``MLP`` under MSE, against its ``nn.Sequential`` twin: dL/dX and every parameter."""
    model = MLP(d_in, d_out, hid_dim, lr=0.0, dtype=DTYPE, generator=generator)
    x, y = randn(generator, batch, d_in), randn(generator, batch, d_out)
    twin = torch_twin(model)
    loss_fn = MSELoss()
    loss_fn.forward(model.forward(x), y)
    analytic = {"X": model.backward(loss_fn.backward())}
    for name in ("layer1", "layer2", "layer3"):
        layer = getattr(model, name)
        analytic.update({f"{name}.weight": layer.grad_weight, f"{name}.bias": layer.grad_bias})
    x_leaf = x.clone().requires_grad_(True)
    F.mse_loss(twin(x_leaf), y).backward()
    reference = {"X": x_leaf.grad}
    for name, twin_layer in zip(("layer1", "layer2", "layer3"), twin[::2]):
        reference.update({f"{name}.weight": twin_layer.weight.grad.t(), f"{name}.bias": twin_layer.bias.grad})

    def value():
        model.eval()
        out = loss_fn.forward(model.forward(x), y)
        model.train()
        return out
    tensors = {"X": x, **model.parameters()}
    return ThreeGradients(f"MLP({d_in}, {d_out}, {hid_dim}), batch {batch}", analytic, reference,
                          *_differenced(value, tensors))


def nyu_reference(net: nyu.MLP, x: torch.Tensor, y: torch.Tensor, loss: str) -> dict[str, torch.Tensor]:
    """Autograd gradients (``dJdW1`` ...) of the NYU network's loss, built from ``F.linear`` and torch ops."""
    f, g = TORCH_ACTIVATIONS[net.f_function], TORCH_ACTIVATIONS[net.g_function]

    def objective(W1, b1, W2, b2):
        y_hat = g(F.linear(f(F.linear(x, W1, b1)), W2, b2))
        return REFERENCE_LOSSES[loss](y_hat, y)
    grads = _autograd(objective, net.parameters)
    return {f"dJd{name}": grad for name, grad in grads.items()}


def check_nyu(f_function: str, g_function: str, loss: str, batch: int, sizes: tuple[int, int, int],
              generator: torch.Generator) -> ThreeGradients:
    """The NYU ``MLP`` with activations ``f``, ``g`` under ``mse_loss`` or ``bce_loss`` (needs g = sigmoid)."""
    in1, hidden, out2 = sizes
    net = nyu.MLP(in1, hidden, f_function, hidden, out2, g_function, dtype=DTYPE, generator=generator)
    x = randn(generator, batch, in1)
    y = loss_inputs(loss, batch, out2, generator)[1]
    loss_fn = {"mse": nyu.mse_loss, "bce": nyu.bce_loss}[loss]
    net.clear_grad_and_cache()
    _, dJdy_hat = loss_fn(y, net.forward(x))
    net.backward(dJdy_hat)
    analytic = dict(net.grads)
    objective = lambda: loss_fn(y, net.forward(x))[0]  # noqa: E731 - re-evaluated at perturbed parameters
    numerical = {f"dJd{name}": numerical_gradient(objective, p) for name, p in net.parameters.items()}
    return ThreeGradients(f"f={f_function}, g={g_function}, {loss}", analytic,
                          nyu_reference(net, x, y, loss), numerical, float(objective()))


def entry_table(check: ThreeGradients, per_tensor: int = 2) -> str:
    """cs231n style: a few entries of each gradient, analytic next to numerical, and the verdict.

    Values are rounded to 4 significant digits; each entry's relative error (round-off level, so it varies
    between machines) is shown as its verdict under the policy of :mod:`helpers.gradcheck`.
    """
    lines = [f"{'entry':<12}  {'analytic':>11}  {'numerical':>11}  relative error"]
    for name, analytic in check.analytic.items():
        numerical = check.numerical[name]
        floor = error_floor(numerical, check.f_value)
        for i in range(min(per_tensor, analytic.numel())):
            a, n = analytic.reshape(-1)[i].item(), numerical.reshape(-1)[i].item()
            error = abs(a - n) / max(abs(a) + abs(n), floor)
            index = tuple(int(k) for k in np.unravel_index(i, tuple(analytic.shape)))
            lines.append(f"{name + str(list(index)):<12}  {a:>11.4g}  {n:>11.4g}  "
                         f"{verdict(error, FINITE_DIFFERENCE_TOLERANCE)}")
    return "\n".join(lines)


def summary_table(checks: list[ThreeGradients]) -> str:
    """One line per check, verdicts only (raw round-off errors vary between machines)."""
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  {'vs autograd':<13}  vs central differences"]
    for c in checks:
        auto = verdict(max_error([c], "autograd"), AUTOGRAD_TOLERANCE)
        num = verdict(max_error([c], "numerical"), FINITE_DIFFERENCE_TOLERANCE)
        lines.append(f"{c.name:<{width}}  {auto:<13}  {num}")
    return "\n".join(lines)


def check_formulas(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                   f: str, g: str, loss: str) -> list[GradientComparison]:
    """The hand formulas (transposed to ``.grad``'s layout: W1 (h, n), b1 (h, 1), W2 (K, h), b2 (K, 1)) against
    autograd and central differences under the bundle's gradient-check policy; float64 inputs shaped as for
    :func:`forward_table`. Returns 8 comparisons: 4 against autograd, then 4 against central differences."""
    table = theory.forward_table(params, x, y, f, g, loss)
    ours = theory.as_autograd_layout(theory.numerator_layout_gradients(params, table, theory.jacobians(table, y, f, g, loss)))
    leaves = {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}
    autograd = dict(zip(theory.PARAMETERS, torch.autograd.grad(theory.forward_table(leaves, x, y, f, g, loss).loss,
                                                        [leaves[name] for name in theory.PARAMETERS])))
    work = {name: p.detach().clone() for name, p in params.items()}
    def current_loss():
        return theory.forward_table(work, x, y, f, g, loss).loss
    value = current_loss().item()
    rows = [compare(f"{name} vs autograd", ours[name], autograd[name], AUTOGRAD_TOLERANCE) for name in theory.PARAMETERS]
    rows += [compare(f"{name} vs central differences", ours[name], numerical_gradient(current_loss, work[name]),
                     FINITE_DIFFERENCE_TOLERANCE, f_value=value) for name in theory.PARAMETERS]
    return rows


def check_jacobians(table: theory.ForwardTable, y: torch.Tensor, f: str, g: str, loss: str) -> list[GradientComparison]:
    """The three Jacobians of :func:`helpers.two_layer_theory.jacobians` against ``torch.autograd.functional.jacobian`` of f at z1,
    g at z3 and the loss at y_hat (flattened to vectors, so the Jacobians are plain matrices)."""
    ours, reference = theory.jacobians(table, y, f, g, loss), jacobians_reference(table, y, f, g, loss)
    return [compare(f"{name} vs autograd", ours[name], reference[name], AUTOGRAD_TOLERANCE) for name in ours]


# =============================================================================================================
# 4. The registry
# =============================================================================================================

# -- 2.8 the training loop, 2.9 the choice on validation and one test evaluation (CSE 849 q2) -------------------


def _twin_epoch(model: MLP, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch_size: int
                ) -> list[tuple[float, int]]:
    """One epoch of ``model`` (the course MLP) trained another way: its ``nn`` twin, autograd and torch's SGD on the
    mini-batches of ``batch_size`` rows of x (N, d_in), y (N, 1) taken in ``order`` (N,); the trained parameters
    are copied back into ``model``. Returns each mini-batch's (loss, rows)."""
    twin = torch_twin(model)
    parameters = list(twin.parameters())
    losses = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size].to(x.device)
        loss = F.mse_loss(twin(x[rows]), y[rows])
        gradients = torch.autograd.grad(loss, parameters)
        with torch.no_grad():
            torch_sgd_step(parameters, list(gradients), [None] * len(parameters), lr=model.lr)
        losses.append((loss.item(), len(rows)))
    with torch.no_grad():
        for layer, module in zip([l for l in model.layers if isinstance(l, Linear)],
                                 [m for m in twin if isinstance(m, torch.nn.Linear)]):
            layer.weight.copy_(module.weight.t())
            layer.bias.copy_(module.bias)
    return losses


def run_epoch_reference(model: MLP, loss_fn, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor,
                        batch_size: int) -> float:
    """``rainfall_fit.run_epoch`` computed another way (:func:`_twin_epoch`; the loss is the mean squared error,
    ``loss_fn`` is not used). x (N, d_in), y (N, 1), order (N,); returns the epoch's training MSE."""
    losses = _twin_epoch(model, x, y, order, batch_size)
    return sum(loss * rows for loss, rows in losses) / len(x)


def select_and_test_reference(runs: dict, test_mse) -> tuple:
    """``rainfall_fit.select_and_test`` written another way: sort the runs that improved by validation MSE, test
    the first. ``runs``: lr -> History; returns (History, float)."""
    ranked = sorted((history for history in runs.values() if history.best_epoch), key=lambda h: h.best_val_mse)
    if not ranked:
        raise RuntimeError("no run improved on its initial validation MSE (all diverged?): lower the learning rates")
    return ranked[0], test_mse(ranked[0])


TRAIN_SIZES = dict(rows=50, val_rows=20, hid_dim=8, lr=0.05, epochs=3, batch_size=16, seed=3)  # last batch: 2 rows


def _training_data() -> tuple[torch.Tensor, ...]:
    """x (50, 2), y (50,), x_val (20, 2), y_val (20,): a smooth target plus noise, float64."""
    generator = seeded(28)
    x, x_val = randn(generator, TRAIN_SIZES["rows"], 2), randn(generator, TRAIN_SIZES["val_rows"], 2)
    target = lambda points: torch.sin(2 * points[:, 0]) + 0.5 * points[:, 1] ** 2  # noqa: E731
    return x, target(x) + 0.1 * randn(generator, len(x)), x_val, target(x_val)


def _reference_curves(shuffled: bool = True) -> dict[str, torch.Tensor]:
    """The curves of TRAIN_SIZES' run by :func:`_twin_epoch`: ``train`` (epoch 0 the whole set's MSE, then each
    epoch's weighted mean), ``val``, and what two mistaken loops would record, ``last`` (the last mini-batch's
    loss) and ``unweighted`` (the mean of the mini-batch losses); ``shuffled=False``: batches in row order."""
    x, y, x_val, y_val = _training_data()
    sizes = TRAIN_SIZES
    # the seed the student's train_mlp is given, used as the procedure uses it (not a check input: no variant)
    model = MLP(2, 1, sizes["hid_dim"], sizes["lr"], dtype=torch.float64,
                generator=torch.Generator().manual_seed(sizes["seed"]))
    generator = torch.Generator().manual_seed(sizes["seed"])

    def mse_on(points, targets):
        with torch.no_grad():
            return F.mse_loss(torch_twin(model)(points).reshape(-1), targets).item()
    curves = {"train": [mse_on(x, y)], "val": [mse_on(x_val, y_val)], "last": [], "unweighted": []}
    for _ in range(sizes["epochs"]):
        order = torch.randperm(len(x), generator=generator)
        losses = _twin_epoch(model, x, y[:, None], order if shuffled else torch.arange(len(x)), sizes["batch_size"])
        curves["train"].append(sum(loss * rows for loss, rows in losses) / len(x))
        curves["last"].append(losses[-1][0])
        curves["unweighted"].append(sum(loss for loss, _ in losses) / len(losses))
        curves["val"].append(mse_on(x_val, y_val))
    curves["last"], curves["unweighted"] = curves["train"][:1] + curves["last"], curves["train"][:1] + curves["unweighted"]
    return {name: torch.tensor(values, dtype=torch.float64) for name, values in curves.items()}


LAST_BATCH_ONLY = "the epoch's training MSE is the last mini-batch's loss: average the losses over the whole epoch"
UNWEIGHTED_MEAN = ("the mean over mini-batches counts the smaller last batch like a full one: weight each batch's "
                   "loss by its number of rows, then divide by N")
IGNORES_ORDER = "the mini-batches do not follow the epoch's order (its shuffle): take the rows in `order`"
NO_UPDATE = ("the parameters never change: after each mini-batch's loss, pass the loss's gradient back through "
             "the model (model.backward)")
NOT_FALLING = "the curves do not fall over the epochs"
TRAINING_MISTAKES = (LAST_BATCH_ONLY, UNWEIGHTED_MEAN, IGNORES_ORDER, NO_UPDATE, NOT_FALLING)


def check_training(code) -> list[CheckOutcome]:
    """Exercise 2.8: the student's ``run_epoch`` inside ``train_mlp`` (the reference layers in place of 2.1-2.4's),
    its curves against :func:`_reference_curves`."""
    x, y, x_val, y_val = _training_data()
    run = code.call("helpers.checks.nb02_mlp_sandbox:training_curves_on_reference_layers", x, y, x_val, y_val,
                    **TRAIN_SIZES)
    student = {name: torch.tensor(run[name], dtype=torch.float64) for name in ("train_mse", "val_mse")}
    expected, unshuffled = _reference_curves(), _reference_curves(shuffled=False)
    train_mistakes = {LAST_BATCH_ONLY: lambda r: expected["last"], UNWEIGHTED_MEAN: lambda r: expected["unweighted"],
                      IGNORES_ORDER: lambda r: unshuffled["train"]}
    val_mistakes = {NO_UPDATE: lambda r: r[:1].expand_as(r), IGNORES_ORDER: lambda r: unshuffled["val"]}
    epochs = TRAIN_SIZES["epochs"]
    outcomes = [outcome(f"the training curve ({epochs} epochs): each epoch's MSE is the mean of its mini-batch "
                        "losses over the N rows, as nn + autograd + torch's SGD on the same batches",
                        student["train_mse"], expected["train"], train_mistakes, "your training curve"),
                outcome("the validation curve: after every epoch, the validation MSE of the same parameters as "
                        "nn + autograd + torch's SGD", student["val_mse"], expected["val"], val_mistakes,
                        "your validation curve")]
    falling = bool(len(student["val_mse"]) == epochs + 1 and student["train_mse"][-1] < student["train_mse"][0]
                   and student["val_mse"][-1] < student["val_mse"][0])
    return outcomes + [CheckOutcome("both curves fall: the last epoch below epoch 0", falling,
                                    "" if falling else NOT_FALLING)]


# Four runs where the validation MSE (of each run's best epoch), the test MSE, the training MSE and the last
# epoch's validation MSE each choose another run; 0.1 diverged in its first epoch.
SELECTION_RUNS = (
    dict(lr=0.003, train_mse=[5.0, 2.6, 1.9, 1.4], val_mse=[5.1, 2.7, 2.35, 2.31], best_epoch=3, best_val_mse=2.31),
    dict(lr=0.01, train_mse=[5.0, 2.4, 2.1, 1.9], val_mse=[5.1, 2.2, 2.3, 2.4], best_epoch=1, best_val_mse=2.2),
    dict(lr=0.03, train_mse=[5.0, 2.3, 2.0, 1.8], val_mse=[5.1, 2.5, 2.27, 2.26], best_epoch=3, best_val_mse=2.26),
    dict(lr=0.1, train_mse=[5.0, float("nan")], val_mse=[5.1, float("nan")], best_epoch=0, best_val_mse=float("inf"),
         diverged=True),
)
TEST_SCORES = (2.40, 2.38, 2.12, 9.0)  # the test MSE of each run's best epoch, in SELECTION_RUNS' order
CHOSEN_ON = {"validation": 0.01, "test": 0.03, "training": 0.003, "last epoch": 0.03, "diverged": 0.1}
SELECTED_ON_TEST = ("the choice used the test set: choose on validation MSE only, then evaluate the chosen run on "
                    "the test set, once")
SELECTED_ON_TRAINING = "chose by training MSE: the choice must be made on validation data"
SELECTED_ON_LAST_EPOCH = ("chose by the last epoch's validation MSE: compare each run's best epoch (best_val_mse), "
                          "whose parameters are the ones kept")
CHOSE_DIVERGED = "chose a run that never improved (best_epoch 0, it diverged): leave those out"
WRONG_CHOICE = "the chosen run is not the one with the lowest validation MSE"
NEVER_TESTED = "the test set was never evaluated: call test_mse on the chosen run"
TESTED_MORE_THAN_ONCE = "the test set was evaluated more than once: evaluate it once, after the choice"
TESTED_ANOTHER = "the test set was evaluated on a run other than the chosen one"
WRONG_SCORE = "the returned test MSE is not the one test_mse gave for the chosen run"
SELECTION_MISTAKES = (SELECTED_ON_TEST, SELECTED_ON_TRAINING, SELECTED_ON_LAST_EPOCH, CHOSE_DIVERGED, WRONG_CHOICE,
                      NEVER_TESTED, TESTED_MORE_THAN_ONCE, TESTED_ANOTHER, WRONG_SCORE)


def _choice_diagnosis(chosen, calls: list) -> str:
    if chosen == CHOSEN_ON["test"] and len(calls) > 1:
        return SELECTED_ON_TEST
    return {CHOSEN_ON["training"]: SELECTED_ON_TRAINING, CHOSEN_ON["last epoch"]: SELECTED_ON_LAST_EPOCH,
            CHOSEN_ON["diverged"]: CHOSE_DIVERGED}.get(chosen, WRONG_CHOICE)


def check_selection(code) -> list[CheckOutcome]:
    """Exercise 2.9: the student's ``select_and_test`` on :data:`SELECTION_RUNS`, with a test evaluator that counts
    its calls (in the sandbox: :func:`helpers.checks.nb02_mlp_sandbox.select_and_test_counted`)."""
    result = code.call("helpers.checks.nb02_mlp_sandbox:select_and_test_counted", list(SELECTION_RUNS),
                       list(TEST_SCORES))
    chosen, calls, score = result["chosen_lr"], list(result["calls"]), result["score"]
    right = chosen == CHOSEN_ON["validation"]
    outcomes = [CheckOutcome("chooses on validation data only: the run whose best epoch has the lowest validation "
                             "MSE (the test set, the training MSE and the last epoch would each choose another)",
                             right, "" if right else _choice_diagnosis(chosen, calls))]
    once = calls == [chosen]
    diagnosis = "" if once else (NEVER_TESTED if not calls else TESTED_MORE_THAN_ONCE if len(calls) > 1
                                 else TESTED_ANOTHER)
    outcomes.append(CheckOutcome("the test set is evaluated exactly once, on the chosen run", once, diagnosis))
    scores = dict(zip((run["lr"] for run in SELECTION_RUNS), TEST_SCORES))
    returned = isinstance(score, float) and score == scores.get(chosen)
    outcomes.append(CheckOutcome("returns the chosen run's test MSE", returned, "" if returned else WRONG_SCORE))
    return outcomes


def _diagnoses(*tables) -> tuple[str, ...]:
    """The keys of mistake tables, in order, each once (what the exercise table lists)."""
    return tuple(dict.fromkeys(key for table in tables for key in table))


_ONE = torch.full((2, 2), 0.5, dtype=torch.float64)  # any input: only the tables' keys are read
LINEAR_DIAGNOSES = _diagnoses(*_linear_mistakes(_ONE).values())
ACTIVATION_DIAGNOSES = _diagnoses(*(_activation_mistakes(kind, _ONE, _ONE, _ONE) for kind in ACTIVATION_KINDS))
LOSS_DIAGNOSES = _diagnoses(*(_loss_mistakes(_ONE, _ONE, kind) for kind in ("mse", "bce")))
NYU_DIAGNOSES = _diagnoses(NYU_FORWARD_MISTAKES, _grad_mistakes("dJdW1", None, None))
SGD_DIAGNOSES = _diagnoses(*(_sgd_mistakes(name, _ONE, _ONE, 0.1) for name in ("weight", "bias")),
                           _stepped_grad_x_mistakes(_ONE, _ONE, _ONE)) + (NOT_IN_PLACE,)
LAYOUT_DIAGNOSES = _diagnoses(_layout_mistakes("dl/dW1", None, None, None), LAYOUT_DIFFERENCE_MISTAKES)
JACOBIANS_DIAGNOSES = _diagnoses(_derivative_mistakes("relu", _ONE), _row_gradient_mistakes(_ONE), JACOBIAN_MISTAKES)

EXERCISES: tuple[Exercise, ...] = (
    Exercise("2.1", "the linear layer's backward pass: loops, then vectorised", NOTEBOOK,
             "CSE 849 project 1, §2.3.1 and tip 1", 3, ("helpers/layers.py",),
             ("linear_backward_loops", "linear_backward"), check_linear_backward, LINEAR_DIAGNOSES,
             forbid=("autograd", "references"),
             stand_ins={"helpers.layers:linear_backward": (linear_backward_reference, "autograd of the linear layer"),
                        "helpers.layers:linear_backward_loops": (linear_backward_loops_reference,
                                                                 "autograd of the linear layer")}),
    Exercise("2.2", "the activations' backward passes", NOTEBOOK, "CSE 849 project 1, §2.3.1; NYU HW1 §2.1", 2,
             ("helpers/layers.py",), ("relu_backward", "sigmoid_backward", "tanh_backward"),
             check_activation_backward, ACTIVATION_DIAGNOSES, forbid=("autograd", "references"),
             stand_ins={f"helpers.layers:{kind}_backward": (BACKWARD_REFERENCES[kind], f"autograd of torch.{kind}")
                        for kind in ACTIVATION_KINDS}),
    Exercise("2.3", "the losses' backward passes", NOTEBOOK, "CSE 849 project 1, §2.3.1 and tip 3; NYU HW1 §2.1", 2,
             ("helpers/layers.py",), ("mse_backward", "bce_backward"), check_loss_backward, LOSS_DIAGNOSES,
             forbid=("autograd", "references"),
             stand_ins={"helpers.layers:mse_backward": (mse_backward_reference, "autograd of F.mse_loss"),
                        "helpers.layers:bce_backward": (bce_backward_reference,
                                                        "autograd of F.binary_cross_entropy")}),
    Exercise("2.4", "the SGD step inside Linear.backward", NOTEBOOK, "CSE 849 project 1, §2.3.1", 1,
             ("helpers/layers.py",), ("Linear.sgd_step",), check_sgd_step,
             SGD_DIAGNOSES, forbid=("torch.optim", "references"),
             stand_ins={"helpers.layers:Linear.sgd_step": (sgd_step_reference, "torch's SGD step")}),
    Exercise("2.5", "mlp.py: the MLP's forward and backward from the pieces", NOTEBOOK, "NYU HW1 §2.1", 4,
             ("helpers/mlp.py",), ("MLP.forward", "MLP.backward"), check_nyu_mlp,
             NYU_DIAGNOSES + (BACKWARD_STEPPED,), forbid=("autograd", "references"),
             stand_ins={"helpers.mlp:MLP.forward": (mlp_forward_reference, "torch's F.linear and activations"),
                        "helpers.mlp:MLP.backward": (mlp_backward_reference, "autograd of the forward pass")}),
    Exercise("2.6", "the backward pass in numerator layout (NYU 1.2 c)", NOTEBOOK, "NYU HW1 §1.2 (c)", 3,
             ("helpers/two_layer_theory.py",), ("numerator_layout_gradients",), check_numerator_layout,
             LAYOUT_DIAGNOSES, forbid=("autograd", "references"),
             stand_ins={"helpers.two_layer_theory:numerator_layout_gradients": (
                 numerator_layout_gradients_reference, "autograd of the linearised net")}),
    Exercise("2.7", "the Jacobians of f, g and the loss (NYU 1.2 d, 1.3 a-b)", NOTEBOOK,
             "NYU HW1 §1.2 (d), §1.3 (a)-(b)", 3,
             ("helpers/two_layer_theory.py",), ("local_derivative", "loss_row_gradient", "jacobians"),
             check_jacobians_exercise, JACOBIANS_DIAGNOSES, forbid=("autograd", "references"),
             stand_ins={"helpers.two_layer_theory:local_derivative": (local_derivative_reference,
                                                                      "autograd of the activation"),
                        "helpers.two_layer_theory:loss_row_gradient": (loss_row_gradient_reference,
                                                                       "autograd of the loss"),
                        "helpers.two_layer_theory:jacobians": (jacobians_reference,
                                                               "torch.autograd.functional.jacobian")}),
    Exercise("2.8", "the training loop: one epoch, and the curves", NOTEBOOK,
             "CSE 849 project 1, §2.2 and §2.3.3 (train, plot training and validation losses)", 3,
             ("helpers/experiments/rainfall_fit.py",), ("run_epoch",), check_training, TRAINING_MISTAKES,
             forbid=("autograd", "torch.optim", "references"),
             stand_ins={"helpers.experiments.rainfall_fit:run_epoch": (run_epoch_reference,
                                                                       "nn twin + autograd + torch's SGD")}),
    Exercise("2.9", "the model chosen on validation, then the test set once", NOTEBOOK,
             "CSE 849 project 1, §4.1 q2 (best model on validation error, run on the test data)", 2,
             ("helpers/experiments/rainfall_fit.py",), ("select_and_test",), check_selection, SELECTION_MISTAKES,
             forbid=("references",),
             stand_ins={"helpers.experiments.rainfall_fit:select_and_test": (select_and_test_reference,
                                                                             "the reference choice")}),
)
