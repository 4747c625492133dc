"""Checks of notebook 00's exercises that the student writes in a notebook cell: 0.1, the CS-587 part A
regression loop with autograd, and the CS475 gradients by hand, 0.4 (task 1), 0.5 (task 2) and 0.7 (task 5).

The cell's code runs in the sandbox as the module ``__notebook__`` (``code.call("__notebook__:fit_line", ...)``);
:func:`helpers.checks.harness_scalar.prepare_notebook` first gives it the names the notebook's first cell
imports. The loop is compared with ``torch.optim.SGD``; the hand
gradients with torch autograd in float64 and with central differences. A mistake's result is computed by
the same torch expression with the mistake made (an edge of the graph cut with ``detach``, a term dropped).
The stand-ins the notebook uses meanwhile are in :mod:`helpers.scalar_references`.
"""
from __future__ import annotations

import torch

from helpers.checks.toolkit import CheckOutcome
from helpers.checks.scalar_check_tools import (autograd_dict, central_difference_outcome, dict_outcome, guarded,
                                               outcome)
from helpers.scalar_references import TWO_NEURON_NAMES, fit_line_reference, line_loss

FIT_TOLERANCE = 1e-5  # float32 round-off of 100 steps (operation order inside torch.optim.SGD differs)


def _fit_case(fit_line, x, y, steps, learning_rate, zero_grad, title) -> list[CheckOutcome]:
    W, b, losses = fit_line(x, y, steps=steps, learning_rate=learning_rate, zero_grad=zero_grad)
    run = lambda **mistake: fit_line_reference(x, y, steps, learning_rate, zero_grad, **mistake)
    final = lambda result: torch.stack([result[0].detach(), result[1].detach()])
    mistakes = {"gradients never zeroed: every step follows the running sum of past gradients":
                    lambda _: final(fit_line_reference(x, y, steps, learning_rate, False)),
                "the step goes in the wrong direction (gradient ascent)": lambda _: final(run(ascent=True)),
                "sum of squared errors instead of their mean (the 1/N is missing)": lambda _: final(run(reduction="sum"))}
    reference = run()
    results = [outcome(f"{title}: W and b vs torch.optim.SGD", final((W, b)), final(reference), mistakes,
                       "(W, b)", FIT_TOLERANCE)]
    shifted = fit_line_reference(x, y, steps + 1, learning_rate, zero_grad)[2][1:]
    results.append(outcome(f"{title}: the loss before every step", torch.tensor(losses, dtype=torch.float64),
                           torch.tensor(reference[2], dtype=torch.float64),
                           {"the loss is recorded after the update instead of before it":
                                lambda _: torch.tensor(shifted, dtype=torch.float64)}, "the list of losses",
                           FIT_TOLERANCE))
    return results


def _notebook_function(code, name: str):
    """The notebook's ``name`` in the sandbox (its cells get the names of the notebook's first cell)."""
    code.call("helpers.checks.harness_scalar:prepare_notebook")
    return code.function(f"__notebook__:{name}")


def check_fit_line(code) -> list[CheckOutcome]:
    """Exercise 0.1: ``fit_line(x, y, steps, learning_rate, zero_grad) -> (W, b, losses)``."""
    fit_line = _notebook_function(code, "fit_line")
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    y = 1 - x
    generator = torch.Generator().manual_seed(14)
    x5 = torch.randn(5, dtype=torch.float64, generator=generator)
    y5 = torch.randn(5, dtype=torch.float64, generator=generator)
    outcomes = _fit_case(fit_line, x, y, 100, 0.01, True, "the CS-587 data, 100 steps")
    outcomes += [guarded("other data", lambda: _fit_case(fit_line, x5, y5, 7, 0.05, True, "5 other points, 7 steps")[0]),
                 guarded("no zeroing", lambda: _fit_case(fit_line, x, y, 5, 0.01, False, "zero_grad=False")[0])]

    def leaves() -> CheckOutcome:
        facts = code.call("helpers.checks.harness_scalar:fit_line_parameters", x, y, 2, 0.01, True)
        ok = all(facts[p]["tensor"] and facts[p]["is_leaf"] and facts[p]["requires_grad"] for p in ("W", "b"))
        return CheckOutcome("W and b stay leaves that require grad (the updates are not recorded)", ok,
                            "" if ok else "the update was recorded in the graph: update inside torch.no_grad(), "
                                          "in place")
    return outcomes + [guarded("leaves", leaves)]


# ---- CS475 by hand -------------------------------------------------------------------------------------

def _exp_log(x, b, w, cut=""):
    first = w * torch.exp(b * (x.detach() if cut == "x:exp" else x))
    second = torch.log((w.detach() if cut == "w:log" else w) * (x.detach() if cut == "x:log" else x))
    if cut == "w:exp":
        first = w.detach() * torch.exp(b * x)
    outer = b.detach() if cut == "b:outer" else b
    return (first + second) * outer


def _hand_gradients_check(function, reference_function, points, mistakes) -> list[CheckOutcome]:
    outcomes = []
    for k, point in enumerate(points, 1):
        student = function(**point)
        reference = autograd_dict(reference_function, **point)
        where = ", ".join(f"{n} = {v:g}" for n, v in point.items())
        outcomes.append(guarded(f"point {k}", lambda: dict_outcome(f"at {where}: vs torch autograd (float64)",
                                                                   student, reference, mistakes(point))))
    outcomes.append(guarded("central differences", lambda: central_difference_outcome(
        f"at {where}: vs central differences", student, reference_function, **point)))
    return outcomes


def check_line_loss_gradients(code) -> list[CheckOutcome]:
    """Exercise 0.4 (CS475 task 1): ``line_loss_gradients(w, x, b, y) -> {"w", "x", "b", "y": float}``."""
    line_loss_gradients = _notebook_function(code, "line_loss_gradients")
    points = ({"w": 0.5, "x": 2.0, "b": -0.3, "y": 1.2}, {"w": -1.5, "x": 0.4, "b": 2.0, "y": -0.7})

    def mistakes(point):
        return {"the factor 2 from the square is missing": lambda g: {k: v / 2 for k, v in g.items()},
                "sign error (the residual written as y - (wx + b))": lambda g: {k: -v for k, v in g.items()},
                "the inner derivative is missing (in ∂L/∂w and ∂L/∂x)": lambda g: {"w": g["b"], "x": g["b"]}}
    return _hand_gradients_check(line_loss_gradients, line_loss, points, mistakes)


def check_exp_log_gradients(code) -> list[CheckOutcome]:
    """Exercise 0.5 (CS475 task 2): ``exp_log_gradients(x, b, w) -> {"x", "b", "w": float}``."""
    exp_log_gradients = _notebook_function(code, "exp_log_gradients")
    points = ({"x": 0.5, "b": 0.3, "w": 1.5}, {"x": 1.7, "b": -0.6, "w": 0.4})

    def mistakes(point):
        cut = lambda which, name: autograd_dict(lambda **t: _exp_log(**t, cut=which), **point)[name]
        return {"∂f/∂w keeps only the path through exp(bx)": lambda g: {"w": cut("w:log", "w")},
                "∂f/∂w keeps only the path through ln(wx)": lambda g: {"w": cut("w:exp", "w")},
                "∂f/∂x keeps only the path through exp(bx)": lambda g: {"x": cut("x:log", "x")},
                "∂f/∂x keeps only the path through ln(wx)": lambda g: {"x": cut("x:exp", "x")},
                "∂f/∂b misses a term of the product rule": lambda g: {"b": cut("b:outer", "b")}}
    return _hand_gradients_check(exp_log_gradients, _exp_log, points, mistakes)


def _two_neurons(y, w1, x, b1, w2, b2, lam, decay_scale=1.0, hidden_slope=True):
    pre = w1 * x + b1
    hidden = torch.sigmoid(pre) if hidden_slope else pre + (torch.sigmoid(pre) - pre).detach()
    return (y - torch.sigmoid(w2 * hidden + b2)) ** 2 + decay_scale * lam * (w1 ** 2 + w2 ** 2)


def check_two_neuron_gradients(code) -> list[CheckOutcome]:
    """Exercise 0.7 (CS475 task 5): ``two_neuron_gradients(values) -> dict`` with the keys of ``values``:
    y, w₁, x, b₁, w₂, b₂, λ (floats)."""
    two_neuron_gradients = _notebook_function(code, "two_neuron_gradients")
    points = ({"y": 1.0, "w1": 0.5, "x": 1.2, "b1": -0.3, "w2": 0.8, "b2": 0.1, "lam": 0.01},
              {"y": -0.5, "w1": -1.1, "x": 0.3, "b1": 0.4, "w2": 1.7, "b2": -0.6, "lam": 0.2})
    rename = lambda g: {TWO_NEURON_NAMES[k]: v for k, v in g.items()}

    def mistakes(point):
        variant = lambda **options: rename(autograd_dict(lambda **t: _two_neurons(**t, **options), **point))
        weights = lambda g: {k: g[k] for k in ("w₁", "w₂")}
        return {"the weight-decay term is missing from ∂f/∂w": lambda g: weights(variant(decay_scale=0.0)),
                "the weight decay's factor 2 is missing": lambda g: weights(variant(decay_scale=0.5)),
                "the hidden unit's σ' is missing (δ₁ without its local gradient)":
                    lambda g: {k: v for k, v in variant(hidden_slope=False).items() if k in ("w₁", "b₁", "x")}}
    outcomes = []
    for k, point in enumerate(points, 1):
        student = two_neuron_gradients({TWO_NEURON_NAMES[n]: v for n, v in point.items()})
        reference = rename(autograd_dict(_two_neurons, **point))
        outcomes.append(guarded(f"point {k}", lambda: dict_outcome(f"point {k}: vs torch autograd (float64)",
                                                                   student, reference, mistakes(point))))
    return outcomes
