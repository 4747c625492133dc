"""Hand-built computational graphs with named intermediate variables, and the chain-rule derivations
that go with them (NYU homework 1 §1.4 (b), CS-587 part B, CS475 task 0).

Each ``*_graph`` function builds one expression in the scalar engine (:mod:`helpers.scalar_autodiff`),
naming every intermediate value (a, b, c or v₁, v₂, ...) so that the drawing
(:func:`helpers.plots.graph_drawing.draw_graph`) and the chain-rule table show the same names as the
derivation. Each ``*_adjoints`` function is that derivation written out: ∂f/∂(node) for every named node,
computed from the formulas derived by hand, never from the graph. :func:`compare_adjoints` puts the two
side by side; the checks (:mod:`helpers.checks.nb00_graphs`) check the input gradients against the custom
autograd Functions of :mod:`helpers.custom_functions`, autograd and central differences.

All ``*_adjoints`` functions take scalars or float64 tensors of any (common) shape and return a dict
{node name: tensor of that shape}; the gradient of the output w.r.t. an input is the entry of that input.
"""
from __future__ import annotations

from typing import Mapping

import torch

from helpers.scalar_autodiff import Value, exp, format_number, log, node_names, sin, topological_order

V1, V2, V3, V4, V5, V6, V7 = (f"v{digit}" for digit in "₁₂₃₄₅₆₇")


def _named(value: Value, name: str) -> Value:
    """The scalar ``value``, labelled ``name`` for tables and drawings."""
    value.label = name
    return value


def _labelled_constant(number: float, name: str) -> Value:
    """A scalar constant (no gradient) shown in tables and drawings by its name, e.g. the coefficient ``a``."""
    return _named(Value.constant(number), name)


def _as_float64(*values) -> tuple[torch.Tensor, ...]:
    """Each value (a number or a tensor of any shape) as a float64 tensor of the same shape."""
    return tuple(torch.as_tensor(v, dtype=torch.float64) for v in values)


# ---- NYU 1.4 (b): a = x + y, b = z·o, c = a·b, w = c + z -------------------------------------------

def nyu_graph(x: float, y: float, z: float, o: float) -> Value:
    """w = (x + y)·(z·o) + z through the named steps a, b, c (scalars in, the scalar w out); z feeds
    two primitives, so its gradient is a sum of two paths."""
    xv, yv, zv, ov = Value(x, "x"), Value(y, "y"), Value(z, "z"), Value(o, "o")
    a = _named(xv + yv, "a")
    b = _named(zv * ov, "b")
    c = _named(a * b, "c")
    return _named(c + zv, "w")


def nyu_adjoints(x, y, z, o) -> dict[str, torch.Tensor]:
    """∂w/∂(node) derived by hand for every named node w, c, a, b, x, y, z, o (exercise 0.11).
    Shapes: every entry has the shape of the (broadcast) inputs."""
    x, y, z, o = _as_float64(x, y, z, o)
    ### BEGIN SOLUTION
    a, b = x + y, z * o
    one = torch.ones_like(a * b)
    # z feeds b and w: two paths, summed.
    return {"w": one, "c": one, "a": b * one, "b": a * one, "x": b * one, "y": b * one,
            "z": a * o + 1, "o": a * z}
    ### END SOLUTION


# ---- CS-587 part B ----------------------------------------------------------------------------------

def sin_over_x_graph(x: float) -> Value:
    """f = sin(x)/x as v₁ = 1/x, v₂ = sin(x), f = v₁·v₂ (x: a non-zero scalar)."""
    xv = Value(x, "x")
    v1 = _named(1 / xv, V1)
    v2 = _named(sin(xv), V2)
    return _named(v1 * v2, "f")


def sin_over_x_adjoints(x) -> dict[str, torch.Tensor]:
    """∂f/∂(node) derived by hand for f, v₁, v₂ and x of :func:`sin_over_x_graph` (exercise 0.8; x ≠ 0).
    Shapes: every entry has the shape of x."""
    (x,) = _as_float64(x)
    ### BEGIN SOLUTION
    v1, v2 = 1 / x, torch.sin(x)
    # x feeds v₁ and v₂: two paths, summed.
    return {"f": torch.ones_like(x), V1: v2, V2: v1, "x": v2 * (-1 / x ** 2) + v1 * torch.cos(x)}
    ### END SOLUTION


def quadratic_form_graph(x: float, y: float, a: float, b: float, c: float) -> Value:
    """f = ax² + bxy + cy² as v₁ = x², v₂ = x·y, v₃ = y², v₄ = a·v₁, v₅ = b·v₂, v₆ = c·v₃, v₇ = v₄ + v₅,
    f = v₇ + v₆; a, b, c are named constants (no gradient). Scalars in, the scalar f out."""
    xv, yv = Value(x, "x"), Value(y, "y")
    av, bv, cv = (_labelled_constant(number, name) for number, name in ((a, "a"), (b, "b"), (c, "c")))
    v1, v2, v3 = _named(xv ** 2, V1), _named(xv * yv, V2), _named(yv ** 2, V3)
    v4, v5, v6 = _named(av * v1, V4), _named(bv * v2, V5), _named(cv * v3, V6)
    v7 = _named(v4 + v5, V7)
    return _named(v7 + v6, "f")


def quadratic_form_adjoints(x, y, a: float, b: float, c: float) -> dict[str, torch.Tensor]:
    """∂f/∂(node) derived by hand for f, v₁ … v₇, x and y of :func:`quadratic_form_graph` (exercise 0.9;
    a, b, c numbers). Shapes: every entry has the shape of the (broadcast) x and y."""
    x, y = _as_float64(x, y)
    ### BEGIN SOLUTION
    one = torch.ones_like(x * y)
    # Sums pass the gradient on unchanged, scalings multiply it by their coefficient, x and y have two paths.
    return {"f": one, V7: one, V6: one, V5: one, V4: one, V3: c * one, V2: b * one, V1: a * one,
            "x": a * 2 * x + b * y, "y": b * x + c * 2 * y}
    ### END SOLUTION


def softplus_graph(x: float) -> Value:
    """f = ln(1 + eˣ) as v₁ = eˣ, v₂ = 1 + v₁, f = ln(v₂) (a scalar in and out)."""
    xv = Value(x, "x")
    v1 = _named(exp(xv), V1)
    v2 = _named(1 + v1, V2)
    return _named(log(v2), "f")


def softplus_adjoints(x) -> dict[str, torch.Tensor]:
    """∂f/∂(node) derived by hand for f, v₂, v₁ and x of :func:`softplus_graph` (exercise 0.10).
    Shapes: every entry has the shape of x."""
    (x,) = _as_float64(x)
    ### BEGIN SOLUTION
    v1 = torch.exp(x)
    v2 = 1 + v1
    # A chain without branches: the local gradients multiply.
    return {"f": torch.ones_like(x), V2: 1 / v2, V1: 1 / v2, "x": v1 / v2}
    ### END SOLUTION


def logistic_graph(x: float) -> Value:
    """g = eˣ/(1 + eˣ), the derivative of ln(1 + eˣ), as v₁ = eˣ, v₂ = v₁ + 1, v₃ = 1/v₂, g = v₁·v₃
    (a scalar in and out). v₁ feeds two primitives."""
    xv = Value(x, "x")
    v1 = _named(exp(xv), V1)
    v2 = _named(v1 + 1, V2)
    v3 = _named(1 / v2, V3)
    return _named(v1 * v3, "g")


def logistic_adjoints(x) -> dict[str, torch.Tensor]:
    """∂g/∂(node) derived by hand for g, v₃, v₂, v₁ and x of :func:`logistic_graph` (exercise 0.10): its
    ``x`` entry is the second derivative of ln(1 + eˣ). Shapes: every entry has the shape of x."""
    (x,) = _as_float64(x)
    ### BEGIN SOLUTION
    v1 = torch.exp(x)
    v2 = v1 + 1
    v3 = 1 / v2
    d_v2 = v1 * (-1 / v2 ** 2)
    d_v1 = v3 + d_v2  # v₁ feeds v₂ and g: two paths
    return {"g": torch.ones_like(x), V3: v1, V2: d_v2, V1: d_v1, "x": d_v1 * v1}
    ### END SOLUTION


def logistic_second_derivative(x) -> torch.Tensor:
    """d²/dx² of eˣ/(1 + eˣ) = eˣ(1 - eˣ)/(1 + eˣ)³ (shape of x): what "the second derivative of
    eˣ/(1 + eˣ)" means, as opposed to the second derivative of ln(1 + eˣ)."""
    (x,) = _as_float64(x)
    e = torch.exp(x)
    return e * (1 - e) / (1 + e) ** 3


# ---- CS475 task 0: ∂L/∂b of L = [σ(wx + b) - y]² by direct differentiation ------------------------

def sigmoid_neuron_gradients(w, x, b, y) -> dict[str, torch.Tensor]:
    """∂L/∂w, ∂L/∂x, ∂L/∂b and ∂L/∂y of L = [σ(wx + b) - y]², differentiated by hand (exercise 0.6), with
    σ itself from ``torch.sigmoid``. Shapes: every entry has the shape of the (broadcast) inputs."""
    w, x, b, y = torch.broadcast_tensors(*_as_float64(w, x, b, y))
    ### BEGIN SOLUTION
    # Outer square, then σ (σ' = σ(1 - σ)), then the affine map: steps 1-3 are shared, computed once.
    s = torch.sigmoid(w * x + b)
    shared = 2 * (s - y) * s * (1 - s)
    return {"w": shared * x, "x": shared * w, "b": shared, "y": -2 * (s - y)}
    ### END SOLUTION


# ---- comparing a derivation with the engine ---------------------------------------------------------

def engine_adjoints(output: Value) -> dict[str, float]:
    """Run ``output.backward()``; ∂output/∂node for every named node (labelled, non-constant), by name."""
    output.backward()
    names = node_names(output)
    return {names[id(n)]: n.grad for n in reversed(topological_order(output)) if n.label and not n.is_constant}


def compare_adjoints(output: Value, derived: Mapping[str, torch.Tensor], tolerance: float = 1e-12) -> str:
    """A table: for every named node, the engine's ∂output/∂node next to the derivation's, with a verdict.

    ``derived`` (a ``*_adjoints`` result at the graph's input values) must name exactly the named nodes.
    """
    from helpers.gradcheck import relative_error, verdict

    engine = engine_adjoints(output)
    if set(engine) != set(derived):
        raise KeyError(f"the derivation must give exactly the named nodes {sorted(engine)}, got {sorted(derived)}")
    out = next(iter(engine))
    width = max(len(f"∂{out}/∂{name}") for name in engine)
    lines = [f"{'':<{width}}  {'engine':>10}  {'derivation':>10}  relative error"]
    for name, grad in engine.items():
        by_hand = float(derived[name])
        lines.append(f"{f'∂{out}/∂{name}':<{width}}  {format_number(grad):>10}  {format_number(by_hand):>10}  "
                     f"{verdict(relative_error(grad, by_hand), tolerance)}")
    return "\n".join(lines)
