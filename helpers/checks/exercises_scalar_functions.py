"""Checks of notebook 00's derivation and custom-Function exercises: 0.6 (CS475 tasks 0 and 4, the sigmoid
neuron), 0.8–0.10 (CS-587 part B: sin(x)/x, ax² + bxy + cy², softplus and the second derivative) and 0.11
(NYU 1.4 (b)).

Derivations (``*_adjoints``) are compared node by node with torch autograd of the same graph written in
torch; the Functions with autograd of the plain formula, and in the manner of ``torch.autograd.gradcheck`` and
``gradgradcheck``: the Jacobian that autograd gets through the student's backward (and the Jacobian of the
backward itself) against central differences, float64, computed here from the plain formula. A mistake's
result comes from the same torch graph with an edge cut.

The student's code runs in the sandbox (``code``): the derivations are called with tensors; the Functions
are differentiated there by :mod:`helpers.checks.harness_scalar`, which drives autograd as harness code and
runs the student's ``backward`` as the student's code (under ``forbid=("autograd", ...)`` a backward that
calls autograd on the forward formula is refused), and returns the numbers only. No verdict comes from the
sandbox: gradcheck's boolean there would be the student's process's word.
"""
from __future__ import annotations

import torch

from helpers import custom_functions, graph_derivations
from helpers.checks.toolkit import CheckOutcome
from helpers.checks.scalar_check_tools import autograd_gradients, dict_outcome, guarded, outcome
from helpers.custom_functions import sin_over_x_value, stable_logistic
from helpers.graph_derivations import (V1, V2, adjoints_by_autograd, logistic_nodes, nyu_nodes, quadratic_nodes,
                                       sin_over_x_nodes, softplus_nodes)

HARNESS = "helpers.checks.harness_scalar"
DERIVATIONS = "helpers.graph_derivations"
GRADCHECK_RTOL, GRADCHECK_ATOL, FD_STEP = 1e-3, 1e-5, 1e-6  # torch.autograd.gradcheck's defaults

SIGN = "sign error"
NOT_SCALED = "backward ignores grad_output (the upstream gradient must multiply the local one)"


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


def _numerical_jacobian(function, inputs) -> torch.Tensor:
    """Central differences (h = 1e-6) of ``function(*inputs)`` (flattened) w.r.t. every entry of the inputs:
    rows the outputs, columns the inputs' entries in order (float64)."""
    columns = []
    for k, tensor in enumerate(inputs):
        for j in range(tensor.numel()):
            shifted = []
            for sign in (1, -1):
                moved = [t.clone() for t in inputs]
                moved[k].view(-1)[j] += sign * FD_STEP
                shifted.append(function(*moved).reshape(-1))
            columns.append((shifted[0] - shifted[1]) / (2 * FD_STEP))
    return torch.stack(columns, 1)


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


def _jacobian_outcome(name: str, student, numerical: torch.Tensor, what: str) -> CheckOutcome:
    student = torch.as_tensor(student, dtype=torch.float64)
    ok = (student.shape == numerical.shape and bool(torch.isfinite(student).all())
          and torch.allclose(student, numerical, rtol=GRADCHECK_RTOL, atol=GRADCHECK_ATOL))
    return CheckOutcome(name, ok, "" if ok else f"the {what} disagrees with central differences")


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
                memo["run"] = code.call(f"{HARNESS}:function_derivatives", name, list(inputs), list(coefficients),
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
        numerical = _numerical_jacobian(reference_function, inputs)
        return _jacobian_outcome(f"{title}: gradcheck (the Jacobian through your backward vs central differences)",
                                 run()["jacobian"], numerical, "backward")

    def by_gradgradcheck() -> CheckOutcome:
        numerical = _numerical_jacobian(_reference_backward(reference_function, len(inputs)),
                                        [*inputs, second_upstream])
        return _jacobian_outcome(f"{title}: gradgradcheck (the Jacobian of your backward vs central differences)",
                                 run()["second"], numerical, "backward's own derivative (double backward)")
    checks = {"first": first, "scaled": scaled, "gradcheck": by_gradcheck, "gradgradcheck": by_gradgradcheck}
    return [guarded(key, checks[key]) for key in which]


def cut(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor``'s value as a new leaf that requires grad: the path behind it carries no gradient, while
    the node itself still gets one (for the graphs' mistaken variants)."""
    return tensor.detach().requires_grad_()


# ---- 0.6: CS475 tasks 0 and 4 --------------------------------------------------------------------------

def check_sigmoid_neuron(code) -> list[CheckOutcome]:
    """Exercise 0.6: ``graph_derivations.sigmoid_neuron_gradients(w, x, b, y)`` at four points at once."""
    w, x, b, y = _points(0.8, -1.2, 2.0, 0.1), _points(1.5, 0.3, -0.7, 4.0), _points(-0.4, 0.9, 0.2, -1.0), \
        _points(1.0, 0.0, 0.5, -0.3)
    s = torch.sigmoid(w * x + b)
    extra = {"σ' written as σ alone": lambda g: {k: g[k] / (1 - s) for k in "wxb"},
             "the factor 2 from the square is missing": lambda g: {k: v / 2 for k, v in g.items()},
             "the inner derivative is missing (in ∂L/∂w and ∂L/∂x)": lambda g: {"w": g["b"], "x": g["b"]},
             "sign error in ∂L/∂y": lambda g: {"y": -g["y"]}}

    def check() -> CheckOutcome:
        reference = {k: v for k, v in adjoints_by_autograd(graph_derivations.neuron_loss_nodes)(w, x, b, y).items()
                     if k != "L"}
        student = code.call(f"{DERIVATIONS}:sigmoid_neuron_gradients", w, x, b, y)
        return dict_outcome("∂L/∂w, ∂L/∂x, ∂L/∂b, ∂L/∂y vs torch autograd at 4 points", student, reference,
                            extra)
    return [guarded("sigmoid neuron", check)]


# ---- 0.8: sin(x)/x --------------------------------------------------------------------------------------

def check_sin_over_x(code) -> list[CheckOutcome]:
    """Exercise 0.8: ``sin_over_x_derivative``, ``SinOverX.backward`` and ``sin_over_x_adjoints``."""
    x = _points(-7.0, -2.0, -0.6, -0.3, 1e-3, 0.0, 0.2, 0.5, 3.0)
    near = x.abs() < custom_functions.SINC_TAYLOR_THRESHOLD

    def derivative() -> CheckOutcome:
        expected = custom_functions.sin_over_x_slope_by_vjp(x)
        safe = torch.where(x == 0, torch.ones_like(x), x)
        return outcome("sin_over_x_derivative at 9 points, both branches and x = 0 (vs torch.func.vjp)",
                       code.call("helpers.custom_functions:sin_over_x_derivative", x), expected,
                       {SIGN: lambda g: -g, "the closed form's denominator is wrong":
                            lambda g: torch.where(near, g, g * x),
                        "the series near 0 is off by a factor": lambda g: torch.where(near, g / safe, g)},
                       "the derivative")
    def only_through(first: bool):
        def build(t):
            v1, v2 = (1 / t, cut(torch.sin(t))) if first else (cut(1 / t), torch.sin(t))
            return {"f": v1 * v2, V1: v1, V2: v2, "x": t}
        return build
    variants = {"∂f/∂x keeps only the path through v₁": only_through(True),
                "∂f/∂x keeps only the path through v₂": only_through(False)}
    swapped = {"∂f/∂v₁ and ∂f/∂v₂ are swapped": lambda g: {V1: g[V2], V2: g[V1]}}
    return [guarded("derivative", derivative),
            *_function_checks(code, "sin_over_x", "sin_over_x", (x,), sin_over_x_value, {SIGN: lambda g: -g}),
            guarded("adjoints", lambda: _adjoint_check("sin_over_x_adjoints",
                                                       code.function(f"{DERIVATIONS}:sin_over_x_adjoints"),
                                                       sin_over_x_nodes, (_points(-2.0, 0.7, 3.0),), variants,
                                                       swapped))]


# ---- 0.9: ax² + bxy + cy² ----------------------------------------------------------------------------------

def check_quadratic_form(code) -> list[CheckOutcome]:
    """Exercise 0.9: ``QuadraticForm.backward`` and ``quadratic_form_adjoints``."""
    generator = torch.Generator().manual_seed(9)
    x, y = (torch.randn(5, dtype=torch.float64, generator=generator) for _ in range(2))
    a, b, c = 1.0, 1.5, 2.0
    plain = lambda a, b, c: (lambda x, y: a * x * x + b * x * y + c * y * y)
    half = torch.cat(autograd_gradients(plain(a / 2, b, c / 2), x, y))
    half_x = torch.cat([autograd_gradients(plain(a / 2, b, c), x, y)[0], autograd_gradients(plain(a, b, c), x, y)[1]])
    mistakes = {"the factor 2 of x² and y² is missing": lambda g: half,
                "the factor 2 of x² is missing in ∂f/∂x": lambda g: half_x,
                "∂f/∂x and ∂f/∂y are swapped": lambda g: g.reshape(2, -1).flip(0).reshape(-1), SIGN: lambda g: -g}

    def only_x() -> CheckOutcome:
        student = code.call(f"{HARNESS}:quadratic_only_x", x, y, a, b, c)
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
    variants = {"∂f/∂x keeps only the path through xy (the one through x² is missing)": variant(True),
                "x and y keep only the paths through their squares (the one through xy is missing)": variant(False)}
    return [*_function_checks(code, "quadratic_form", "quadratic_form", (x, y), plain(a, b, c), mistakes, (a, b, c)),
            guarded("only x", only_x),
            guarded("adjoints", lambda: _adjoint_check(
                "quadratic_form_adjoints",
                lambda x, y: code.call(f"{DERIVATIONS}:quadratic_form_adjoints", x, y, a2, b2, c2),
                quadratic_nodes(a2, b2, c2), (x[:3], y[:3]), variants))]


# ---- 0.10: softplus, the logistic and the second derivative ------------------------------------------------

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
            return code.call(f"{HARNESS}:repeated_derivative", function, extreme, order)
        leaf = extreme.clone().requires_grad_()
        result = function(leaf)
        for _ in range(order):
            (result,) = torch.autograd.grad(result.sum(), leaf, create_graph=True)
        return result.detach()

    def sigmoid_slope() -> CheckOutcome:
        return outcome("Sigmoid: first derivative for x from -800 to 800 (relative precision)",
                       derivatives("sigmoid", 1), derivatives(logistic, 1),
                       {"σ' written as σ alone": lambda g: logistic(extreme),
                        "the derivative loses every digit for large x (a difference that rounds to 0)":
                            lambda g: torch.where(large & (extreme > 0), 0 * g, g)}, "σ'")

    def second(name, function, order, logistic_order) -> CheckOutcome:
        return outcome(f"{name}: derivative {order} by double backward (create_graph=True)",
                       derivatives(function, order), derivatives(logistic, logistic_order),
                       {"the backward is not differentiable (built from detached numbers)": lambda g: 0 * g},
                       "the derivative")

    def softplus_slope() -> CheckOutcome:
        return outcome("Softplus: first derivative for x from -800 to 800 (finite, relative precision)",
                       derivatives("softplus", 1), logistic(extreme),
                       {"the derivative of ln(1 + eˣ) taken as eˣ (it overflows)": lambda g: extreme.exp()}, "the slope")

    variants = {"∂g/∂v₁ keeps only its direct path (the one through v₂ is missing)": _logistic_variant(True),
                "∂g/∂v₁ keeps only the path through v₂": _logistic_variant(False)}
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

def check_nyu_graph(code) -> list[CheckOutcome]:
    """Exercise 0.11: ``graph_derivations.nyu_adjoints(x, y, z, o)`` at three points at once."""
    points = (_points(1.0, -0.4, 2.5), _points(2.0, 0.3, -1.0), _points(-1.5, 0.8, 0.7), _points(0.5, -2.0, 1.1))

    def one_path(through_b: bool):
        def build(x, y, z, o):
            a, b = x + y, (z if through_b else cut(z)) * o
            c = a * b
            return {"w": c + (cut(z) if through_b else z), "c": c, "a": a, "b": b, "x": x, "y": y, "z": z, "o": o}
        return build
    variants = {"∂w/∂z keeps only the path through b (the direct one, w = c + z, is missing)": one_path(True),
                "∂w/∂z keeps only the direct path (the one through b is missing)": one_path(False)}
    return [guarded("nyu", lambda: _adjoint_check("nyu_adjoints", code.function(f"{DERIVATIONS}:nyu_adjoints"),
                                                  nyu_nodes, points, variants))]
