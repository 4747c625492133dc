"""The checks of notebook 02's layer exercises: 2.1 the linear layer's backward pass (loops, then vectorised),
2.2 the activations' backward passes, 2.3 the losses' backward passes, 2.4 the SGD step of ``Linear``.

Every reference comes from :mod:`helpers.backprop_references` (``torch.func.vjp`` of torch's own ops,
``torch.optim.SGD``), every input is float64 from a fixed seed, and a failed comparison is diagnosed by
the mistake its result matches. The check of 2.4 runs ``Linear.backward`` with the reference
``linear_backward`` in place of the student's (:mod:`.harness_mlp`), so a mistake of exercise 2.1 never fails
exercise 2.2-2.4. The student's code runs in the sandbox (``code``, a
:class:`helpers.checks.sandbox.StudentCode`); every reference is computed here.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers import backprop_references as reference
from helpers.checks.exercise_outcomes import exact_outcome, first_failure, randn, seeded, tensor_outcome
from helpers.checks.toolkit import CheckOutcome
from helpers.gradcheck import FINITE_DIFFERENCE_TOLERANCE, numerical_gradient

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
    return [tensor_outcome(f"{label}: {name} against autograd", got, want, mistakes[name], what=name)
            for name, got, want in zip(names, student, expected)]


def check_linear_backward(code) -> list[CheckOutcome]:
    """Exercise 2.1: loops and vectorised, against autograd and central differences; a batch of one."""
    loops, linear_backward = (code.function(f"helpers.functional:{name}")
                              for name in ("linear_backward_loops", "linear_backward"))
    generator = seeded(21)
    x, weight, grad_out = randn(generator, BATCH, D_IN), randn(generator, D_IN, D_OUT), randn(generator, BATCH, D_OUT)
    expected = reference.linear_backward(grad_out, x, weight)
    outcomes = _linear_outcomes("loops", loops(grad_out, x, weight), expected, grad_out)
    vectorised = linear_backward(grad_out, x, weight)
    outcomes += _linear_outcomes("vectorised", vectorised, expected, grad_out)
    bias = randn(generator, D_OUT)
    work = {"x": x.clone(), "weight": weight.clone(), "bias": bias}
    scalar = lambda: (F.linear(work["x"], work["weight"].T, work["bias"]) * grad_out).sum()  # noqa: E731
    numerical = [numerical_gradient(scalar, work[name]) for name in ("x", "weight", "bias")]
    if isinstance(vectorised, tuple) and len(vectorised) == 3:
        outcomes.append(first_failure("vectorised: all three against central differences", [
            tensor_outcome(name, got, want, _linear_mistakes(grad_out)[name], FINITE_DIFFERENCE_TOLERANCE,
                           scalar().item(), name)
            for name, got, want in zip(("grad_x", "grad_weight", "grad_bias"), vectorised, numerical)]))
    single = linear_backward(grad_out[:1], x[:1], weight)
    outcomes += [first_failure("vectorised, a batch of one", _linear_outcomes(
        "batch of one", single, reference.linear_backward(grad_out[:1], x[:1], weight), grad_out[:1]))]
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
        backward = getattr(reference, f"{kind}_backward")
        mistakes[f"the derivative was evaluated at the output, {kind}'(y), instead of at the input x"] = (
            lambda g: backward(upstream, getattr(torch, kind)(y)))
    if kind == "sigmoid":
        mistakes["used the derivative of tanh instead of the sigmoid's"] = lambda g: reference.tanh_backward(upstream, y)
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
        expected = getattr(reference, f"{kind}_backward")(upstream, y)
        slope = getattr(reference, f"{kind}_backward")(torch.ones_like(y), y)
        student = code.call(f"helpers.functional:{kind}_backward", upstream, y)
        outcomes.append(tensor_outcome(f"{kind}_backward against autograd", student, expected,
                                       _activation_mistakes(kind, upstream, y, slope), what=f"{kind}_backward"))
    smooth = x[1:].clone()
    for kind in ACTIVATION_KINDS:
        scalar = lambda: (getattr(torch, kind)(smooth) * upstream[1:]).sum()  # noqa: E731
        y = getattr(torch, kind)(smooth)
        slope = getattr(reference, f"{kind}_backward")(torch.ones_like(y), y)
        student = code.call(f"helpers.functional:{kind}_backward", upstream[1:], y)
        outcomes.append(tensor_outcome(f"{kind}_backward against central differences", student,
                                       numerical_gradient(scalar, smooth),
                                       _activation_mistakes(kind, upstream[1:], y, slope),
                                       FINITE_DIFFERENCE_TOLERANCE, scalar().item(), f"{kind}_backward"))
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
            lambda g: reference.vjp(lambda z: F.binary_cross_entropy_with_logits(z, y), (logits,),
                                    torch.ones((), dtype=g.dtype))[0])
    return mistakes


def check_loss_backward(code) -> list[CheckOutcome]:
    """Exercise 2.3: MSE and BCE against autograd and central differences; BCE at y_hat exactly 0 and 1."""
    generator = seeded(23)
    outcomes = []
    for kind, y_hat, y in (("mse", randn(generator, 4, 3), randn(generator, 4, 3)),
                           ("bce", torch.sigmoid(randn(generator, 4, 3)),
                            torch.rand(4, 3, dtype=torch.float64, generator=generator))):
        student = code.call(f"helpers.functional:{kind}_backward", y_hat, y)
        expected = getattr(reference, f"{kind}_backward")(y_hat, y)
        outcomes.append(tensor_outcome(f"{kind}_backward against autograd", student, expected,
                                       _loss_mistakes(y_hat, y, kind), what=f"{kind}_backward"))
        torch_loss = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}[kind]
        work = y_hat.clone()
        outcomes.append(tensor_outcome(f"{kind}_backward against central differences", student,
                                       numerical_gradient(lambda: torch_loss(work, y), work),
                                       _loss_mistakes(y_hat, y, kind), FINITE_DIFFERENCE_TOLERANCE,
                                       torch_loss(y_hat, y).item(), f"{kind}_backward"))
    saturated = torch.tensor([0.0, 1.0, 1e-30, 0.5], dtype=torch.float64)
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    student = code.call("helpers.functional:bce_backward", saturated, labels)
    finite = isinstance(student, torch.Tensor) and bool(torch.isfinite(student).all())
    outcomes.append(exact_outcome("bce_backward at y_hat exactly 0 and 1: torch's values, bit for bit", student,
                                  reference.bce_backward(saturated, labels), {}, "bce_backward") if finite else
                    CheckOutcome("bce_backward at y_hat exactly 0 and 1: torch's values, bit for bit", False,
                                 "inf or nan where y_hat is 0 or 1: clamp the divisor that vanishes there from "
                                 "below at BCE_EPSILON"))
    return outcomes


def check_sgd_step(code) -> list[CheckOutcome]:
    """Exercise 2.4: ``Linear.backward``'s SGD step against ``torch.optim.SGD`` (to a few ulp: another order of
    operations, ``w -= lr * g``, is as right), in place; the student's layer runs in the sandbox."""
    generator, lr = seeded(24), 0.1
    weight, bias = randn(generator, D_IN, D_OUT), randn(generator, D_OUT)
    x, grad_out = randn(generator, BATCH, D_IN), randn(generator, BATCH, D_OUT)
    ran = code.call("helpers.checks.harness_mlp:linear_backward_and_step", weight, bias, lr, x, grad_out)
    before = {"weight": weight, "bias": bias}
    _, grad_weight, grad_bias = reference.linear_backward(grad_out, x, weight)
    stepped = {"weight": weight.clone(), "bias": bias.clone()}
    reference.torch_sgd(list(stepped.values()), [grad_weight, grad_bias], lr)
    outcomes = []
    for name, gradient in (("weight", grad_weight), ("bias", grad_bias)):
        start = before[name]
        mistakes = {"step in the wrong direction (+lr·grad)": lambda r, s=start, g=gradient: s + lr * g,
                    "the learning rate is missing (the whole gradient subtracted)": lambda r, s=start, g=gradient: s - g,
                    f"the {name} is not updated": lambda r, s=start: s}
        outcomes.append(exact_outcome(f"{name} after backward: as torch.optim.SGD", ran[name], stepped[name],
                                      mistakes, f"the {name}"))
    in_place = bool(ran["weight_kept"]) and bool(ran["bias_kept"])
    outcomes.append(CheckOutcome("in place: the layer keeps its weight and bias tensors", in_place,
                                 "" if in_place else "the parameters were replaced by new tensors: update them in "
                                 "place, so every holder of a reference (optimisers, snapshots) sees the step"))
    expected_x = reference.linear_backward(grad_out, x, weight)[0]
    outcomes.append(tensor_outcome("backward returns dL/dx from the weight before the step", ran["grad_x"], expected_x,
                                   {"dL/dx was computed with the weight after the step": lambda r: reference.linear_backward(
                                       grad_out, x, stepped["weight"])[0]}, what="dL/dx"))
    return outcomes
