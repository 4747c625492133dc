"""A micrograd-sized scalar reverse-mode autodiff engine.

Every operation on a :class:`Value` records one *primitive* (+, -, ×, ÷, powers, exp, ln, sin, cos,
σ, tanh: :mod:`helpers.scalar_primitives`) together with its local gradients, so that the whole
computation is a graph of primitives. :meth:`Value.backward` then runs reverse mode: one sweep
from the output back to the inputs, each upstream gradient computed once and reused by every
operand (``grad += local × upstream``).

Example::

    w, x, b, y = Value(2.0, "w"), Value(3.0, "x"), Value(1.0, "b"), Value(4.0, "y")
    L = ((w * x + b) - y) ** 2
    L.backward()  # w.grad == ∂L/∂w == 18

:mod:`helpers.chain_rule` prints the course's chain-rule table for such an expression and
:mod:`helpers.plots.graph_drawing` draws its graph.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable

from helpers.runtime.exercises import reference_until_done
from helpers.scalar_primitives import (ADD, COS, DIV, EXP, LOG, MUL, NEG, POW, SIGMOID, SIN, SUB, TANH, Primitive,
                                       format_number, power_by)

# Names given to intermediate values, in order (the course's p, q, r, ...); labels are skipped.
NAME_POOL = tuple("pqrstuvghkmnz")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


# ---- the Value -------------------------------------------------------------------------------

def as_float(data, what: str) -> float:
    """A Python float from a real number or a 0-dim tensor/array; a clear error otherwise."""
    if isinstance(data, bool) or not isinstance(data, (numbers.Real, Value)):
        shape = getattr(data, "shape", None)
        if shape is not None and len(tuple(shape)) == 0 and hasattr(data, "item"):
            return as_float(data.item(), what)
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
        self.data = as_float(data, "Value data")
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

    @reference_until_done(lambda self: backward_by_torch(self), "torch autograd of the recorded graph")
    def backward(self) -> None:
        """Reverse mode (exercise 0.3): set ``grad`` = ∂self/∂node on every node of self's graph, every
        ``grad`` reset first (a second call gives the same numbers). Shapes: scalars."""
        ### BEGIN SOLUTION
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        # Results before their operands: a node's gradient is complete before it is passed on.
        for node in reversed(order):
            for operand, local in zip(node.operands, node.local_grads):
                operand.grad += local * node.grad  # += : a node used twice sums its paths
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


def _check_output(output) -> Value:
    if not isinstance(output, Value):
        raise TypeError(f"expected the Value an expression produced, got {type(output).__name__}")
    return output


def topological_order_by_search(output: Value) -> list[Value]:
    """The reference for :func:`topological_order`: the generic depth-first :func:`post_order` (same order)."""
    return post_order(_check_output(output), lambda node: node.operands)


@reference_until_done(topological_order_by_search, "the depth-first search of post_order")
def topological_order(output: Value) -> list[Value]:
    """Every node ``output`` depends on, each once, operands before results (in the order of
    ``node.operands``, depth first), ``output`` last (exercise 0.3). Shapes: a list of Values."""
    _check_output(output)
    ### BEGIN SOLUTION
    order, visited = [], set()
    pending = [(output, False)]  # (node, its operands are already in order)
    while pending:  # an explicit stack: graphs deeper than Python's recursion limit work too
        node, operands_done = pending.pop()
        if operands_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            pending.append((node, True))
            pending.extend((operand, False) for operand in reversed(node.operands))
    return order
    ### END SOLUTION


def backward_by_torch(output: Value) -> None:
    """The reference for :meth:`Value.backward`: torch autograd of the recorded graph linearised at its
    point (each result = Σ local gradient × operand), every node's ``grad`` set. Shapes: scalars."""
    import torch  # only the reference needs torch

    order = topological_order_by_search(output)
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


def inputs_of(output: Value) -> list[Value]:
    """The leaves that are not constants, in the order the expression first uses them."""
    return [n for n in topological_order(output) if n.is_leaf and not n.is_constant]


# ---- names and gradients by name ---------------------------------------------------

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


def input_gradients(output: Value) -> dict[str, float]:
    """Run backward and return ∂output/∂input by input name."""
    inputs = inputs_of(output)
    output.backward()
    names = node_names(output)
    return {names[id(leaf)]: leaf.grad for leaf in inputs}
