

"""Notebook 00's checks (computational graphs, exercises 0.1–0.12, in its three sessions 00a-00c): the references
that stand in for an unfinished exercise, the checks with their mistake tables, the CS-587 derivations the notebook
reports, and the registry.

The student's code never runs here: it runs in the sandbox (``code``, a :class:`helpers.checks.sandbox.StudentCode`;
the code there is :mod:`helpers.checks.nb00_graphs_sandbox`), which builds the objects it works on (Values, graphs,
custom Functions) from data and returns plain data; every comparison is made here, with torch autograd and central
differences (:func:`helpers.gradcheck.numerical_gradient`, :func:`~helpers.gradcheck.numerical_jacobian`) in
float64, under the one closeness rule (:func:`helpers.checks.toolkit.close`). A mistake's result comes from the
same torch expression with the mistake made (an edge of the graph cut with ``detach``, a term dropped).

* 0.1 (a notebook cell): the CS-587 part A regression loop, against ``torch.optim.SGD``.
* 0.2, 0.3 (:mod:`helpers.scalar_autodiff`): each primitive against torch autograd and central differences of its
  own value; reverse mode on graphs described here node by node, their local gradients from torch autograd (so a
  mistake in a primitive never fails the reverse-mode check).
* 0.4, 0.5, 0.7 (notebook cells), 0.6, 0.11 (:mod:`helpers.graph_derivations`): hand derivations against autograd
  of the same graph written in torch.
* 0.8–0.10 (:mod:`helpers.custom_functions`): the Functions against autograd of the plain formula, and in the
  manner of ``gradcheck``/``gradgradcheck`` (the Jacobian through the student's backward, and the backward's own,
  against central differences). No verdict comes from the sandbox.
* 0.12 (notebook cells): the five CS475 tables, entry by entry (value, local gradients, backward gradient of each
  step) against torch autograd of the same steps, at the student's own point (:mod:`helpers.data.question_points`).

The first point of 0.1, 0.4-0.7 and 0.11 is the student's own (the numbers their notebook shows), and every
``seeded`` input is the student's (:mod:`helpers.runtime.variant`); the default variant is the numbers above.

Shapes: gradients are float64 tensors (or numbers, turned into 0-dim tensors); a *gradient dict* maps names
(``"w"``, ``"v₁"``) to tensors of one common shape.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from helpers import custom_functions
from helpers.checks.sandbox import ForbiddenToolUsed
from helpers.checks.toolkit import CheckOutcome, Exercise, as_float64, close, outcome, seeded
from helpers.custom_functions import quadratic_form, sigmoid, sin_over_x, sin_over_x_value, softplus, stable_logistic
from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FD_STEP, FINITE_DIFFERENCE_TOLERANCE, GradientComparison, compare,
                               numerical_gradient, numerical_jacobian)
from helpers.graph_derivations import (V1, V2, V3, V4, V5, V6, V7, logistic_adjoints, quadratic_form_adjoints, sin_over_x_adjoints,
                                       softplus_adjoints)
from helpers.data.question_points import cs475_point, nyu_point, regression_data
from helpers.runtime.exercises import ExerciseNotDone
from helpers.scalar_autodiff import post_order

# Notebook 00 is three class sessions, one per handout (the README says why in this order).
CHAIN_RULE_NOTEBOOK = "00a_chain_rule_by_table"                # CS475: 0.2-0.7, 0.12
AUTOGRAD_NOTEBOOK = "00b_autograd_and_custom_functions"        # CS-587 parts A and B: 0.1, 0.8-0.10
GRAPH_NOTEBOOK = "00c_activations_and_a_graph"                 # NYU HW1 §1.4: 0.11
SANDBOX = "helpers.checks.nb00_graphs_sandbox"  # the checks' code inside the sandbox
DERIVATIONS = "helpers.graph_derivations"


# ---- the references: what stands in for an unfinished exercise, and what the checks compare with ----------
# 0.1's stand-in is torch.optim.SGD, which exercise 0.1 refuses, and the derivations' stand-ins are torch autograd,
# which the derivations refuse: a stand-in is no answer.

TWO_NEURON_NAMES = {"y": "y", "w1": "w₁", "x": "x", "b1": "b₁", "w2": "w₂", "b2": "b₂", "lam": "λ"}


def fit_line_reference(x: torch.Tensor, y: torch.Tensor, steps: int = 100, learning_rate: float = 0.01,
                       zero_grad: bool = True, *, reduction: str = "mean", ascent: bool = False):
    """The stand-in for the notebook's ``fit_line``: ``torch.optim.SGD`` on the mean squared error of
    ŷ = Wx + b from W = 0.3, b = -0.3 (tensors of x's dtype and device), the loss recorded before every step.

    Shapes: x, y (N,); returns W, b (0-dim leaf tensors that require grad) and a list of ``steps`` floats.
    ``zero_grad=False`` lets the gradients accumulate; ``reduction``/``ascent`` make the checks' mistakes.
    """
    W = torch.tensor(0.3, dtype=x.dtype, device=x.device, requires_grad=True)
    b = torch.tensor(-0.3, dtype=x.dtype, device=x.device, requires_grad=True)
    optimizer = torch.optim.SGD([W, b], lr=learning_rate, maximize=ascent)
    losses = []
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(W * x + b, y, reduction=reduction)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return W, b, losses


# ---- the plain formulas, and torch autograd of them ------------------------------------------------------------

def line_loss(w, x, b, y):
    """L = [(wx + b) - y]² (CS475 task 1)."""
    return ((w * x + b) - y) ** 2


def exp_log(x, b, w):
    """f = (w·exp(bx) + ln(wx))·b (CS475 task 2)."""
    return (w * torch.exp(b * x) + torch.log(w * x)) * b


def two_neurons(y, w1, x, b1, w2, b2, lam):
    """f = (y - σ(w₂σ(w₁x + b₁) + b₂))² + λ(w₁² + w₂²) (CS475 task 5)."""
    return (y - torch.sigmoid(w2 * torch.sigmoid(w1 * x + b1) + b2)) ** 2 + lam * (w1 ** 2 + w2 ** 2)


def autograd_floats(function, **inputs) -> dict[str, float]:
    """{input name: ∂function/∂input} by torch autograd in float64 at the point ``inputs`` (floats in and out)."""
    leaves = {name: torch.tensor(float(value), dtype=torch.float64, requires_grad=True)
              for name, value in inputs.items()}
    gradients = torch.autograd.grad(function(**leaves), list(leaves.values()), allow_unused=True,
                                    materialize_grads=True)
    return {name: gradient.item() for name, gradient in zip(leaves, gradients)}


def line_loss_reference(w, x, b, y) -> dict:
    """Torch autograd's {"w", "x", "b", "y": ∂L/∂input} of L = [(wx + b) - y]² (floats in and out)."""
    return autograd_floats(line_loss, w=w, x=x, b=b, y=y)


def exp_log_reference(x, b, w) -> dict:
    """Torch autograd's {"x", "b", "w": ∂f/∂input} of f = (w·exp(bx) + ln(wx))·b (floats in and out)."""
    return autograd_floats(exp_log, x=x, b=b, w=w)


def two_neuron_reference(values) -> dict:
    """Torch autograd's {name: ∂f/∂name} of the two-neuron loss with weight decay (floats by name, as
    ``two_neuron_gradients`` takes and returns them)."""
    by_argument = {argument: values[name] for argument, name in TWO_NEURON_NAMES.items()}
    return {TWO_NEURON_NAMES[k]: v for k, v in autograd_floats(two_neurons, **by_argument).items()}


# 0.2, 0.3: the engine (helpers.scalar_autodiff)

def local_gradients_reference(torch_operation: Callable) -> Callable[..., tuple[float, tuple[float, ...]]]:
    """A primitive's value and local gradients by torch autograd in float64 (the stand-in for ``ADD``, ``MUL``, ...).

    Shapes: ``torch_operation`` maps 0-dim float64 tensors (one per operand) to a 0-dim tensor; the returned
    function maps Python numbers to (value, one local gradient per operand), like the primitive's function.
    """
    def reference(*operands):
        leaves = [torch.tensor(float(o), dtype=torch.float64, requires_grad=True) for o in operands]
        with torch.enable_grad():  # also when called under no_grad (central differences of a replayed graph)
            value = torch_operation(*leaves)
            gradients = torch.autograd.grad(value, leaves, allow_unused=True)
        return value.item(), tuple(0.0 if g is None else g.item() for g in gradients)
    return reference


def power_reference(a, n):
    """The stand-in for ``POWER(a, n)``: a ** n and its local gradient by torch autograd."""
    return local_gradients_reference(lambda t: t ** n)(a)


def topological_order_reference(output) -> list:
    """The stand-in for :func:`helpers.scalar_autodiff.topological_order`: the generic depth-first
    :func:`~helpers.scalar_autodiff.post_order` (the same order)."""
    return post_order(output, lambda node: node.operands)


def backward_reference(output) -> None:
    """The stand-in for ``Value.backward``: torch autograd of the recorded graph linearised at its point (each
    result = Σ local gradient × operand), every node's ``grad`` set. Shapes: scalars."""
    order = topological_order_reference(output)
    tensors = {}
    for node in order:
        if node.is_leaf:
            tensors[id(node)] = torch.tensor(node.data, dtype=torch.float64, requires_grad=True)
        else:
            tensors[id(node)] = sum(local * tensors[id(operand)]
                                    for operand, local in zip(node.operands, node.local_grads))
    gradients = torch.autograd.grad(tensors[id(output)], [tensors[id(node)] for node in order], allow_unused=True)
    for node, gradient in zip(order, gradients):
        node.grad = 0.0 if gradient is None else gradient.item()


def local_gradient_formulas_reference(primitive) -> tuple[str, ...]:
    """The stand-in for :func:`helpers.chain_rule.local_gradient_formulas`: no formulas (the tables show numbers)."""
    return ()


# 0.8–0.10: the custom Functions (helpers.custom_functions)

def backward_by_vjp(forward: Callable[..., torch.Tensor]) -> Callable:
    """The reference for a Function's ``backward``: ``torch.func.vjp`` of the plain-torch ``forward`` at the
    saved tensors (differentiable, so double backward works). Shapes: each gradient has its input's shape;
    extra ``None``s for non-tensor inputs are appended by the caller."""
    def backward(ctx, grad_output):
        _, pullback = torch.func.vjp(forward, *ctx.saved_tensors)
        return pullback(grad_output)
    return backward


def sin_over_x_derivative_reference(x: torch.Tensor) -> torch.Tensor:
    """The stand-in for :func:`helpers.custom_functions.sin_over_x_derivative`: ``torch.func.vjp`` of the forward (shape of x)."""
    _, pullback = torch.func.vjp(custom_functions.sin_over_x_value, x)
    return pullback(torch.ones_like(x))[0]


def softplus_backward_reference(ctx, grad_output):
    """The stand-in for ``Softplus.backward``: grad_output × the logistic in plain torch (differentiable)."""
    return grad_output * stable_logistic(ctx.saved_tensors[0])


def quadratic_form_backward_reference(ctx, grad_output):
    """The stand-in for ``QuadraticForm.backward``: ``torch.func.vjp`` of the plain formula (None where no gradient
    is needed, and for a, b, c)."""
    a, b, c = ctx.coefficients
    gradients = backward_by_vjp(lambda x, y: a * x * x + b * x * y + c * y * y)(ctx, grad_output)
    wanted = tuple(g if needed else None for g, needed in zip(gradients, ctx.needs_input_grad))
    return (*wanted, None, None, None)


# 0.6, 0.8–0.11: the derivations (helpers.graph_derivations)

def adjoints_by_autograd(build: Callable[..., dict]) -> Callable[..., dict]:
    """The reference for a ``*_adjoints`` derivation: torch autograd of the same graph written in torch.

    ``build(*inputs)`` maps float64 tensors (the inputs, broadcast) to {node name: tensor}, the output first;
    the returned function takes the derivation's arguments and gives {node name: ∂output/∂node}, each of the
    broadcast inputs' shape (element-wise graphs: the output is summed before differentiating).
    """
    def reference(*arguments, **named):
        arguments = inspect.signature(build).bind(*arguments, **named).args
        tensors = [t.detach().clone().requires_grad_() for t in torch.broadcast_tensors(*map(as_float64, arguments))]
        nodes = build(*tensors)
        output = next(iter(nodes.values()))
        grads = torch.autograd.grad(output.sum(), list(nodes.values()), allow_unused=True, materialize_grads=True)
        return {name: gradient.detach() for name, gradient in zip(nodes, grads)}
    return reference


# The graphs again in plain torch, {node name: tensor} with the output first (the derivations' references).

def nyu_nodes(x, y, z, o):
    a, b = x + y, z * o
    c = a * b
    return {"w": c + z, "c": c, "a": a, "b": b, "x": x, "y": y, "z": z, "o": o}


def sin_over_x_nodes(x):
    v1, v2 = 1 / x, torch.sin(x)
    return {"f": v1 * v2, V1: v1, V2: v2, "x": x}


def quadratic_nodes(a, b, c):
    def build(x, y):
        v1, v2, v3 = x * x, x * y, y * y
        v4, v5, v6 = a * v1, b * v2, c * v3
        v7 = v4 + v5
        return {"f": v7 + v6, V7: v7, V6: v6, V5: v5, V4: v4, V3: v3, V2: v2, V1: v1, "x": x, "y": y}
    return build


def softplus_nodes(x):
    v1 = torch.exp(x)
    v2 = 1 + v1
    return {"f": torch.log(v2), V2: v2, V1: v1, "x": x}


def logistic_nodes(x):
    v1 = torch.exp(x)
    v2 = v1 + 1
    v3 = 1 / v2
    return {"g": v1 * v3, V3: v3, V2: v2, V1: v1, "x": x}


def neuron_loss_nodes(w, x, b, y):
    return {"L": (torch.sigmoid(w * x + b) - y) ** 2, "w": w, "x": x, "b": b, "y": y}


def quadratic_form_adjoints_reference(x, y, a, b, c):
    return adjoints_by_autograd(quadratic_nodes(a, b, c))(x, y)


def sigmoid_neuron_gradients_reference(w, x, b, y):
    gradients = adjoints_by_autograd(neuron_loss_nodes)(w, x, b, y)
    return {name: gradients[name] for name in ("w", "x", "b", "y")}


# ---- comparing gradient dicts ------------------------------------------------------------------------------

def stacked(gradients: Mapping[str, object], names) -> torch.Tensor:
    """The entries ``names`` of a gradient dict flattened into one float64 vector (missing names: nan)."""
    parts = [as_float64(gradients[n]).reshape(-1) if n in gradients else torch.tensor([float("nan")])
             for n in names]
    return torch.cat(parts)


def dict_outcome(name: str, student: Mapping, reference: Mapping, mistakes: Mapping[str, Callable[[dict], dict]] = (),
                 what: str = "the gradients") -> CheckOutcome:
    """A gradient dict against the reference dict; each mistake maps the reference dict to the entries that
    mistake changes (the others stay as in the reference)."""
    if not isinstance(student, Mapping) or set(student) != set(reference):
        got = sorted(student) if isinstance(student, Mapping) else type(student).__name__
        return CheckOutcome(name, False, f"{what} must be a dict with exactly the keys {sorted(reference)}, got {got}")
    names = list(reference)
    vector = lambda gradients: stacked({**reference, **gradients}, names)
    by_vector = {description: (lambda _, m=mistaken: vector(m(dict(reference)))) for description, mistaken in
                 dict(mistakes).items()}
    result = outcome(name, stacked(student, names), vector({}), by_vector, what)
    if not result.passed and result.diagnosis.startswith(what + " differs"):
        wrong = [n for n in names if not close(student[n], reference[n])]
        return CheckOutcome(name, False, f"wrong entries: {', '.join(wrong)}; no common mistake matches: "
                                         "re-derive them on paper")
    return result


def guarded(name: str, check: Callable[[], CheckOutcome]) -> CheckOutcome:
    """``check()``, or a failed outcome naming the error the student's code raised (not done yet and a
    forbidden tool propagate: :func:`helpers.checks.exercises.run_checks` reports them)."""
    try:
        return check()
    except (ExerciseNotDone, ForbiddenToolUsed):
        raise
    except Exception as error:  # the student's code crashed in this check only
        return CheckOutcome(name, False, f"your code raised {type(error).__name__}: {error}")


def autograd_gradients(function: Callable[..., torch.Tensor], *inputs) -> tuple[torch.Tensor, ...]:
    """∂(Σ function(inputs))/∂input by torch autograd in float64 (each of its input's shape)."""
    leaves = [as_float64(t).clone().requires_grad_() for t in inputs]
    gradients = torch.autograd.grad(function(*leaves).sum(), leaves, allow_unused=True, materialize_grads=True)
    return tuple(g.detach() for g in gradients)


def autograd_dict(function: Callable[..., torch.Tensor], **inputs) -> dict[str, torch.Tensor]:
    """{input name: ∂(Σ function(**inputs))/∂input} by torch autograd in float64."""
    gradients = autograd_gradients(lambda *leaves: function(**dict(zip(inputs, leaves))), *inputs.values())
    return dict(zip(inputs, gradients))


def central_difference_outcome(name: str, student: Mapping, function: Callable[..., torch.Tensor],
                               **inputs) -> CheckOutcome:
    """A gradient dict against central differences (h = 1e-6) of the scalar ``function(**inputs)``
    (float64 scalars in), under the policy's finite-difference tolerance."""
    values = {k: as_float64(v).clone() for k, v in inputs.items()}
    f = lambda: function(**values).sum()
    numerical = [numerical_gradient(f, tensor) for tensor in values.values()]
    f_value = f().item()
    wrong = [k for k, estimate in zip(values, numerical)
             if k not in student or not close(student[k], estimate, FINITE_DIFFERENCE_TOLERANCE, f_value)]
    return CheckOutcome(name, not wrong, f"differ from the central differences: {', '.join(wrong)}" if wrong else "")


# ---- 0.1: linear regression with autograd (a notebook cell) ----------------------------------------------

FIT_TOLERANCE = 1e-5  # float32 round-off of 100 steps (operation order inside torch.optim.SGD differs)
NEVER_ZEROED = "gradients never zeroed: every step follows the running sum of past gradients"
ASCENT = "the step goes in the wrong direction (gradient ascent)"
SUMMED = "sum of squared errors instead of their mean (the 1/N is missing)"
LOSS_AFTER = "the loss is recorded after the update instead of before it"
RECORDED = "the update was recorded in the graph: update inside torch.no_grad(), in place"
FIT_MISTAKES = (NEVER_ZEROED, ASCENT, SUMMED, LOSS_AFTER, RECORDED)


def _fit_case(fit_line, x, y, steps, learning_rate, zero_grad, title) -> list[CheckOutcome]:
    W, b, losses = fit_line(x, y, steps=steps, learning_rate=learning_rate, zero_grad=zero_grad)
    run = lambda **mistake: fit_line_reference(x, y, steps, learning_rate, zero_grad, **mistake)
    final = lambda result: torch.stack([result[0].detach(), result[1].detach()])
    mistakes = {NEVER_ZEROED: lambda _: final(fit_line_reference(x, y, steps, learning_rate, False)),
                ASCENT: lambda _: final(run(ascent=True)), SUMMED: lambda _: final(run(reduction="sum"))}
    reference = run()
    results = [outcome(f"{title}: W and b vs torch.optim.SGD", final((W, b)), final(reference), mistakes,
                       "(W, b)", FIT_TOLERANCE)]
    shifted = fit_line_reference(x, y, steps + 1, learning_rate, zero_grad)[2][1:]
    results.append(outcome(f"{title}: the loss before every step", torch.tensor(losses, dtype=torch.float64),
                           torch.tensor(reference[2], dtype=torch.float64),
                           {LOSS_AFTER: lambda _: torch.tensor(shifted, dtype=torch.float64)}, "the list of losses",
                           FIT_TOLERANCE))
    return results


def _notebook_function(code, name: str):
    """The notebook's ``name`` in the sandbox (its cells get the names of the notebook's first cell)."""
    code.call(f"{SANDBOX}:prepare_notebook")
    return code.function(f"__notebook__:{name}")


def check_fit_line(code) -> list[CheckOutcome]:
    """Exercise 0.1: ``fit_line(x, y, steps, learning_rate, zero_grad) -> (W, b, losses)``."""
    fit_line = _notebook_function(code, "fit_line")
    x, y = regression_data()  # the student's own data (the default variant: y = 1 - x)
    generator = seeded(14)
    x5 = torch.randn(5, dtype=torch.float64, generator=generator)
    y5 = torch.randn(5, dtype=torch.float64, generator=generator)
    outcomes = _fit_case(fit_line, x, y, 100, 0.01, True, "the CS-587 data, 100 steps")
    outcomes += [guarded("other data", lambda: _fit_case(fit_line, x5, y5, 7, 0.05, True, "5 other points, 7 steps")[0]),
                 guarded("no zeroing", lambda: _fit_case(fit_line, x, y, 5, 0.01, False, "zero_grad=False")[0])]

    def leaves() -> CheckOutcome:
        facts = code.call(f"{SANDBOX}:fit_line_parameters", x, y, 2, 0.01, True)
        ok = all(facts[p]["tensor"] and facts[p]["is_leaf"] and facts[p]["requires_grad"] for p in ("W", "b"))
        return CheckOutcome("W and b stay leaves that require grad (the updates are not recorded)", ok,
                            "" if ok else RECORDED)
    return outcomes + [guarded("leaves", leaves)]


# ---- CS475 by hand -------------------------------------------------------------------------------------

NO_FACTOR_2 = "the factor 2 from the square is missing"
RESIDUAL_SIGN = "sign error (the residual written as y - (wx + b))"
NO_INNER = "the inner derivative is missing (in ∂L/∂w and ∂L/∂x)"
LINE_LOSS_MISTAKES = (NO_FACTOR_2, RESIDUAL_SIGN, NO_INNER)
# {mistake: (the cut that makes it, the gradient it changes)} (see _exp_log)
EXP_LOG_MISTAKES = {"∂f/∂w keeps only the path through exp(bx)": ("w:log", "w"),
                    "∂f/∂w keeps only the path through ln(wx)": ("w:exp", "w"),
                    "∂f/∂x keeps only the path through exp(bx)": ("x:log", "x"),
                    "∂f/∂x keeps only the path through ln(wx)": ("x:exp", "x"),
                    "∂f/∂b misses a term of the product rule": ("b:outer", "b")}
NO_DECAY = "the weight-decay term is missing from ∂f/∂w"
NO_DECAY_FACTOR_2 = "the weight decay's factor 2 is missing"
NO_HIDDEN_SLOPE = "the hidden unit's σ' is missing (δ₁ without its local gradient)"
TWO_NEURON_MISTAKES = (NO_DECAY, NO_DECAY_FACTOR_2, NO_HIDDEN_SLOPE)

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
    points = (cs475_point("task1"), {"w": -1.5, "x": 0.4, "b": 2.0, "y": -0.7})  # the student's own point first

    def mistakes(point):
        return {NO_FACTOR_2: lambda g: {k: v / 2 for k, v in g.items()},
                RESIDUAL_SIGN: lambda g: {k: -v for k, v in g.items()},
                NO_INNER: lambda g: {"w": g["b"], "x": g["b"]}}
    return _hand_gradients_check(line_loss_gradients, line_loss, points, mistakes)


def check_exp_log_gradients(code) -> list[CheckOutcome]:
    """Exercise 0.5 (CS475 task 2): ``exp_log_gradients(x, b, w) -> {"x", "b", "w": float}``."""
    exp_log_gradients = _notebook_function(code, "exp_log_gradients")
    points = (cs475_point("task2"), {"x": 1.7, "b": -0.6, "w": 0.4})  # the student's own point first

    def mistakes(point):
        cut = lambda which, name: autograd_dict(lambda **t: _exp_log(**t, cut=which), **point)[name]
        return {mistake: (lambda g, which=which, name=name: {name: cut(which, name)})
                for mistake, (which, name) in EXP_LOG_MISTAKES.items()}
    return _hand_gradients_check(exp_log_gradients, _exp_log, points, mistakes)


def _two_neurons(y, w1, x, b1, w2, b2, lam, decay_scale=1.0, hidden_slope=True):
    pre = w1 * x + b1
    hidden = torch.sigmoid(pre) if hidden_slope else pre + (torch.sigmoid(pre) - pre).detach()
    return (y - torch.sigmoid(w2 * hidden + b2)) ** 2 + decay_scale * lam * (w1 ** 2 + w2 ** 2)


def check_two_neuron_gradients(code) -> list[CheckOutcome]:
    """Exercise 0.7 (CS475 task 5): ``two_neuron_gradients(values) -> dict`` with the keys of ``values``:
    y, w₁, x, b₁, w₂, b₂, λ (floats)."""
    two_neuron_gradients = _notebook_function(code, "two_neuron_gradients")
    own = {short: cs475_point("task5")[name] for short, name in TWO_NEURON_NAMES.items()}
    points = (own,  # the student's own point first
              {"y": -0.5, "w1": -1.1, "x": 0.3, "b1": 0.4, "w2": 1.7, "b2": -0.6, "lam": 0.2})
    rename = lambda g: {TWO_NEURON_NAMES[k]: v for k, v in g.items()}

    def mistakes(point):
        variant = lambda **options: rename(autograd_dict(lambda **t: _two_neurons(**t, **options), **point))
        weights = lambda g: {k: g[k] for k in ("w₁", "w₂")}
        return {NO_DECAY: lambda g: weights(variant(decay_scale=0.0)),
                NO_DECAY_FACTOR_2: lambda g: weights(variant(decay_scale=0.5)),
                NO_HIDDEN_SLOPE: lambda g: {k: v for k, v in variant(hidden_slope=False).items() if k in ("w₁", "b₁", "x")}}
    outcomes = []
    for k, point in enumerate(points, 1):
        student = two_neuron_gradients({TWO_NEURON_NAMES[n]: v for n, v in point.items()})
        reference = rename(autograd_dict(_two_neurons, **point))
        outcomes.append(guarded(f"point {k}", lambda: dict_outcome(f"point {k}: vs torch autograd (float64)",
                                                                   student, reference, mistakes(point))))
    return outcomes


# ---- 0.2: the primitives' local gradients ----------------------------------------------------------------

LOCAL_SIGN = "sign error in the local gradient"
SWAPPED = "the two operands' local gradients are swapped"
NOT_LOWERED = "power rule: the derivative has the wrong power"
OWN_VALUE = "wrote the function itself instead of its derivative"
NO_MINUS = "the minus sign of the second operand is missing"
QUOTIENT = "quotient rule: the derivative with respect to the divisor is wrong"
SIGMOID_AS_VALUE = "σ' written as σ alone"
TANH_SLOPE = "the derivative of tanh is wrong"
EXPONENT_FACTOR = "∂(aᵇ)/∂b is missing a factor"
POWER_FACTOR = "power rule: a factor is missing"
DISAGREE = "value and local gradient disagree (central differences)"

# function of helpers.scalar_autodiff, torch operation, points, {mistake: wrong local gradients at a point}
PRIMITIVE_CASES = (
    ("ADD", lambda a, b: a + b, ((1.5, -2.0), (0.3, 4.0)), {LOCAL_SIGN: lambda a, b: (-1.0, -1.0)}),
    ("SUB", lambda a, b: a - b, ((1.5, -2.0), (0.3, 4.0)),
     {NO_MINUS: lambda a, b: (1.0, 1.0), SWAPPED: lambda a, b: (-1.0, 1.0)}),
    ("MUL", lambda a, b: a * b, ((1.5, -2.0), (0.3, 4.0)), {SWAPPED: lambda a, b: (a, b)}),
    ("DIV", lambda a, b: a / b, ((1.5, -2.0), (0.3, 4.0)),
     {QUOTIENT: lambda a, b: (1 / b, -a / b), LOCAL_SIGN: lambda a, b: (-1 / b, a / b ** 2)}),
    ("NEG", lambda a: -a, ((1.5,), (-0.3,)), {LOCAL_SIGN: lambda a: (1.0,)}),
    ("EXP", lambda a: a.exp(), ((0.7,), (-1.2,)), {NOT_LOWERED: lambda a: (a * math.exp(a),)}),
    ("LOG", lambda a: a.log(), ((0.7,), (2.5,)), {OWN_VALUE: lambda a: (math.log(a),), LOCAL_SIGN: lambda a: (-1 / a,)}),
    ("SIN", lambda a: a.sin(), ((0.7,), (-2.0,)), {OWN_VALUE: lambda a: (math.sin(a),), LOCAL_SIGN: lambda a: (-math.cos(a),)}),
    ("COS", lambda a: a.cos(), ((0.7,), (-2.0,)), {LOCAL_SIGN: lambda a: (math.sin(a),), OWN_VALUE: lambda a: (math.cos(a),)}),
    ("SIGMOID", lambda a: a.sigmoid(), ((0.7,), (-2.0,), (40.0,)),
     {SIGMOID_AS_VALUE: lambda a: (1 / (1 + math.exp(-a)),)}),
    ("TANH", lambda a: a.tanh(), ((0.7,), (-2.0,)),
     {TANH_SLOPE: lambda a: (1 - math.tanh(a),), OWN_VALUE: lambda a: (math.tanh(a),)}),
    ("POW", lambda a, b: a ** b, ((1.5, 2.5), (0.7, -1.5)),
     {NOT_LOWERED: lambda a, b: (b * a ** b, a ** b * math.log(a)),
      EXPONENT_FACTOR: lambda a, b: (b * a ** (b - 1), a ** b)}),
)
POWERS = (3.0, -1.0, 0.5)  # power_by(n): the exponents checked, at a = 1.3 and a = 0.6


def power_cases():
    for n in POWERS:
        yield (f"power_by({n:g})", lambda a, n=n: a ** n, ((1.3,), (0.6,)),
               {NOT_LOWERED: lambda a, n=n: (n * a ** n,), POWER_FACTOR: lambda a, n=n: (a ** (n - 1),)})


PRIMITIVE_MISTAKES = (*dict.fromkeys(mistake for case in (*PRIMITIVE_CASES, *power_cases()) for mistake in case[3]),
                      DISAGREE)


def _student_values(code, attribute: str, points) -> torch.Tensor:
    """The student's ``[value, *local gradients]`` at each point (rows), from the sandbox."""
    rows = code.call(f"{SANDBOX}:primitive_values", attribute, [list(p) for p in points])
    return torch.tensor(rows, dtype=torch.float64)


def _check_primitive(code, attribute: str, operation, points, mistakes) -> CheckOutcome:
    """One primitive at its points: value and local gradients against torch autograd (float64)."""
    reference = local_gradients_reference(operation)
    student = _student_values(code, attribute, points)
    expected = torch.tensor([[value, *grads] for value, grads in (reference(*p) for p in points)], dtype=torch.float64)
    def made(mistake) -> torch.Tensor:  # the values with the mistaken local gradients
        return torch.cat([expected[:, :1], torch.tensor([mistake(*p) for p in points], dtype=torch.float64)], 1)
    wrong = {d: (lambda _, m=m: made(m)) for d, m in mistakes.items()}
    name = f"{attribute}: value and local gradients vs torch autograd (float64)"
    return outcome(name, student, expected, wrong, what="the value or a local gradient")


def _central_differences_agree(code, cases) -> CheckOutcome:
    """Every local gradient against central differences (:func:`helpers.gradcheck.numerical_jacobian`) of the
    student's own value; the values at the shifted points come from the sandbox, one call per primitive."""
    wrong = []
    for attribute, _, points, _ in cases:
        shifted = [[*p[:k], p[k] + sign * FD_STEP, *p[k + 1:]] for p in points for k in range(len(p)) for sign in (1, -1)]
        rows = code.call(f"{SANDBOX}:primitive_values", attribute, [list(p) for p in points] + shifted)
        value_at = {tuple(point): row[0] for point, row in zip([*points, *shifted], rows)}
        value = lambda *t: torch.tensor(value_at[tuple(x.item() for x in t)], dtype=torch.float64)
        for point, (_, *grads) in zip(points, rows):
            estimate = numerical_jacobian(value, *(torch.tensor([c], dtype=torch.float64) for c in point))
            student = torch.tensor(grads, dtype=torch.float64)
            if student.shape != (len(point),):
                wrong.append(attribute)
                continue
            # gradcheck's policy; a gradient within the differences' round-off of 0 (σ' at 40) cannot be judged
            verdict = compare(attribute, student, estimate.reshape(-1), FINITE_DIFFERENCE_TOLERANCE,
                              value_at[tuple(point)])
            if not (verdict.passed or verdict.unresolvable_below is not None):
                wrong.append(attribute)
    wrong = sorted(set(wrong))
    return CheckOutcome("local gradients agree with central differences of your values", not wrong,
                        f"{DISAGREE} in: {', '.join(wrong)}" if wrong else "")


def check_primitives(code) -> list[CheckOutcome]:
    """Exercise 0.2: every primitive of :mod:`helpers.scalar_autodiff`; shapes: scalars."""
    cases = PRIMITIVE_CASES + tuple(power_cases())
    outcomes, done = [], []
    for case in cases:
        try:
            outcomes.append(guarded(case[0], lambda case=case: _check_primitive(code, *case)))
            done.append(case)
        except ExerciseNotDone:
            outcomes.append(CheckOutcome(f"{case[0]}: not done yet", False, "implement it, then re-run the check"))
    if not done:
        raise ExerciseNotDone("ADD", "helpers/scalar_autodiff.py", "0.2")
    outcomes.append(guarded("central differences", lambda: _central_differences_agree(code, done)))
    return outcomes


# ---- reverse mode ------------------------------------------------------------------------------------

NYU_INPUTS = {"x": 1.0, "y": 2.0, "z": -1.5, "o": 0.5}
NYU_SPEC = (("a", lambda x, y: x + y, ("x", "y")), ("b", lambda z, o: z * o, ("z", "o")),
            ("c", lambda a, b: a * b, ("a", "b")), ("w", lambda c, z: c + z, ("c", "z")))
SHARED_INPUTS = {"u": 0.7, "v": -1.2}
SHARED_SPEC = (("p", lambda a, b: a * b, ("u", "u")), ("q", lambda p, v: p * v, ("p", "v")),
               ("r", lambda u: u.exp(), ("u",)), ("s", lambda q, r: q + r, ("q", "r")),
               ("t", lambda s: s.tanh(), ("s",)))
GRAPHS = {"w = (x + y)·(z·o) + z": (NYU_SPEC, NYU_INPUTS), "t = tanh(u·u·v + exp(u))": (SHARED_SPEC, SHARED_INPUTS)}


def hand_graph(spec, inputs) -> tuple[list, list]:
    """The graph of ``spec`` (name, torch operation, operand names) as data for the sandbox: ``inputs``
    [(name, value)] and ``nodes`` [(name, value, operand names, local gradients)], the local gradients from
    torch autograd (not from the student's primitives). Shapes: scalars."""
    values = dict(inputs)
    nodes = []
    for name, operation, operand_names in spec:
        value, local = local_gradients_reference(operation)(*(values[o] for o in operand_names))
        values[name] = value
        nodes.append((name, value, list(operand_names), list(local)))
    return list(inputs.items()), nodes


def torch_gradients(spec, inputs, cut=(), linear=False) -> torch.Tensor:
    """∂output/∂node for every node (inputs, then spec order) by torch autograd of the same expression.

    Mistaken variants: ``cut`` edges (result, operand) carry no gradient; ``linear`` replaces every operation
    by the sum of its operands (every local gradient 1). Shapes: a vector, one entry per node.
    """
    tensors = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in inputs.items()}
    for name, operation, operand_names in spec:
        operands = [tensors[o].detach() if (name, o) in cut else tensors[o] for o in operand_names]
        tensors[name] = sum(operands) if linear else operation(*operands)
    output = tensors[spec[-1][0]]
    return torch.stack(torch.autograd.grad(output, list(tensors.values()), allow_unused=True, materialize_grads=True))


NOT_A_LIST = "topological_order must return a list of the graph's Values"
REPEATED = "a node appears more than once: mark nodes as visited"
INCOMPLETE = "some nodes of the graph are missing (or foreign nodes are included)"
OUTPUT_NOT_LAST = "the output must come last"
OPERAND_AFTER = "an operand comes after the result that uses it"
NOT_SEEDED = "the output's own gradient is never set to 1 before the sweep"
WRONG_ORDER = ("nodes visited in the wrong order (operands before results): a gradient is passed on before it is "
               "complete")
NO_LOCAL = "a local gradient is missing: the upstream gradient is passed on unchanged"
ASSIGNED = "`=` instead of `+=`: a node used by two primitives keeps only one path"  # the edge it loses follows
NOT_RESET = "gradients are not reset to 0 before the sweep: a second backward() adds to the first"
TOO_DEEP = "recursion is too deep: walk the graph with an explicit stack"
LONG_CHAIN = "the order or the gradient is wrong on a long chain"
REVERSE_MODE_MISTAKES = (NOT_A_LIST, REPEATED, INCOMPLETE, OUTPUT_NOT_LAST, OPERAND_AFTER, NOT_SEEDED, WRONG_ORDER,
                         NO_LOCAL, ASSIGNED, NOT_RESET, TOO_DEEP, LONG_CHAIN)


def _order_problem(order, spec, inputs) -> str:
    """What is wrong with ``order`` (node indices: the inputs, then ``spec``'s nodes; a foreign Value is
    negative, anything else None) as a topological order of the graph, output last, or ''."""
    names = list(inputs) + [name for name, _, _ in spec]
    if not isinstance(order, list) or not all(isinstance(n, int) for n in order):
        return NOT_A_LIST
    if len(set(order)) != len(order):
        return REPEATED
    if set(order) != set(range(len(names))):
        return INCOMPLETE
    if order[-1] != len(names) - 1:
        return OUTPUT_NOT_LAST
    position = {n: k for k, n in enumerate(order)}
    operands = {names.index(name): [names.index(o) for o in operand_names] for name, _, operand_names in spec}
    if any(position[o] > position[n] for n in order for o in operands.get(n, ())):
        return OPERAND_AFTER
    return ""


def _backward_mistakes(spec, inputs) -> dict:
    edges = [(name, o) for name, _, operands in spec for o in operands]
    output = spec[-1][0]
    mistakes = {NOT_SEEDED: lambda g: 0 * g,
                WRONG_ORDER: lambda g: torch_gradients(spec, inputs, cut=[e for e in edges if e[0] != output]),
                NO_LOCAL: lambda g: torch_gradients(spec, inputs, linear=True)}
    for result, operand in edges:  # `=` instead of `+=`: a node used twice keeps the path written last
        if sum(o == operand for _, o in edges) > 1:
            mistakes[f"{ASSIGNED} ({operand}'s path through {result} is missing)"] = \
                lambda g, edge=(result, operand): torch_gradients(spec, inputs, [edge])
    return mistakes


def _check_graph(code, title: str, spec, inputs) -> list[CheckOutcome]:
    graph_inputs, nodes = hand_graph(spec, inputs)
    run = code.call(f"{SANDBOX}:reverse_mode", graph_inputs, nodes)
    problem = _order_problem(run["order"], spec, inputs)
    results = [CheckOutcome(f"{title}: topological_order", not problem, problem)]
    expected = torch_gradients(spec, inputs)
    first = torch.tensor(run["first"], dtype=torch.float64)
    mistakes = _backward_mistakes(spec, inputs)
    results.append(outcome(f"{title}: backward() sets every node's gradient (vs torch autograd)", first, expected,
                           mistakes, what="the gradients"))
    second = torch.tensor(run["second"], dtype=torch.float64)
    results.append(outcome(f"{title}: a second backward() gives the same gradients", second, first,
                           {NOT_RESET: lambda g: 2 * g}, what="the gradients"))
    return results


DEPTH = 5000  # deeper than Python's default recursion limit (1000)


def _deep_chain_outcome(code) -> CheckOutcome:
    """A chain x → n₁ → … → n_DEPTH whose every local gradient is -1: ∂out/∂x = (-1)^DEPTH = 1."""
    run = code.call(f"{SANDBOX}:deep_chain", DEPTH)
    ok = run["length"] == DEPTH + 1 and run["first_is_x"] is True and run["x_grad"] == 1.0
    return CheckOutcome(f"a chain {DEPTH} nodes deep (deeper than Python's recursion limit)", ok,
                        "" if ok else LONG_CHAIN)


def check_reverse_mode(code) -> list[CheckOutcome]:
    """Exercise 0.3: topological order and the backward sweep, on two hand-assembled graphs (a node used by
    two primitives; an operand used twice by one primitive). Shapes: scalars."""
    outcomes = []
    for title, (spec, inputs) in GRAPHS.items():
        try:
            outcomes += _check_graph(code, title, spec, inputs)
        except (ExerciseNotDone, ForbiddenToolUsed):
            raise
        except Exception as error:
            outcomes.append(CheckOutcome(f"{title}: your code runs", False,
                                         f"your code raised {type(error).__name__}: {error}"))
    deep = guarded("deep chain", lambda: _deep_chain_outcome(code))
    if "RecursionError" in deep.diagnosis:
        deep = CheckOutcome(deep.name, False, TOO_DEEP)
    return outcomes + [deep]


# ---- 0.6, 0.8–0.11: derivations and custom Functions ----------------------------------------------------

SIGN = "sign error"
NOT_SCALED = "backward ignores grad_output (the upstream gradient must multiply the local one)"
GRADCHECK_FAILS = "the backward disagrees with central differences"
GRADGRADCHECK_FAILS = "the backward's own derivative (double backward) disagrees with central differences"
FUNCTION_MISTAKES = (NOT_SCALED, GRADCHECK_FAILS, GRADGRADCHECK_FAILS)  # every custom Function's


def _points(*values) -> torch.Tensor:
    """The numbers as a 1-D float64 tensor."""
    return torch.tensor(values, dtype=torch.float64)


def _adjoint_check(name, student_function, build, arguments, variants=None, extra=None) -> CheckOutcome:
    """A derivation against autograd of its graph; ``variants`` {mistake: the graph built with that mistake
    (an edge cut by ``detach``)} and ``extra`` {mistake: reference dict -> changed entries} diagnose it."""
    reference = adjoints_by_autograd(build)(*arguments)
    mistakes = {d: (lambda g, v=v: adjoints_by_autograd(v)(*arguments)) for d, v in (variants or {}).items()}
    mistakes.update(extra or {})
    return dict_outcome(f"{name}: every named node vs torch autograd of the same graph",
                        student_function(*arguments), reference, mistakes)


def _reference_backward(reference_function, count: int):
    """(inputs..., u) ↦ uᵀ ∂f/∂inputs by autograd of the plain formula, flattened (the backward's
    reference)."""
    def backward(*tensors):
        leaves = [t.detach().clone().requires_grad_() for t in tensors[:count]]
        value = reference_function(*leaves)
        grads = torch.autograd.grad(value, leaves, tensors[count].reshape(value.shape), allow_unused=True,
                                    materialize_grads=True)
        return torch.cat([g.reshape(-1) for g in grads])
    return backward


def _jacobian_outcome(name: str, student, numerical: torch.Tensor, diagnosis: str) -> CheckOutcome:
    ok = close(student, numerical, FINITE_DIFFERENCE_TOLERANCE)
    return CheckOutcome(name, ok, "" if ok else diagnosis)


def _function_checks(code, title, name, inputs, reference_function, mistakes, coefficients=(),
                     which=("first", "scaled", "gradcheck", "gradgradcheck")) -> list[CheckOutcome]:
    """A custom Function (``name`` in ``helpers.custom_functions``, differentiated in the sandbox): its
    gradient vs autograd of the plain formula, upstream scaling, and the gradcheck and gradgradcheck
    comparisons (float64) against central differences of the plain formula here."""
    upstream = torch.linspace(-2, 3, inputs[0].numel(), dtype=torch.float64)
    second_upstream = torch.linspace(0.7, -1.3, inputs[0].numel(), dtype=torch.float64)
    memo = {}

    def run() -> dict:
        if "run" not in memo:
            try:
                memo["run"] = code.call(f"{SANDBOX}:function_derivatives", name, list(inputs), list(coefficients),
                                        upstream, second_upstream)
            except Exception as error:  # every outcome below reports it
                memo["run"] = error
        if isinstance(memo["run"], BaseException):
            raise memo["run"]
        return memo["run"]

    def first() -> CheckOutcome:
        student = run()["ones"]
        expected = autograd_gradients(reference_function, *inputs)
        return outcome(f"{title}: backward vs autograd of the plain formula", torch.cat(student), torch.cat(expected),
                       mistakes, "the gradient")

    def scaled() -> CheckOutcome:
        student = run()["upstream"]
        expected = [upstream.reshape(g.shape) * g for g in autograd_gradients(reference_function, *inputs)]
        return outcome(f"{title}: backward multiplies by the upstream gradient", torch.cat(student),
                       torch.cat(expected), {NOT_SCALED: lambda g: torch.cat(autograd_gradients(reference_function, *inputs))},
                       "the gradient")

    def by_gradcheck() -> CheckOutcome:
        numerical = numerical_jacobian(reference_function, *inputs)
        return _jacobian_outcome(f"{title}: gradcheck (the Jacobian through your backward vs central differences)",
                                 run()["jacobian"], numerical, GRADCHECK_FAILS)

    def by_gradgradcheck() -> CheckOutcome:
        numerical = numerical_jacobian(_reference_backward(reference_function, len(inputs)),
                                       *inputs, second_upstream)
        return _jacobian_outcome(f"{title}: gradgradcheck (the Jacobian of your backward vs central differences)",
                                 run()["second"], numerical, GRADGRADCHECK_FAILS)
    checks = {"first": first, "scaled": scaled, "gradcheck": by_gradcheck, "gradgradcheck": by_gradgradcheck}
    return [guarded(key, checks[key]) for key in which]


def cut(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor``'s value as a new leaf that requires grad: the path behind it carries no gradient, while
    the node itself still gets one (for the graphs' mistaken variants)."""
    return tensor.detach().requires_grad_()


# ---- 0.6: CS475 tasks 0 and 4 --------------------------------------------------------------------------

Y_SIGN = "sign error in ∂L/∂y"
NEURON_MISTAKES = (SIGMOID_AS_VALUE, NO_FACTOR_2, NO_INNER, Y_SIGN)

def check_sigmoid_neuron(code) -> list[CheckOutcome]:
    """Exercise 0.6: ``graph_derivations.sigmoid_neuron_gradients(w, x, b, y)`` at four points at once."""
    own = cs475_point("task4")  # the student's own point first
    w, x, b, y = _points(own["w"], -1.2, 2.0, 0.1), _points(own["x"], 0.3, -0.7, 4.0), \
        _points(own["b"], 0.9, 0.2, -1.0), _points(own["y"], 0.0, 0.5, -0.3)
    s = torch.sigmoid(w * x + b)
    extra = {SIGMOID_AS_VALUE: lambda g: {k: g[k] / (1 - s) for k in "wxb"},
             NO_FACTOR_2: lambda g: {k: v / 2 for k, v in g.items()},
             NO_INNER: lambda g: {"w": g["b"], "x": g["b"]},
             Y_SIGN: lambda g: {"y": -g["y"]}}

    def check() -> CheckOutcome:
        reference = {k: v for k, v in adjoints_by_autograd(neuron_loss_nodes)(w, x, b, y).items()
                     if k != "L"}
        student = code.call(f"{DERIVATIONS}:sigmoid_neuron_gradients", w, x, b, y)
        return dict_outcome("∂L/∂w, ∂L/∂x, ∂L/∂b, ∂L/∂y vs torch autograd at 4 points", student, reference,
                            extra)
    return [guarded("sigmoid neuron", check)]


# ---- 0.8: sin(x)/x --------------------------------------------------------------------------------------

DENOMINATOR = "the closed form's denominator is wrong"
SERIES = "the series near 0 is off by a factor"
SIN_OVER_X_PATHS = {"∂f/∂x keeps only the path through v₁": True,  # {mistake: the path kept goes through v₁}
                    "∂f/∂x keeps only the path through v₂": False}
ADJOINTS_SWAPPED = "∂f/∂v₁ and ∂f/∂v₂ are swapped"
SIN_OVER_X_MISTAKES = (SIGN, DENOMINATOR, SERIES, *FUNCTION_MISTAKES, *SIN_OVER_X_PATHS, ADJOINTS_SWAPPED)

def check_sin_over_x(code) -> list[CheckOutcome]:
    """Exercise 0.8: ``sin_over_x_derivative``, ``SinOverX.backward`` and ``sin_over_x_adjoints``."""
    x = _points(-7.0, -2.0, -0.6, -0.3, 1e-3, 0.0, 0.2, 0.5, 3.0)
    near = x.abs() < custom_functions.SINC_TAYLOR_THRESHOLD

    def derivative() -> CheckOutcome:
        expected = sin_over_x_derivative_reference(x)
        safe = torch.where(x == 0, torch.ones_like(x), x)
        return outcome("sin_over_x_derivative at 9 points, both branches and x = 0 (vs torch.func.vjp)",
                       code.call("helpers.custom_functions:sin_over_x_derivative", x), expected,
                       {SIGN: lambda g: -g, DENOMINATOR: lambda g: torch.where(near, g, g * x),
                        SERIES: lambda g: torch.where(near, g / safe, g)},
                       "the derivative")
    def only_through(first: bool):
        def build(t):
            v1, v2 = (1 / t, cut(torch.sin(t))) if first else (cut(1 / t), torch.sin(t))
            return {"f": v1 * v2, V1: v1, V2: v2, "x": t}
        return build
    variants = {mistake: only_through(first) for mistake, first in SIN_OVER_X_PATHS.items()}
    swapped = {ADJOINTS_SWAPPED: lambda g: {V1: g[V2], V2: g[V1]}}
    return [guarded("derivative", derivative),
            *_function_checks(code, "sin_over_x", "sin_over_x", (x,), sin_over_x_value, {SIGN: lambda g: -g}),
            guarded("adjoints", lambda: _adjoint_check("sin_over_x_adjoints",
                                                       code.function(f"{DERIVATIONS}:sin_over_x_adjoints"),
                                                       sin_over_x_nodes, (_points(-2.0, 0.7, 3.0),), variants,
                                                       swapped))]


# ---- 0.9: ax² + bxy + cy² ----------------------------------------------------------------------------------

NO_SQUARES_FACTOR_2 = "the factor 2 of x² and y² is missing"
NO_X_SQUARED_FACTOR_2 = "the factor 2 of x² is missing in ∂f/∂x"
XY_SWAPPED = "∂f/∂x and ∂f/∂y are swapped"
QUADRATIC_PATHS = {  # {mistake: the path cut is the one through x² (else the one through xy)}
    "∂f/∂x keeps only the path through xy (the one through x² is missing)": True,
    "x and y keep only the paths through their squares (the one through xy is missing)": False}
QUADRATIC_MISTAKES = (NO_SQUARES_FACTOR_2, NO_X_SQUARED_FACTOR_2, XY_SWAPPED, SIGN, *FUNCTION_MISTAKES,
                      *QUADRATIC_PATHS)

def check_quadratic_form(code) -> list[CheckOutcome]:
    """Exercise 0.9: ``QuadraticForm.backward`` and ``quadratic_form_adjoints``."""
    generator = seeded(9)
    x, y = (torch.randn(5, dtype=torch.float64, generator=generator) for _ in range(2))
    a, b, c = 1.0, 1.5, 2.0
    plain = lambda a, b, c: (lambda x, y: a * x * x + b * x * y + c * y * y)
    half = torch.cat(autograd_gradients(plain(a / 2, b, c / 2), x, y))
    half_x = torch.cat([autograd_gradients(plain(a / 2, b, c), x, y)[0], autograd_gradients(plain(a, b, c), x, y)[1]])
    mistakes = {NO_SQUARES_FACTOR_2: lambda g: half, NO_X_SQUARED_FACTOR_2: lambda g: half_x,
                XY_SWAPPED: lambda g: g.reshape(2, -1).flip(0).reshape(-1), SIGN: lambda g: -g}

    def only_x() -> CheckOutcome:
        student = code.call(f"{SANDBOX}:quadratic_only_x", x, y, a, b, c)
        return outcome("only x requires grad: its gradient is still right", student,
                       autograd_gradients(lambda t: plain(a, b, c)(t, y), x)[0], {}, "∂f/∂x")

    a2, b2, c2 = -0.5, 2.0, 0.3

    def variant(cut_square: bool):
        def build(tx, ty):
            v1, v2 = (cut(tx * tx), tx * ty) if cut_square else (tx * tx, cut(tx * ty))
            v3 = ty * ty
            v4, v5, v6 = a2 * v1, b2 * v2, c2 * v3
            v7 = v4 + v5
            return {"f": v7 + v6, "v₇": v7, "v₆": v6, "v₅": v5, "v₄": v4, "v₃": v3, "v₂": v2, "v₁": v1, "x": tx,
                    "y": ty}
        return build
    variants = {mistake: variant(cut_square) for mistake, cut_square in QUADRATIC_PATHS.items()}
    return [*_function_checks(code, "quadratic_form", "quadratic_form", (x, y), plain(a, b, c), mistakes, (a, b, c)),
            guarded("only x", only_x),
            guarded("adjoints", lambda: _adjoint_check(
                "quadratic_form_adjoints",
                lambda x, y: code.call(f"{DERIVATIONS}:quadratic_form_adjoints", x, y, a2, b2, c2),
                quadratic_nodes(a2, b2, c2), (x[:3], y[:3]), variants))]


# ---- 0.10: softplus, the logistic and the second derivative ------------------------------------------------

CANCELLATION = "the derivative loses every digit for large x (a difference that rounds to 0)"
NOT_DIFFERENTIABLE = "the backward is not differentiable (built from detached numbers)"
OVERFLOW = "the derivative of ln(1 + eˣ) taken as eˣ (it overflows)"
LOGISTIC_PATHS = {  # {mistake: only the direct path g = v₁·v₃ is kept (else only the one through v₂)}
    "∂g/∂v₁ keeps only its direct path (the one through v₂ is missing)": True,
    "∂g/∂v₁ keeps only the path through v₂": False}
SOFTPLUS_MISTAKES = (SIGMOID_AS_VALUE, CANCELLATION, NOT_DIFFERENTIABLE, OVERFLOW, *FUNCTION_MISTAKES, *LOGISTIC_PATHS)

def _logistic_variant(direct: bool):
    """The graph of g = eˣ/(1 + eˣ) with one of v₁'s two paths cut (``direct``: only g = v₁·v₃ is kept)."""
    def build(t):
        v1 = torch.exp(t)
        v2 = (cut(v1) if direct else v1) + 1
        v3 = 1 / v2
        return {"g": (v1 if direct else cut(v1)) * v3, "v₃": v3, "v₂": v2, "v₁": v1, "x": t}
    return build


def check_softplus(code) -> list[CheckOutcome]:
    """Exercise 0.10: ``Sigmoid.backward``, ``Softplus.backward``, ``softplus_adjoints``, ``logistic_adjoints``."""
    logistic = stable_logistic
    extreme, moderate = _points(-800.0, -50.0, -1.0, 0.0, 2.0, 50.0, 800.0), _points(-5.0, -0.5, 0.0, 1.5, 5.0)
    large = extreme.abs() > 36

    def derivatives(function, order: int):
        """The student's Function by its name (differentiated in the sandbox), or a plain formula here."""
        if isinstance(function, str):
            return code.call(f"{SANDBOX}:repeated_derivative", function, extreme, order)
        leaf = extreme.clone().requires_grad_()
        result = function(leaf)
        for _ in range(order):
            (result,) = torch.autograd.grad(result.sum(), leaf, create_graph=True)
        return result.detach()

    def sigmoid_slope() -> CheckOutcome:
        return outcome("Sigmoid: first derivative for x from -800 to 800 (relative precision)",
                       derivatives("sigmoid", 1), derivatives(logistic, 1),
                       {SIGMOID_AS_VALUE: lambda g: logistic(extreme),
                        CANCELLATION: lambda g: torch.where(large & (extreme > 0), 0 * g, g)}, "σ'")

    def second(name, function, order, logistic_order) -> CheckOutcome:
        return outcome(f"{name}: derivative {order} by double backward (create_graph=True)",
                       derivatives(function, order), derivatives(logistic, logistic_order),
                       {NOT_DIFFERENTIABLE: lambda g: 0 * g},
                       "the derivative")

    def softplus_slope() -> CheckOutcome:
        return outcome("Softplus: first derivative for x from -800 to 800 (finite, relative precision)",
                       derivatives("softplus", 1), logistic(extreme),
                       {OVERFLOW: lambda g: extreme.exp()}, "the slope")

    variants = {mistake: _logistic_variant(direct) for mistake, direct in LOGISTIC_PATHS.items()}
    points = (_points(-3.0, -1.0, 0.0, 1.5, 3.0),)
    return [guarded("sigmoid", sigmoid_slope),
            guarded("sigmoid 2", lambda: second("Sigmoid", "sigmoid", 2, 2)),
            *_function_checks(code, "sigmoid", "sigmoid", (moderate,), logistic, {},
                              which=("gradcheck", "gradgradcheck")),
            guarded("softplus", softplus_slope),
            guarded("softplus 2", lambda: second("Softplus", "softplus", 2, 1)),
            *_function_checks(code, "softplus", "softplus", (moderate,), torch.nn.functional.softplus, {},
                              which=("scaled", "gradcheck", "gradgradcheck")),
            guarded("softplus adjoints", lambda: _adjoint_check(
                "softplus_adjoints", code.function(f"{DERIVATIONS}:softplus_adjoints"), softplus_nodes, points)),
            guarded("logistic adjoints", lambda: _adjoint_check(
                "logistic_adjoints", code.function(f"{DERIVATIONS}:logistic_adjoints"), logistic_nodes, points,
                variants))]


# ---- 0.11: NYU 1.4 (b) -------------------------------------------------------------------------------------

NYU_PATHS = {"∂w/∂z keeps only the path through b (the direct one, w = c + z, is missing)": True,
             "∂w/∂z keeps only the direct path (the one through b is missing)": False}  # {mistake: through b}

def check_nyu_graph(code) -> list[CheckOutcome]:
    """Exercise 0.11: ``graph_derivations.nyu_adjoints(x, y, z, o)`` at three points at once."""
    own = nyu_point()  # the student's own point first
    points = (_points(own["x"], -0.4, 2.5), _points(own["y"], 0.3, -1.0), _points(own["z"], 0.8, 0.7),
              _points(own["o"], -2.0, 1.1))

    def one_path(through_b: bool):
        def build(x, y, z, o):
            a, b = x + y, (z if through_b else cut(z)) * o
            c = a * b
            return {"w": c + (cut(z) if through_b else z), "c": c, "a": a, "b": b, "x": x, "y": y, "z": z, "o": o}
        return build
    variants = {mistake: one_path(through_b) for mistake, through_b in NYU_PATHS.items()}
    return [guarded("nyu", lambda: _adjoint_check("nyu_adjoints", code.function(f"{DERIVATIONS}:nyu_adjoints"),
                                                  nyu_nodes, points, variants))]


# ---- 0.12: the CS475 tables, filled by the student at their own point --------------------------------------

_mul, _add, _sub = (lambda a, b: a * b), (lambda a, b: a + b), (lambda a, b: a - b)
_square = lambda a: a ** 2
# function: (CS475 task, expression, its steps as the engine names and orders them: (step, torch operation,
# operands: input or step names, or constants)). The notebook builds the same expressions with the engine.
CS475_TABLES = {
    "line_loss_table": ("task1", "L = [(wx + b) - y]²",
                        (("p", _mul, ("w", "x")), ("q", _add, ("p", "b")), ("r", _sub, ("q", "y")),
                         ("L", _square, ("r",)))),
    "exp_log_table": ("task2", "f = (w·exp(bx) + ln(wx))·b",
                      (("p", _mul, ("b", "x")), ("q", torch.exp, ("p",)), ("r", _mul, ("w", "q")),
                       ("s", _mul, ("w", "x")), ("t", torch.log, ("s",)), ("u", _add, ("r", "t")),
                       ("f", _mul, ("u", "b")))),
    "sigmoid_table": ("task3", "σ = 1/(1 + exp(-x))",
                      (("p", lambda a: -a, ("x",)), ("q", torch.exp, ("p",)), ("r", _add, (1.0, "q")),
                       ("σ", lambda a, b: a / b, (1.0, "r")))),
    "neuron_table": ("task4", "L = [σ(wx + b) - y]²",
                     (("p", _mul, ("w", "x")), ("q", _add, ("p", "b")), ("r", torch.sigmoid, ("q",)),
                      ("s", _sub, ("r", "y")), ("L", _square, ("s",)))),
    "two_neuron_table": ("task5", "f = [y - σ(w₂σ(w₁x + b₁) + b₂)]² + λ(w₁² + w₂²)",
                         (("p", _mul, ("w₁", "x")), ("q", _add, ("p", "b₁")), ("r", torch.sigmoid, ("q",)),
                          ("s", _mul, ("w₂", "r")), ("t", _add, ("s", "b₂")), ("u", torch.sigmoid, ("t",)),
                          ("v", _sub, ("y", "u")), ("g", _square, ("v",)), ("h", _square, ("w₁",)),
                          ("k", _square, ("w₂",)), ("m", _add, ("h", "k")), ("n", _mul, ("λ", "m")),
                          ("f", _add, ("g", "n")))),
}
TABLE_TOLERANCE = (1e-3, 1e-4)  # (relative, absolute): numbers written by hand to four significant digits pass
TABLE_FORM = ("must be a dict {step: (value, {operand: local gradient}, gradient of the output)}, one entry per "
              "step of the table")
TABLE_MISTAKES = (TABLE_FORM, "wrong entries: each named (`q: its value`, `q: ∂q/∂p`, `q: ∂L/∂q (backward)`), "
                              "at your own point")


def cs475_table_reference(function: str, point: Mapping[str, float]) -> dict:
    """The table ``function`` (a key of :data:`CS475_TABLES`) at ``point`` by torch autograd in float64:
    {step: (value, {operand: ∂step/∂operand}, ∂output/∂step)} (floats; constants get no local gradient)."""
    _, _, spec = CS475_TABLES[function]
    tensors = {name: torch.tensor(float(value), dtype=torch.float64, requires_grad=True)
               for name, value in point.items()}
    locals_ = {}
    for step, operation, operands in spec:
        args = [tensors[o] if isinstance(o, str) else torch.tensor(o, dtype=torch.float64) for o in operands]
        tensors[step] = operation(*args)
        # the local gradient: the step alone, its operands as fresh leaves (not through the rest of the graph)
        _, slopes = local_gradients_reference(operation)(*(a.item() for a in args))
        locals_[step] = {o: slope for o, slope in zip(operands, slopes) if isinstance(o, str)}
    steps = [step for step, _, _ in spec]
    gradients = torch.autograd.grad(tensors[steps[-1]], [tensors[s] for s in steps])
    return {step: (tensors[step].item(), locals_[step], g.item()) for step, g in zip(steps, gradients)}


def _entry_close(student, reference: float) -> bool:
    if isinstance(student, bool) or not isinstance(student, (int, float)) or not math.isfinite(student):
        return False
    relative, absolute = TABLE_TOLERANCE
    return abs(student - reference) <= absolute + relative * abs(reference)


def table_outcome(title: str, student, reference: dict, output: str) -> CheckOutcome:
    """The student's table against the reference, entry by entry: each wrong entry is named (the step and
    which of its numbers), never its expected value."""
    if not isinstance(student, Mapping) or set(student) != set(reference):
        got = sorted(map(str, student)) if isinstance(student, Mapping) else type(student).__name__
        return CheckOutcome(title, False, f"the table {TABLE_FORM}: steps {', '.join(reference)}; got {got}")
    wrong = []
    for step, (value, slopes, gradient) in reference.items():
        row = student[step]
        if not isinstance(row, (tuple, list)) or len(row) != 3 or not isinstance(row[1], Mapping):
            wrong.append(f"{step} (not a (value, {{operand: local gradient}}, gradient) triple)")
            continue
        if not _entry_close(row[0], value):
            wrong.append(f"{step}: its value")
        if set(row[1]) != set(slopes):
            wrong.append(f"{step}: the local gradients must be for the operands {', '.join(slopes)}")
        else:
            wrong += [f"{step}: ∂{step}/∂{o}" for o, slope in slopes.items() if not _entry_close(row[1][o], slope)]
        if not _entry_close(row[2], gradient):
            wrong.append(f"{step}: ∂{output}/∂{step} (backward)")
    if not wrong:
        return CheckOutcome(title, True)
    return CheckOutcome(title, False, "wrong entries: " + "; ".join(wrong))


def check_cs475_tables(code) -> list[CheckOutcome]:
    """Exercise 0.12: the five CS475 tables, each ``name(point) -> {step: (value, {operand: local}, gradient)}``,
    checked at the student's own point (:func:`helpers.data.question_points.cs475_point`)."""
    outcomes = []
    for function, (task, expression, spec) in CS475_TABLES.items():
        point = cs475_point(task)
        title = f"{function}: the table of {expression} at your point ({', '.join(f'{k} = {v:g}' for k, v in point.items())})"
        student_function = _notebook_function(code, function)
        output = spec[-1][0]
        outcomes.append(guarded(function, lambda: table_outcome(title, student_function(dict(point)),
                                                               cs475_table_reference(function, point), output)))
    return outcomes


# ---- the CS-587 part B derivations, as the notebook reports them ------------------------------------------

def check_derivation(derived: Sequence[torch.Tensor], references: Mapping[str, Callable[..., torch.Tensor]],
                     inputs: Sequence[torch.Tensor], input_names: Sequence[str]) -> list[GradientComparison]:
    """Compare a derived gradient with every reference's autograd gradient and with central differences.

    ``derived``: one tensor per input, the hand-derived ∂f/∂input element by element (shape of the input);
    ``references``: name -> an element-wise function f (tensors of the inputs' shape in, same shape out)
    whose autograd gradient the derivation must match (tolerance 1e-10); the first reference is also
    differentiated by central differences (h = 1e-6, tolerance 1e-6). ``inputs``: float64 tensors, one shape.
    """
    if not references:
        raise ValueError("check_derivation needs at least one reference function")
    if not len(derived) == len(inputs) == len(input_names):
        raise ValueError(f"derived ({len(derived)}), inputs ({len(inputs)}) and input_names ({len(input_names)}) "
                         "must have one entry per input")
    for tensor in inputs:
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float64:
            raise TypeError(f"inputs must be float64 tensors (finite differences need them), got "
                            f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
    rows = []
    for reference_name, function in references.items():
        gradients = autograd_gradients(function, *inputs)
        rows += [compare(f"∂/∂{name} vs {reference_name}", formula, gradient, AUTOGRAD_TOLERANCE)
                 for name, formula, gradient in zip(input_names, derived, gradients)]
    first = next(iter(references.values()))
    copies = tuple(t.detach().clone() for t in inputs)
    numerical = [numerical_gradient(lambda: first(*copies).sum(), copy) for copy in copies]
    f_value = first(*copies).sum().item()
    rows += [compare(f"∂/∂{name} vs central differences", formula, gradient, FINITE_DIFFERENCE_TOLERANCE, f_value)
             for name, formula, gradient in zip(input_names, derived, numerical)]
    return rows


# ---- the CS-587 part B derivations -------------------------------------------------------------------

QUADRATIC_COEFFICIENTS = (1.0, 1.5, 2.0)  # a, b, c


def softplus_slope(x: torch.Tensor) -> torch.Tensor:
    """d/dx softplus(x) by the Softplus Function's backward, kept differentiable (create_graph=True), so
    that its gradient is the Function's double backward (x: float64 tensor; same shape out)."""
    leaf = x if x.requires_grad else x.detach().requires_grad_()
    (slope,) = torch.autograd.grad(softplus(leaf).sum(), leaf, create_graph=True)
    return slope


@dataclass(frozen=True)
class Derivation:
    """One hand derivation: its formula (``*_adjoints``), the inputs it is checked at, and the functions
    whose gradients it must equal (the custom Function's backward first, then plain torch operations).
    ``inputs``: float64 tensors of one shape (1-D, a few points), one per name in ``input_names``."""
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    adjoints: Callable[..., dict]
    references: Mapping[str, Callable[..., torch.Tensor]]

    def check(self) -> list[GradientComparison]:
        derived = self.adjoints(*self.inputs)
        return check_derivation([derived[name] for name in self.input_names], self.references, self.inputs,
                                self.input_names)


def cs587_derivations() -> dict[str, Derivation]:
    """The four derivations of CS-587 part B, at points on both sides of every branch of the Functions
    (the Taylor branch of sin(x)/x below |x| = 0.5, both signs for softplus and the logistic); every input
    is a 1-D float64 tensor of 4 or 5 points."""
    a, b, c = QUADRATIC_COEFFICIENTS
    return {
        "sin(x)/x": Derivation((_points(-7.0, -2.0, 0.3, 0.7, 3.0),), ("x",), sin_over_x_adjoints,
                               {"SinOverX.backward": sin_over_x, "autograd of sin(x)/x": lambda x: torch.sin(x) / x}),
        "ax² + bxy + cy²": Derivation(
            (_points(1.0, -0.5, 2.0, 0.0), _points(-2.0, 1.5, 0.25, 3.0)), ("x", "y"),
            lambda x, y: quadratic_form_adjoints(x, y, a, b, c),
            {"QuadraticForm.backward": lambda x, y: quadratic_form(x, y, a, b, c),
             "autograd of ax² + bxy + cy²": lambda x, y: a * x * x + b * x * y + c * y * y}),
        "ln(1 + eˣ)": Derivation((_points(-20.0, -1.0, 0.0, 1.5, 20.0),), ("x",), softplus_adjoints,
                                 {"Softplus.backward": softplus,
                                  "autograd of ln(1 + eˣ)": lambda x: torch.log(1 + torch.exp(x))}),
        "eˣ/(1 + eˣ)": Derivation((_points(-20.0, -1.0, 0.0, 1.5, 20.0),), ("x",), logistic_adjoints,
                                  {"Sigmoid.backward": sigmoid, "Softplus double backward": softplus_slope,
                                   "autograd of eˣ/(1 + eˣ)": lambda x: torch.exp(x) / (1 + torch.exp(x))}),
    }


# ---- the registry --------------------------------------------------------------------------------------------

# The tools each exercise's code must not call (helpers.checks.sandbox_worker.BLOCKS). 0.1 trains with autograd
# and writes the update itself: torch.optim is refused (it is what its stand-in, fit_line_reference, uses,
# so the stand-in is no answer); the derivations and the engine are by hand. For the custom Functions (0.8–0.10) the check's harness drives autograd itself and
# runs the student's backward as the student's code: a backward that calls autograd on the forward formula
# (torch.autograd.grad, torch.func.vjp) is refused, Function.apply and differentiable operations are not.
# 0.3 also refuses the engine's own graph walk (scalar_autodiff.post_order and the reference walk): the
# check's sandbox code guards them (helpers.checks.nb00_graphs_sandbox).
FORBID_FIT_LINE = ("torch.optim", "references")
HAND = ("autograd", "references")
FORBID_REVERSE_MODE = HAND


ENGINE = "helpers.scalar_autodiff"
AUTOGRAD_LOCAL = "torch autograd's local gradients"
BY_GRAPH = "torch autograd of the same graph"
BY_VJP = "torch.func.vjp of the forward"
PRIMITIVE_OPERATIONS = {"ADD": lambda a, b: a + b, "SUB": lambda a, b: a - b, "MUL": lambda a, b: a * b,
                        "DIV": lambda a, b: a / b, "NEG": lambda a: -a, "EXP": torch.exp, "LOG": torch.log,
                        "SIN": torch.sin, "COS": torch.cos, "TANH": torch.tanh,
                        # σ written so that its autograd keeps the tiny slope far out (torch.sigmoid's rounds to 0)
                        "SIGMOID": lambda a: 1 / (1 + (-a).exp()) if a >= 0 else a.exp() / (1 + a.exp()),
                        "POW": lambda a, b: a ** b}

EXERCISES = (
    Exercise("0.1", "linear regression with autograd", AUTOGRAD_NOTEBOOK, "CS-587 A", 2,
             (f"{AUTOGRAD_NOTEBOOK}.ipynb",), ("fit_line",),
             check_fit_line, FIT_MISTAKES, forbid=FORBID_FIT_LINE,
             stand_ins={"__notebook__:fit_line": (fit_line_reference, "torch.optim.SGD")}),
    Exercise("0.2", "the primitives' local gradients", CHAIN_RULE_NOTEBOOK, "CS475 (primitives of every table)", 2,
             ("helpers/scalar_autodiff.py", "helpers/chain_rule.py"),
             ("ADD", "SUB", "MUL", "DIV", "NEG", "EXP", "LOG", "SIN", "COS", "SIGMOID", "TANH", "POW", "POWER",
              "local_gradient_formulas (text, not graded)"),
             check_primitives, PRIMITIVE_MISTAKES, forbid=HAND,
             stand_ins={**{f"{ENGINE}:{name}": (local_gradients_reference(operation), AUTOGRAD_LOCAL)
                           for name, operation in PRIMITIVE_OPERATIONS.items()},
                        f"{ENGINE}:POWER": (power_reference, AUTOGRAD_LOCAL),
                        "helpers.chain_rule:local_gradient_formulas": (local_gradient_formulas_reference,
                                                                        "numbers only, no formulas")}),
    Exercise("0.3", "reverse mode: topological order and the backward sweep", CHAIN_RULE_NOTEBOOK,
             "CS475 task 6, micrograd", 3, ("helpers/scalar_autodiff.py",), ("topological_order", "Value.backward"),
             check_reverse_mode, REVERSE_MODE_MISTAKES, forbid=FORBID_REVERSE_MODE,
             stand_ins={f"{ENGINE}:topological_order": (topological_order_reference, "the depth-first search of post_order"),
                        f"{ENGINE}:Value.backward": (backward_reference, "torch autograd of the recorded graph")}),
    Exercise("0.4", "CS475 task 1: the squared error of a line by hand", CHAIN_RULE_NOTEBOOK, "CS475 task 1", 1,
             (f"{CHAIN_RULE_NOTEBOOK}.ipynb",), ("line_loss_gradients",), check_line_loss_gradients,
             LINE_LOSS_MISTAKES, forbid=HAND,
             stand_ins={"__notebook__:line_loss_gradients": (line_loss_reference, "torch autograd")}),
    Exercise("0.5", "CS475 task 2: (w e^{bx} + ln(wx)) b by hand", CHAIN_RULE_NOTEBOOK, "CS475 task 2", 2,
             (f"{CHAIN_RULE_NOTEBOOK}.ipynb",),
             ("exp_log_gradients",), check_exp_log_gradients,
             tuple(EXP_LOG_MISTAKES), forbid=HAND,
             stand_ins={"__notebook__:exp_log_gradients": (exp_log_reference, "torch autograd")}),
    Exercise("0.6", "CS475 tasks 0 and 4: one sigmoid neuron by hand", CHAIN_RULE_NOTEBOOK, "CS475 tasks 0, 4", 1,
             ("helpers/graph_derivations.py",), ("sigmoid_neuron_gradients",), check_sigmoid_neuron,
             NEURON_MISTAKES, forbid=HAND,
             stand_ins={f"{DERIVATIONS}:sigmoid_neuron_gradients": (sigmoid_neuron_gradients_reference, "torch autograd of the loss")}),
    Exercise("0.7", "CS475 task 5: two neurons with weight decay by hand", CHAIN_RULE_NOTEBOOK, "CS475 task 5", 2,
             (f"{CHAIN_RULE_NOTEBOOK}.ipynb",), ("two_neuron_gradients",), check_two_neuron_gradients,
             TWO_NEURON_MISTAKES, forbid=HAND,
             stand_ins={"__notebook__:two_neuron_gradients": (two_neuron_reference, "torch autograd")}),
    Exercise("0.8", "custom Function sin(x)/x and its graph", AUTOGRAD_NOTEBOOK, "CS-587 B (one variable)", 3,
             ("helpers/custom_functions.py", "helpers/graph_derivations.py"),
             ("sin_over_x_derivative", "SinOverX.backward", "sin_over_x_adjoints"), check_sin_over_x,
             SIN_OVER_X_MISTAKES, forbid=HAND,
             stand_ins={"helpers.custom_functions:sin_over_x_derivative": (sin_over_x_derivative_reference,
                                                                          "torch.func.vjp of sin_over_x_value"),
                        "helpers.custom_functions:SinOverX.backward": (backward_by_vjp(sin_over_x_value), BY_VJP),
                        f"{DERIVATIONS}:sin_over_x_adjoints": (adjoints_by_autograd(sin_over_x_nodes), BY_GRAPH)}),
    Exercise("0.9", "custom Function ax² + bxy + cy² and its graph", AUTOGRAD_NOTEBOOK, "CS-587 B (two variables)", 2,
             ("helpers/custom_functions.py", "helpers/graph_derivations.py"),
             ("QuadraticForm.backward", "quadratic_form_adjoints"), check_quadratic_form,
             QUADRATIC_MISTAKES, forbid=HAND,
             stand_ins={"helpers.custom_functions:QuadraticForm.backward": (quadratic_form_backward_reference, BY_VJP),
                        f"{DERIVATIONS}:quadratic_form_adjoints": (quadratic_form_adjoints_reference, BY_GRAPH)}),
    Exercise("0.10", "softplus, the logistic and the second derivative", AUTOGRAD_NOTEBOOK,
             "CS-587 B (softplus, second order)", 3, ("helpers/custom_functions.py", "helpers/graph_derivations.py"),
             ("Sigmoid.backward", "Softplus.backward", "softplus_adjoints", "logistic_adjoints"),
             check_softplus, SOFTPLUS_MISTAKES, forbid=HAND,
             stand_ins={"helpers.custom_functions:Sigmoid.backward": (backward_by_vjp(stable_logistic), BY_VJP),
                        "helpers.custom_functions:Softplus.backward": (softplus_backward_reference,
                                                                       "the logistic in plain torch"),
                        f"{DERIVATIONS}:softplus_adjoints": (adjoints_by_autograd(softplus_nodes), BY_GRAPH),
                        f"{DERIVATIONS}:logistic_adjoints": (adjoints_by_autograd(logistic_nodes), BY_GRAPH)}),
    Exercise("0.11", "the graph of a = x + y, b = z·o, c = a·b, w = c + z", GRAPH_NOTEBOOK, "NYU HW1 §1.4 (b)", 1,
             ("helpers/graph_derivations.py",), ("nyu_adjoints",), check_nyu_graph,
             tuple(NYU_PATHS), forbid=HAND,
             stand_ins={f"{DERIVATIONS}:nyu_adjoints": (adjoints_by_autograd(nyu_nodes), BY_GRAPH)}),
    Exercise("0.12", "CS475 tasks 1-5: the tables at your own point", CHAIN_RULE_NOTEBOOK,
             "CS475 tasks 1-5 (the tables)", 3,
             (f"{CHAIN_RULE_NOTEBOOK}.ipynb",), tuple(CS475_TABLES), check_cs475_tables, TABLE_MISTAKES, forbid=HAND),
    # no stand-ins: nothing in the notebook needs the tables, and a reference standing in would print them
)
