"""Sandbox side of notebook 00's checks (:mod:`helpers.checks.nb00_graphs`): runs in the sandbox, builds the objects
the student's code works on (Values, graphs, custom Functions) from data, calls the student's code inside
:func:`student_running` and returns plain data only. No verdict is made here: the trusted process compares
what comes back with its own references.

Custom Functions (0.8–0.10): the harness drives torch autograd (allowed: harness code), and the student's
``backward`` methods are wrapped so that they run as the student's code (:func:`student_running`): under the
exercise's ``forbid=("autograd", ...)`` a backward that calls autograd on the forward formula
(``torch.autograd.grad``, ``torch.func.vjp``, ``.backward()``) is refused, while differentiable torch
operations (and ``Function.apply``) are fine.
"""
from __future__ import annotations

import math
import sys

import torch

from helpers.checks.sandbox_worker import NOTEBOOK_PRELUDE, _guard, student_running

# ---- notebook cells (0.1, 0.4, 0.5, 0.7) -------------------------------------------------------------------

def prepare_notebook() -> None:
    """Give the notebook's solution cells the names its first cell imports that they use (``torch``, ``math``), in
    the ``__notebook__`` module the sandbox runs them in (``NOTEBOOK_PRELUDE``), before it is first loaded."""
    NOTEBOOK_PRELUDE.update({"torch": torch, "math": math})


def _notebook_function(name: str):
    module = sys.modules.get("__notebook__")
    if module is None:
        raise RuntimeError("the check must call the notebook function once before this harness function")
    return getattr(module, name)


def _tensor_facts(value) -> dict:
    is_tensor = isinstance(value, torch.Tensor)
    return {"tensor": is_tensor, "is_leaf": bool(is_tensor and value.is_leaf),
            "requires_grad": bool(is_tensor and value.requires_grad)}


def fit_line_parameters(x, y, steps: int, learning_rate: float, zero_grad: bool) -> dict:
    """Exercise 0.1: what ``fit_line`` returns as W and b, as facts (a tensor? a leaf? requires grad?): the
    values come back detached, so these are observed here. (The notebook module must be loaded.)"""
    fit_line = _notebook_function("fit_line")
    with student_running():
        W, b, _ = fit_line(x, y, steps=steps, learning_rate=learning_rate, zero_grad=zero_grad)
    return {"W": _tensor_facts(W), "b": _tensor_facts(b)}


# ---- 0.2: the primitives ------------------------------------------------------------------------------------


def primitive_values(attribute: str, points) -> list[list[float]]:
    """Exercise 0.2: ``[value, *local gradients]`` of the student's primitive at each point (lists of numbers).
    ``attribute``: ``"MUL"`` (the function of :mod:`helpers.scalar_autodiff`) or ``"power_by(3)"``."""
    from helpers import scalar_autodiff
    with student_running():
        if attribute.startswith("power_by("):
            compute = scalar_autodiff.power_by(float(attribute[9:-1])).compute
        else:
            compute = getattr(scalar_autodiff, attribute)
        rows = []
        for point in points:
            value, grads = compute(*point)
            rows.append([float(value), *(float(g) for g in grads)])
    return rows


# ---- 0.3: reverse mode ----------------------------------------------------------------------------------------

GRAPH_WALK = "the engine's own graph walk (post_order): write the order yourself"


def _guard_graph_walk() -> None:
    """``post_order`` is public in the student's module: exercise 0.3 is to write the walk, so it is refused
    while the student's code runs."""
    from helpers import scalar_autodiff
    if not hasattr(scalar_autodiff.post_order, "__wrapped__"):
        scalar_autodiff.post_order = _guard(scalar_autodiff.post_order, "scalar_autodiff.post_order", GRAPH_WALK)


def _given(Value, value: float, label: str, operands, local) -> object:
    from helpers.scalar_autodiff import Primitive
    node = Value(value, label)
    node.primitive, node.operands, node.local_grads = Primitive("given", "?", "given"), tuple(operands), \
        tuple(float(g) for g in local)
    return node


def _order_as_indices(order, nodes: list) -> object:
    """The student's order as node indices (a foreign Value: a negative number, one per object; not a Value:
    None); not a list: the type's name."""
    from helpers.scalar_autodiff import Value
    if not isinstance(order, list):
        return type(order).__name__
    index = {id(node): k for k, node in enumerate(nodes)}
    foreign: dict[int, int] = {}
    result = []
    for node in order:
        if not isinstance(node, Value):
            result.append(None)
        elif id(node) in index:
            result.append(index[id(node)])
        else:
            result.append(-1 - foreign.setdefault(id(node), len(foreign)))
    return result


def reverse_mode(inputs, nodes) -> dict:
    """Exercise 0.3 on a graph given as data: ``inputs`` [(name, value)], ``nodes`` [(name, value, operand names,
    local gradients)] in order, the last one the output. Returns the student's ``topological_order`` as node
    indices (inputs first, then ``nodes``), and every node's ``grad`` after a first and a second ``backward()``."""
    from helpers.scalar_autodiff import Value
    _guard_graph_walk()
    built = {name: Value(value, name) for name, value in inputs}
    for name, value, operand_names, local in nodes:
        built[name] = _given(Value, value, name, [built[o] for o in operand_names], local)
    everything = list(built.values())
    output = everything[-1]
    from helpers import scalar_autodiff
    with student_running():
        order = scalar_autodiff.topological_order(output)
    order = _order_as_indices(order, everything)
    with student_running():
        output.backward()
    first = [float(node.grad) for node in everything]
    with student_running():
        output.backward()
    second = [float(node.grad) for node in everything]
    return {"order": order, "first": first, "second": second}


def deep_chain(depth: int) -> dict:
    """Exercise 0.3 on a chain x → n₁ → … → n_depth, every local gradient -1: the order's length, whether x
    comes first, and x's gradient after ``backward()``."""
    from helpers import scalar_autodiff
    from helpers.scalar_autodiff import Value
    _guard_graph_walk()
    x = node = Value(0.5, "x")
    for _ in range(depth):
        node = _given(Value, -node.data, "", [node], [-1.0])
    with student_running():
        order = scalar_autodiff.topological_order(node)
        node.backward()
    is_list = isinstance(order, list)
    return {"length": len(order) if is_list else -1, "first_is_x": bool(is_list and order and order[0] is x),
            "x_grad": float(x.grad)}


# ---- 0.8–0.10: custom Functions ------------------------------------------------------------------------------

BACKWARDS = {"sin_over_x": ("SinOverX",), "quadratic_form": ("QuadraticForm",), "sigmoid": ("Sigmoid",),
             "softplus": ("Softplus", "Sigmoid")}


def _as_student(method):
    function = getattr(method, "__func__", method)

    def backward(ctx, *grad_outputs):
        with student_running():
            return function(ctx, *grad_outputs)
    backward._harness_wrapped = True
    return staticmethod(backward)


def _function(name: str, coefficients=()):
    """The student's custom Function ``name`` (its entry point in ``helpers.custom_functions``), its backward
    methods run as the student's code (see the module's docstring)."""
    from helpers import custom_functions
    for class_name in ("SinOverX", "QuadraticForm", "Sigmoid", "Softplus"):
        owner = getattr(custom_functions, class_name)
        method = owner.__dict__.get("backward")
        if method is not None and not getattr(getattr(method, "__func__", method), "_harness_wrapped", False):
            owner.backward = _as_student(method)
    entry = getattr(custom_functions, name)

    def run(*tensors):
        with student_running():
            return entry(*tensors, *coefficients)
    return run


def _grads(outputs, inputs, grad_outputs=None, create_graph=False) -> list[torch.Tensor]:
    """Autograd's gradients (zeros where an input is unused or nothing requires grad)."""
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if not any(o.requires_grad for o in outputs):
        return [torch.zeros_like(t) for t in inputs]
    return list(torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph=True, create_graph=create_graph,
                                    allow_unused=True, materialize_grads=True))


def function_derivatives(name: str, inputs, coefficients=(), upstream=None, second_upstream=None) -> dict:
    """Exercises 0.8–0.10: the student's Function ``name`` at ``inputs`` (float64 tensors of one shape),
    differentiated by autograd through the student's backward.

    Returns ``ones``: the gradients of Σ f (one per input); ``upstream``: the vector-Jacobian product with
    ``upstream``; ``jacobian``: rows ∂f_i/∂inputs (n × total input size), one backward per unit vector;
    ``second``: the Jacobian of the backward map (inputs, u) ↦ uᵀ∂f/∂inputs at u = ``second_upstream``, with
    respect to the inputs and u (rows: the backward's outputs; zeros where the backward is not differentiable).
    """
    f = _function(name, coefficients)
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    out = f(*leaves)
    n = out.numel()
    result = {"ones": _grads(out, leaves, torch.ones_like(out))}
    if upstream is not None:
        result["upstream"] = _grads(out, leaves, upstream.reshape(out.shape))
    rows = []
    for i in range(n):
        unit = torch.zeros(n, dtype=out.dtype)
        unit[i] = 1
        rows.append(torch.cat([g.reshape(-1) for g in _grads(out, leaves, unit.reshape(out.shape))]))
    result["jacobian"] = torch.stack(rows)
    if second_upstream is not None:
        u = second_upstream.detach().clone().reshape(out.shape).requires_grad_()
        first = _grads(out, leaves, u, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in first])
        second_rows = []
        for k in range(flat.numel()):
            if not flat.requires_grad:
                second_rows.append(torch.zeros(sum(t.numel() for t in leaves) + u.numel(), dtype=out.dtype))
                continue
            unit = torch.zeros_like(flat)
            unit[k] = 1
            second_rows.append(torch.cat([g.reshape(-1) for g in _grads(flat, leaves + [u], unit)]))
        result["second"] = torch.stack(second_rows)
    return result


def repeated_derivative(name: str, x, order: int) -> torch.Tensor:
    """Exercise 0.10: the ``order``-th derivative of the student's Function ``name`` at x (elementwise), by
    repeated autograd through the student's backward with ``create_graph=True`` (zeros once the result no longer
    requires grad: a backward built from detached numbers)."""
    f = _function(name)
    leaf = x.detach().clone().requires_grad_()
    result = f(leaf)
    for _ in range(order):
        (result,) = _grads(result.sum(), [leaf], create_graph=True)
    return result.detach()


def quadratic_only_x(x, y, a: float, b: float, c: float) -> torch.Tensor:
    """Exercise 0.9: ∂(Σ f)/∂x when only x requires grad (y a plain tensor)."""
    f = _function("quadratic_form", (a, b, c))
    leaf = x.detach().clone().requires_grad_()
    (gradient,) = torch.autograd.grad(f(leaf, y.detach()).sum(), leaf)
    return gradient
