"""A micrograd-sized scalar reverse-mode autodiff engine.

Every operation on a :class:`Value` records one *primitive* (+, -, ×, ÷, powers, exp, ln, sin, cos,
σ, tanh: :mod:`helpers.scalar_primitives`) together with its local gradients, so that the whole
computation is a graph of primitives. :meth:`Value.backward` then runs reverse mode: one sweep
from the output back to the inputs, each upstream gradient computed once and reused by every
operand (``grad += local × upstream``).

Example::

    w, x, b, y = Value(2.0, "w"), Value(3.0, "x"), Value(1.0, "b"), Value(4.0, "y")
    L = ((w * x + b) - y) ** 2
    L.backward()  # w.grad == ∂L/∂w == 2(wx + b - y)x == 18

:mod:`helpers.chain_rule` prints the course's chain-rule table for such an expression and
:mod:`helpers.plots.graph_drawing` draws its graph.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Mapping

from helpers.scalar_primitives import (ADD, COS, DIV, EXP, LOG, MUL, NEG, POW, SIGMOID, SIN, SUB, TANH, Primitive,
                                       format_number, power_by)

# Names given to intermediate values, in order (the course's p, q, r, ...); labels are skipped.
NAME_POOL = tuple("pqrstuvghkmnz")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
# Finite differences near a domain's edge try steps down to h·10⁻²⁰ before leaving an input out.
MAX_STEP_SHRINKS = 20


# ---- the Value -------------------------------------------------------------------------------

def _as_float(data, what: str) -> float:
    """A Python float from a real number or a 0-dim tensor/array; a clear error otherwise."""
    if isinstance(data, bool) or not isinstance(data, (numbers.Real, Value)):
        shape = getattr(data, "shape", None)
        if shape is not None and len(tuple(shape)) == 0 and hasattr(data, "item"):
            return _as_float(data.item(), what)
        detail = f"of shape {tuple(shape)}" if shape is not None else f"of type {type(data).__name__}"
        raise TypeError(f"{what} must be a scalar (an int, a float or a Value), got {data!r:.60} {detail}"
                        + ("; Value holds one number, apply it element by element" if shape else ""))
    return float(data.data if isinstance(data, Value) else data)


def _binary_methods(primitive: Primitive, symbol: str):
    """``value ∘ other`` and the reflected ``other ∘ value`` for a binary primitive."""
    def method(self, other):
        return Value._apply(primitive, self, Value._operand(other, symbol))

    def reflected(self, other):
        return Value._apply(primitive, Value._operand(other, symbol), self)
    return method, reflected


def _unary(primitive: Primitive):
    """``v.exp()`` (a method) and ``exp(v)`` (a function) for a unary primitive."""
    def function(value):
        if not isinstance(value, Value):
            raise TypeError(f"{primitive.name} expects a Value, got {type(value).__name__} "
                            f"(use math.{primitive.name} for plain numbers)")
        return Value._apply(primitive, value)
    function.__name__ = primitive.name
    function.__doc__ = f"{primitive.symbol}(v) as a recorded primitive."
    return function


class Value:
    """A scalar that remembers the primitive that made it, for reverse-mode differentiation.

    ``data`` is the number, ``grad`` is ∂output/∂self after ``output.backward()``, ``label`` names it
    in tables and drawings (leaves you want to see by name, e.g. ``Value(2.0, "w")``).
    Python numbers mixed into an expression become constants: they appear in the graph but get no
    gradient.
    """

    __slots__ = ("data", "grad", "label", "primitive", "operands", "local_grads", "is_constant")

    def __init__(self, data, label: str = ""):
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        self.data = _as_float(data, "Value data")
        if not math.isfinite(self.data):
            raise ValueError(f"Value data must be finite, got {self.data}")
        self.grad = 0.0
        self.label = label
        self.primitive: Primitive | None = None
        self.operands: tuple[Value, ...] = ()
        self.local_grads: tuple[float, ...] = ()
        self.is_constant = False

    @classmethod
    def constant(cls, number) -> Value:
        value = cls(number)
        value.is_constant = True
        return value

    @property
    def is_leaf(self) -> bool:
        return self.primitive is None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"

    @staticmethod
    def _apply(primitive: Primitive, *operands) -> Value:
        where = f"{primitive.name}({', '.join(format_number(o.data) for o in operands)})"
        try:
            data, local = primitive.compute(*(o.data for o in operands))
        except OverflowError:  # math.exp and float ** raise; * and + return inf (checked below)
            data, local = math.inf, ()
        if not math.isfinite(data):
            raise OverflowError(f"{where} overflows float64 (its value or local gradient is beyond ±1.8e308): "
                                "the computation diverged")
        if not all(math.isfinite(g) for g in local):
            raise OverflowError(f"a local gradient of {where} is not finite: {local}")
        out = Value(data)
        out.primitive, out.operands, out.local_grads = primitive, operands, tuple(local)
        return out

    @staticmethod
    def _operand(other, symbol: str) -> Value:
        if isinstance(other, Value):
            return other
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return Value.constant(other)
        raise TypeError(f"unsupported operand for {symbol}: Value and {type(other).__name__} "
                        f"(a Value combines with an int, a float or another Value)")

    __add__, __radd__ = _binary_methods(ADD, "+")
    __sub__, __rsub__ = _binary_methods(SUB, "-")
    __mul__, __rmul__ = _binary_methods(MUL, "*")
    __truediv__, __rtruediv__ = _binary_methods(DIV, "/")
    exp, log, sin, cos, sigmoid, tanh = (_unary(p) for p in (EXP, LOG, SIN, COS, SIGMOID, TANH))

    def __neg__(self):
        return Value._apply(NEG, self)

    def __pow__(self, exponent):
        if isinstance(exponent, Value):
            return Value._apply(POW, self, exponent)
        Value._operand(exponent, "**")  # raises the clear TypeError for strings, tensors, ...
        return Value._apply(power_by(float(exponent)), self)

    def __rpow__(self, base):
        return Value._apply(POW, Value._operand(base, "**"), self)

    def backward(self) -> None:
        """Reverse mode: set ``grad`` = ∂self/∂node on every node of self's graph (zeroed first)."""
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            ### BEGIN SOLUTION
            for operand, local in zip(node.operands, node.local_grads):
                operand.grad += local * node.grad
            ### END SOLUTION


# Also callable as functions: exp(v) reads like the maths.
exp, log, sin, cos, sigmoid, tanh = Value.exp, Value.log, Value.sin, Value.cos, Value.sigmoid, Value.tanh


# ---- walking the graph -----------------------------------------------------------------------

def post_order(root, children: Callable) -> list:
    """Every node reachable from ``root`` via ``children(node)``, children before their parents and
    ``root`` last (an iterative depth-first search: deep graphs do not hit the recursion limit)."""
    order, seen, stack = [], {id(root)}, [(root, iter(children(root)))]
    while stack:
        node, pending = stack[-1]
        for child in pending:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append((child, iter(children(child))))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def topological_order(output: Value) -> list[Value]:
    """Every node ``output`` depends on, operands before results, ``output`` last."""
    if not isinstance(output, Value):
        raise TypeError(f"expected the Value an expression produced, got {type(output).__name__}")
    return post_order(output, lambda node: node.operands)


def inputs_of(output: Value) -> list[Value]:
    """The leaves that are not constants, in the order the expression first uses them."""
    return [n for n in topological_order(output) if n.is_leaf and not n.is_constant]


# ---- names, replay and gradients by name ---------------------------------------------------

def node_names(output: Value) -> dict[int, str]:
    """A printable name per node (keyed by ``id``): its label, the constant's number, else p, q, r, ..."""
    order = topological_order(output)
    labels = [n.label for n in order if n.label]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:  # gradients are reported by name: two Values with one name would merge silently
        raise ValueError(f"labels must be unique within an expression; used more than once: {repeated}")
    used = set(labels)
    pool = [name for name in NAME_POOL if name not in used]
    subscripted = (f"p{i}".translate(_SUBSCRIPT) for i in range(1, len(order) + 1))  # p₁, p₂, ... if the pool runs out
    pool += [name for name in subscripted if name not in used]
    fresh = iter(pool)
    names = {}
    for node in order:
        if node.label:
            names[id(node)] = node.label
        elif node.is_constant:
            names[id(node)] = f"{node.data:g}"
        else:
            names[id(node)] = next(fresh)
    return names


def _replay_values(output: Value, inputs: Mapping[Value, float] | None = None) -> dict[int, float]:
    """Every node's value (by ``id``) when the recorded graph is re-run with new input values."""
    inputs = {id(k): _as_float(v, "an input value") for k, v in (inputs or {}).items()}
    values: dict[int, float] = {}
    for node in topological_order(output):
        if node.is_leaf:
            values[id(node)] = inputs.get(id(node), node.data)
        else:
            values[id(node)] = node.primitive.compute(*(values[id(o)] for o in node.operands))[0]
    return values


def replay(output: Value, inputs: Mapping[Value, float] | None = None) -> float:
    """Re-run the recorded graph with new input values (a *static* graph: the branches taken when it
    was recorded stay taken). Inputs not given keep their recorded values."""
    return _replay_values(output, inputs)[id(output)]


def _crosses_a_pole(output: Value, values: dict[int, float]) -> bool:
    """Whether a divisor, or the base of a negative power, has another sign in ``values`` than recorded:
    the difference then spans a pole (1/x from -h to +h) and means nothing."""
    for node in topological_order(output):
        if node.primitive is DIV or (not node.is_leaf and (node.primitive.exponent or 0) < 0):
            operand = node.operands[1 if node.primitive is DIV else 0]
            if (values[id(operand)] > 0) != (operand.data > 0):
                return True
    return False


def _central_difference(output: Value, leaf: Value, h: float) -> float | None:
    """(f(v + h) - f(v - h)) / 2h for the input ``leaf``; None if a side leaves a primitive's domain."""
    try:
        plus, minus = (_replay_values(output, {leaf: leaf.data + step}) for step in (h, -h))
    except (ValueError, ZeroDivisionError, OverflowError):  # ln of a negative number, 1/0, exp(1000), ...
        return None
    if _crosses_a_pole(output, plus) or _crosses_a_pole(output, minus):
        return None
    f_plus, f_minus = plus[id(output)], minus[id(output)]
    return (f_plus - f_minus) / (2 * h) if math.isfinite(f_plus) and math.isfinite(f_minus) else None


def numerical_gradients(output: Value, h: float = 1e-6) -> dict[int, float]:
    """Central differences (f(v + h) - f(v - h)) / 2h of the recorded graph for every input (by ``id``).

    Where v ± h leaves a primitive's domain (ln(v) at v = 1e-7 < h) or spans a pole (1/v), the step shrinks
    tenfold until both sides stay inside, then a thousandfold more, to be small against the distance to the
    edge. An input on which no step works (on the edge itself) is left out.
    """
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not math.isfinite(h) or h <= 0:
        raise ValueError(f"the finite-difference step h must be positive and finite, got {h!r}")
    grads = {}
    for leaf in inputs_of(output):
        step, gradient = h, _central_difference(output, leaf, h)
        for _ in range(MAX_STEP_SHRINKS):
            if gradient is not None or leaf.data + step / 10 == leaf.data:
                break
            step /= 10
            gradient = _central_difference(output, leaf, step)
        if gradient is not None and step != h and leaf.data + step / 1000 != leaf.data:
            refined = _central_difference(output, leaf, step / 1000)
            gradient = gradient if refined is None else refined
        if gradient is not None:
            grads[id(leaf)] = gradient
    return grads


def input_gradients(output: Value) -> dict[str, float]:
    """Run backward and return ∂output/∂input by input name."""
    inputs = inputs_of(output)
    output.backward()
    names = node_names(output)
    return {names[id(leaf)]: leaf.grad for leaf in inputs}
