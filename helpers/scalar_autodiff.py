"""A micrograd-sized scalar reverse-mode autodiff engine, read top to bottom.

1. **The primitives** (+, -, ×, ÷, powers, exp, ln, sin, cos, σ, tanh): each one's forward value next to its
   local gradients ∂value/∂operand (exercise 0.2). Domain errors are raised here, with the numbers that caused
   them.
2. **The Value**: every operation on a :class:`Value` records one primitive together with its local gradients,
   so that the whole computation is a graph of primitives.
3. **Reverse mode** (exercise 0.3): :func:`topological_order`, then :meth:`Value.backward`, one sweep from the
   output back to the inputs, each upstream gradient computed once and reused by every operand
   (``grad += local × upstream``).
4. **The graph re-run**: :func:`replay` with new inputs (a *static* graph) and :func:`numerical_gradients`,
   its central differences (the numeric column of the chain-rule table).

Example::

    w, x, b, y = Value(2.0, "w"), Value(3.0, "x"), Value(1.0, "b"), Value(4.0, "y")
    L = ((w * x + b) - y) ** 2
    L.backward()  # w.grad == ∂L/∂w == 18

:mod:`helpers.chain_rule` prints the course's chain-rule table for such an expression and
:mod:`helpers.plots.graph_drawing` draws its graph. Shapes: scalars throughout (Python floats).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Mapping

import torch

from helpers.gradcheck import check_step, numerical_gradient

# Names given to intermediate values, in order (the course's p, q, r, ...); labels are skipped.
NAME_POOL = tuple("pqrstuvghkmnz")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
# Finite differences near a domain's edge try steps down to h·10⁻²⁰ before leaving an input out.
MAX_STEP_SHRINKS = 20


# ---- 1. the primitives: each one's value and local gradients ---------------------------------------------
# Each takes its operands as Python floats and returns (value, one local gradient per operand).

def format_number(value: float) -> str:
    """4 significant digits, without the ``-0`` that ``format`` gives for negative zero."""
    return "0" if value == 0 else f"{value:.4g}"


def ADD(a, b):
    ### BEGIN SOLUTION
    return a + b, (1.0, 1.0)
    ### END SOLUTION


def SUB(a, b):
    ### BEGIN SOLUTION
    return a - b, (1.0, -1.0)
    ### END SOLUTION


def MUL(a, b):
    ### BEGIN SOLUTION
    return a * b, (b, a)
    ### END SOLUTION


def DIV(a, b):
    if b == 0:
        raise ZeroDivisionError(f"division by zero: {format_number(a)} / 0 (the divisor must be non-zero)")
    ### BEGIN SOLUTION
    return a / b, (1.0 / b, -a / (b * b))
    ### END SOLUTION


def NEG(a):
    ### BEGIN SOLUTION
    return -a, (-1.0,)
    ### END SOLUTION


def EXP(a):
    ### BEGIN SOLUTION
    value = math.exp(a)
    return value, (value,)
    ### END SOLUTION


def LOG(a):
    if a <= 0:
        raise ValueError(f"ln needs a positive argument, got {format_number(a)} (ln is undefined there)")
    ### BEGIN SOLUTION
    return math.log(a), (1.0 / a,)
    ### END SOLUTION


def SIN(a):
    ### BEGIN SOLUTION
    return math.sin(a), (math.cos(a),)
    ### END SOLUTION


def COS(a):
    ### BEGIN SOLUTION
    return math.cos(a), (-math.sin(a),)
    ### END SOLUTION


def _stable_sigmoid(a: float) -> float:
    # Never exponentiate a large positive number: e^(-|a|) is in (0, 1].
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def SIGMOID(a):
    ### BEGIN SOLUTION
    value = _stable_sigmoid(a)
    # σ'(a) = σ(a)(1 - σ(a)), written as σ(a)σ(-a): the same number, without the cancellation in 1 - σ(a).
    return value, (value * _stable_sigmoid(-a),)
    ### END SOLUTION


def TANH(a):
    ### BEGIN SOLUTION
    value = math.tanh(a)
    return value, (1.0 - value * value,)
    ### END SOLUTION


def POW(a, b):
    """a ** b with a Value exponent b, defined as exp(b ln a): needs a > 0."""
    if a <= 0:
        raise ValueError(f"a ** b with a Value exponent needs a positive base (a^b = exp(b ln a)), "
                         f"got a = {format_number(a)}; use a number exponent for integer powers")
    ### BEGIN SOLUTION
    value = a ** b
    return value, (b * a ** (b - 1), value * math.log(a))
    ### END SOLUTION


def POWER(a, n):
    """a ** n for a fixed number n (the exponent is no operand: one local gradient)."""
    if a == 0 and n < 1 and n != 0:
        raise ZeroDivisionError(f"d/da a^{n:g} is infinite at a = 0 (a must be non-zero)")
    if a < 0 and not float(n).is_integer():
        raise ValueError(f"a ** {n:g} needs a >= 0 for a non-integer exponent, got a = {format_number(a)}")
    ### BEGIN SOLUTION
    return a ** n, (n * a ** (n - 1) if n != 0 else 0.0,)
    ### END SOLUTION


@dataclass(frozen=True)
class Primitive:
    """One primitive operation as the graph records it: ``function`` names this module's function above that
    gives ``(value, local gradients)`` (``"MUL"``); ``exponent`` is n for the power a ↦ a**n (``POWER``), else
    None. (How a primitive is written in the chain-rule table lives in :mod:`helpers.chain_rule`.)"""
    name: str  # in error messages, e.g. "mul(1e+200, 1e+200) overflows"
    symbol: str  # operator node label in a graph drawing
    function: str
    exponent: float | None = None

    def compute(self, *operands: float) -> tuple[float, tuple[float, ...]]:
        """``(value, local gradients)`` at the operands' numbers."""
        function = globals()[self.function]  # by name, when called: the function as the module holds it now
        return function(*operands) if self.exponent is None else function(*operands, self.exponent)


PRIMITIVES = {primitive.name: primitive for primitive in (
    Primitive("add", "+", "ADD"), Primitive("sub", "−", "SUB"), Primitive("mul", "×", "MUL"),
    Primitive("div", "÷", "DIV"), Primitive("neg", "−", "NEG"), Primitive("exp", "exp", "EXP"),
    Primitive("log", "ln", "LOG"), Primitive("sin", "sin", "SIN"), Primitive("cos", "cos", "COS"),
    Primitive("sigmoid", "σ", "SIGMOID"), Primitive("tanh", "tanh", "TANH"), Primitive("pow", "^", "POW"))}


def power_by(n: float) -> Primitive:
    """The primitive a ↦ a**n for a fixed number n."""
    return Primitive(f"pow{n:g}", f"^{n:g}", "POWER", exponent=float(n))


# ---- 2. the Value --------------------------------------------------------------------------------

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

    __add__, __radd__ = _binary_methods(PRIMITIVES["add"], "+")
    __sub__, __rsub__ = _binary_methods(PRIMITIVES["sub"], "-")
    __mul__, __rmul__ = _binary_methods(PRIMITIVES["mul"], "*")
    __truediv__, __rtruediv__ = _binary_methods(PRIMITIVES["div"], "/")
    exp, log, sin, cos, sigmoid, tanh = (_unary(PRIMITIVES[name])
                                         for name in ("exp", "log", "sin", "cos", "sigmoid", "tanh"))

    def __neg__(self):
        return Value._apply(PRIMITIVES["neg"], self)

    def __pow__(self, exponent):
        if isinstance(exponent, Value):
            return Value._apply(PRIMITIVES["pow"], self, exponent)
        Value._operand(exponent, "**")  # raises the clear TypeError for strings, tensors, ...
        return Value._apply(power_by(float(exponent)), self)

    def __rpow__(self, base):
        return Value._apply(PRIMITIVES["pow"], Value._operand(base, "**"), self)

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


# ---- 3. reverse mode: walking the graph -----------------------------------------------------------------------

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


# ---- 4. the recorded graph re-run: a static graph, and central differences of it ------------------------

def _replay_values(output: Value, inputs: Mapping[Value, float] | None = None) -> dict[int, float]:
    """Every node's value (by ``id``) when the recorded graph is re-run with new input values."""
    inputs = {id(k): as_float(v, "an input value") for k, v in (inputs or {}).items()}
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
        if node.primitive is PRIMITIVES["div"] or (not node.is_leaf and (node.primitive.exponent or 0) < 0):
            operand = node.operands[1 if node.primitive is PRIMITIVES["div"] else 0]
            if (values[id(operand)] > 0) != (operand.data > 0):
                return True
    return False


class _OffTheDomain(Exception):
    """A side of a central difference left a primitive's domain, spanned a pole or overflowed."""


def _central_difference(output: Value, leaf: Value, h: float) -> float | None:
    """(f(v + h) - f(v - h)) / 2h for the input ``leaf`` (:func:`helpers.gradcheck.numerical_gradient` of the
    replayed graph); None if a side leaves a primitive's domain."""
    point = torch.tensor([leaf.data], dtype=torch.float64)

    def f() -> float:
        values = _replay_values(output, {leaf: point.item()})
        if _crosses_a_pole(output, values) or not math.isfinite(values[id(output)]):
            raise _OffTheDomain
        return values[id(output)]
    try:
        return numerical_gradient(f, point, h).item()
    except (_OffTheDomain, ValueError, ZeroDivisionError, OverflowError):  # ln of a negative number, 1/0, exp(1000)
        return None


def numerical_gradients(output: Value, h: float = 1e-6) -> dict[int, float]:
    """Central differences (f(v + h) - f(v - h)) / 2h of the recorded graph for every input (by ``id``).

    Where v ± h leaves a primitive's domain (ln(v) at v = 1e-7 < h) or spans a pole (1/v), the step shrinks
    tenfold until both sides stay inside, then a thousandfold more, to be small against the distance to the
    edge. An input on which no step works (on the edge itself) is left out.
    """
    h, grads = check_step(h), {}
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
