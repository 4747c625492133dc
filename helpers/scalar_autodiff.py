"""A micrograd-sized scalar reverse-mode autodiff engine that explains itself.

Every operation on a :class:`Value` records one *primitive* (+, -, ×, ÷, powers, exp, ln, sin, cos,
σ, tanh) together with its local gradients, so that the whole computation is a graph of primitives.
:meth:`Value.backward` then runs reverse mode: one sweep from the output back to the inputs, each
upstream gradient computed once and reused by every operand (``grad += local × upstream``).

:func:`chain_rule_table` prints the course's table for the expression, one row per primitive:

=====  =============  ===============  ==================
step   breakdown      local gradient   expansion
=====  =============  ===============  ==================
1      p = w·x        ∂p/∂w = x        p = wx
=====  =============  ===============  ==================

followed by the backward pass and the gradient of every input (checked against central differences
of the recorded graph, see :func:`numerical_gradients`).

Example::

    w, x, b, y = Value(2.0, "w"), Value(3.0, "x"), Value(1.0, "b"), Value(4.0, "y")
    L = ((w * x + b) - y) ** 2
    L.label = "L"
    print(chain_rule_table(L))
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable, Mapping

# Precedences for printing expansions with as few parentheses as the maths needs.
ADD_PREC, MUL_PREC, NEG_PREC, POW_PREC, ATOM_PREC = 1, 2, 3, 4, 5
# Names given to intermediate values, in order (the course's p, q, r, ...); labels are skipped.
NAME_POOL = tuple("pqrstuvghkmnz")
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
# Juxtaposing these would read as letters (wexp(bx)), so products with them keep their dot.
_NAMED_FUNCTIONS = ("exp(", "ln(", "sin(", "cos(", "tanh(")


def format_number(value: float) -> str:
    """4 significant digits, without the ``-0`` that ``format`` gives for negative zero."""
    return "0" if value == 0 else f"{value:.4g}"


def _factor(value: float) -> str:
    """A number as a factor in a product: negative numbers in parentheses, 6·(-1)."""
    text = format_number(value)
    return f"({text})" if text.startswith("-") else text


@dataclass(frozen=True)
class Primitive:
    """One primitive operation: its forward value, its local gradients and how to print it.

    ``compute(*operands) -> (value, local_gradients)`` with one local gradient ∂value/∂operand per
    operand. ``breakdown`` and ``local_formulas`` are ``str.format`` templates over the operands'
    names ``{0}``, ``{1}`` and the result's name ``{out}``; ``expand`` writes the result in terms of
    the operands' expansions (a function, because parentheses depend on precedence).
    """
    name: str
    symbol: str  # operator node label in a graph drawing
    compute: Callable[..., tuple[float, tuple[float, ...]]]
    breakdown: str
    local_formulas: tuple[str, ...]
    precedence: int
    expand: Callable[..., str]


def _needs_sign_guard(text: str) -> bool:
    return text.startswith("-")


def _wrap(text: str, precedence: int, below: int) -> str:
    """Parenthesise ``text`` when its precedence is below ``below`` or it starts with a minus sign."""
    return f"({text})" if precedence < below or _needs_sign_guard(text) else text


def _expand_add(a, b):
    return f"{a[0]} + {_wrap(*b, ADD_PREC)}"


def _expand_sub(a, b):
    return f"{a[0]} - {_wrap(*b, MUL_PREC)}"


def _expand_mul(a, b):
    # Juxtapose (wx, 2σ(q)) like the course, unless that would read as one number or a quotient.
    left = f"({a[0]})" if a[1] < MUL_PREC or (a[1] == MUL_PREC and "/" in a[0]) else a[0]
    right = _wrap(*b, MUL_PREC + 1)
    ambiguous = right[0].isdigit() or right[0] == "." or right.startswith(_NAMED_FUNCTIONS) or left == right
    return f"{left}{'·' if ambiguous else ''}{right}"


def _expand_div(a, b):
    return f"{_wrap(*a, MUL_PREC)}/{_wrap(*b, MUL_PREC + 1)}"


def _expand_neg(a):
    return f"-{_wrap(*a, MUL_PREC)}"


def _expand_call(function_name):
    return lambda a: f"{function_name}({a[0]})"


def _power_text(base: str, exponent: float) -> str:
    """``q²``, ``q⁻¹`` for integer exponents, ``q^0.5`` otherwise."""
    if float(exponent).is_integer():
        return base + str(int(exponent)).translate(_SUPERSCRIPT)
    return f"{base}^{exponent:g}"


# ---- primitives: each forward value next to its local gradients -------------------------------

def _add(a, b):
    ### BEGIN SOLUTION
    return a + b, (1.0, 1.0)
    ### END SOLUTION


def _sub(a, b):
    ### BEGIN SOLUTION
    return a - b, (1.0, -1.0)
    ### END SOLUTION


def _mul(a, b):
    ### BEGIN SOLUTION
    return a * b, (b, a)
    ### END SOLUTION


def _div(a, b):
    if b == 0:
        raise ZeroDivisionError(f"division by zero: {format_number(a)} / 0 (the divisor must be non-zero)")
    ### BEGIN SOLUTION
    return a / b, (1.0 / b, -a / (b * b))
    ### END SOLUTION


def _neg(a):
    ### BEGIN SOLUTION
    return -a, (-1.0,)
    ### END SOLUTION


def _exp(a):
    ### BEGIN SOLUTION
    value = math.exp(a)
    return value, (value,)
    ### END SOLUTION


def _log(a):
    if a <= 0:
        raise ValueError(f"ln needs a positive argument, got {format_number(a)} (ln is undefined there)")
    ### BEGIN SOLUTION
    return math.log(a), (1.0 / a,)
    ### END SOLUTION


def _sin(a):
    ### BEGIN SOLUTION
    return math.sin(a), (math.cos(a),)
    ### END SOLUTION


def _cos(a):
    ### BEGIN SOLUTION
    return math.cos(a), (-math.sin(a),)
    ### END SOLUTION


def _stable_sigmoid(a: float) -> float:
    # Never exponentiate a large positive number: e^(-|a|) is in (0, 1].
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _sigmoid(a):
    ### BEGIN SOLUTION
    value = _stable_sigmoid(a)
    # σ(a)(1 - σ(a)) written as σ(a)σ(-a): the same number, without the cancellation in 1 - σ(a).
    return value, (value * _stable_sigmoid(-a),)
    ### END SOLUTION


def _tanh(a):
    ### BEGIN SOLUTION
    value = math.tanh(a)
    return value, (1.0 - value * value,)
    ### END SOLUTION


def _pow(a, b):
    """a ** b with a Value exponent, defined as exp(b ln a): needs a > 0."""
    if a <= 0:
        raise ValueError(f"a ** b with a Value exponent needs a positive base (a^b = exp(b ln a)), "
                         f"got a = {format_number(a)}; use a number exponent for integer powers")
    ### BEGIN SOLUTION
    value = a ** b
    return value, (b * a ** (b - 1), value * math.log(a))
    ### END SOLUTION


def _power_by(n: float) -> Primitive:
    """The primitive a ↦ a**n for a fixed number n."""
    def compute(a):
        if a == 0 and n < 1 and n != 0:
            raise ZeroDivisionError(f"d/da a^{n:g} is infinite at a = 0 (a must be non-zero)")
        if a < 0 and not float(n).is_integer():
            raise ValueError(f"a ** {n:g} needs a >= 0 for a non-integer exponent, got a = {format_number(a)}")
        ### BEGIN SOLUTION
        return a ** n, (n * a ** (n - 1) if n != 0 else 0.0,)
        ### END SOLUTION

    if n in (0, 1):
        formula = f"{n:g}"
    elif n == 2:
        formula = "2{0}"
    else:
        formula = ("-" if n < 0 else "") + f"{abs(n):g}" * (abs(n) != 1) + _power_text("{0}", n - 1)
    return Primitive(f"pow{n:g}", f"^{n:g}", compute,
                     _power_text("{0}", n), (formula,), POW_PREC,
                     lambda a: _power_text(_wrap(*a, ATOM_PREC), n))


ADD = Primitive("add", "+", _add, "{0} + {1}", ("1", "1"), ADD_PREC, _expand_add)
SUB = Primitive("sub", "−", _sub, "{0} - {1}", ("1", "-1"), ADD_PREC, _expand_sub)
MUL = Primitive("mul", "×", _mul, "{0}·{1}", ("{1}", "{0}"), MUL_PREC, _expand_mul)
DIV = Primitive("div", "÷", _div, "{0}/{1}", ("1/{1}", "-{0}/{1}²"), MUL_PREC, _expand_div)
NEG = Primitive("neg", "−", _neg, "-{0}", ("-1",), NEG_PREC, _expand_neg)
POW = Primitive("pow", "^", _pow, "{0}^{1}", ("{1}·{0}^({1} - 1)", "{out}·ln({0})"), POW_PREC,
                lambda a, b: f"{_wrap(*a, ATOM_PREC)}^{_wrap(*b, ATOM_PREC)}")
EXP = Primitive("exp", "exp", _exp, "exp({0})", ("exp({0}) = {out}",), ATOM_PREC, _expand_call("exp"))
LOG = Primitive("log", "ln", _log, "ln({0})", ("1/{0}",), ATOM_PREC, _expand_call("ln"))
SIN = Primitive("sin", "sin", _sin, "sin({0})", ("cos({0})",), ATOM_PREC, _expand_call("sin"))
COS = Primitive("cos", "cos", _cos, "cos({0})", ("-sin({0})",), ATOM_PREC, _expand_call("cos"))
SIGMOID = Primitive("sigmoid", "σ", _sigmoid, "σ({0})", ("σ({0})(1 - σ({0})) = {out}(1 - {out})",),
                    ATOM_PREC, _expand_call("σ"))
TANH = Primitive("tanh", "tanh", _tanh, "tanh({0})", ("1 - tanh²({0}) = 1 - {out}²",), ATOM_PREC,
                 _expand_call("tanh"))


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
    function.__doc__ = f"{primitive.breakdown.format('v')} as a recorded primitive."
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
        return Value._apply(_power_by(float(exponent)), self)

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

def _require_value(output) -> Value:
    if not isinstance(output, Value):
        raise TypeError(f"expected the Value an expression produced, got {type(output).__name__}")
    return output


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
    return post_order(_require_value(output), lambda node: node.operands)


def inputs_of(output: Value) -> list[Value]:
    """The leaves that are not constants, in the order the expression first uses them."""
    return [n for n in topological_order(output) if n.is_leaf and not n.is_constant]


def node_names(output: Value) -> dict[int, str]:
    """A printable name per node (keyed by ``id``): its label, the constant's number, else p, q, r, ..."""
    order = topological_order(output)
    labels = [n.label for n in order if n.label]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:  # gradients are reported by name: two Values with one name would merge silently
        raise ValueError(f"labels must be unique within an expression; used more than once: {repeated}")
    used = set(labels)
    pool = [name for name in NAME_POOL if name not in used]
    pool += [f"p{i}".translate(_SUBSCRIPT) for i in range(1, len(order) + 1) if f"p{i}".translate(_SUBSCRIPT) not in used]
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


def expansions(output: Value) -> dict[int, str]:
    """Each node written out in terms of the inputs (keyed by ``id``), e.g. ``q = wx + b``."""
    names, text = node_names(output), {}
    for node in topological_order(output):
        if node.is_leaf:
            prec = NEG_PREC if node.is_constant and node.data < 0 else ATOM_PREC
            text[id(node)] = (names[id(node)], prec)
        else:
            parts = [text[id(o)] for o in node.operands]
            text[id(node)] = (node.primitive.expand(*parts), node.primitive.precedence)
    return {key: expansion for key, (expansion, _) in text.items()}


def replay(output: Value, inputs: Mapping[Value, float] | None = None) -> float:
    """Re-run the recorded graph with new input values (a *static* graph: the branches taken when it
    was recorded stay taken). Inputs not given keep their recorded values."""
    inputs = {id(k): _as_float(v, "an input value") for k, v in (inputs or {}).items()}
    values: dict[int, float] = {}
    for node in topological_order(output):
        if node.is_leaf:
            values[id(node)] = inputs.get(id(node), node.data)
        else:
            values[id(node)] = node.primitive.compute(*(values[id(o)] for o in node.operands))[0]
    return values[id(output)]


def numerical_gradients(output: Value, h: float = 1e-6) -> dict[int, float]:
    """Central differences (f(v + h) - f(v - h)) / 2h of the recorded graph for every input (by ``id``)."""
    return {id(leaf): (replay(output, {leaf: leaf.data + h}) - replay(output, {leaf: leaf.data - h})) / (2 * h)
            for leaf in inputs_of(output)}


def input_gradients(output: Value) -> dict[str, float]:
    """Run backward and return ∂output/∂input by input name."""
    output.backward()
    names = node_names(output)
    return {names[id(leaf)]: leaf.grad for leaf in inputs_of(output)}


# ---- the course's table ----------------------------------------------------------------------

@dataclass(frozen=True)
class LocalGradient:
    operand: str  # name of the operand
    formula: str  # e.g. "x"
    value: float

    def text(self, result: str) -> str:
        value = format_number(self.value)
        tail = "" if self.formula == value else f" = {value}"
        return f"∂{result}/∂{self.operand} = {self.formula}{tail}"


@dataclass(frozen=True)
class TableRow:
    name: str
    breakdown: str  # "p = w·x"
    value: float
    local_gradients: tuple[LocalGradient, ...]
    expansion: str  # "p = wx"


@dataclass(frozen=True)
class BackwardStep:
    """∂out/∂node as the sum over node's consumers of upstream gradient × local gradient."""
    name: str
    terms: tuple[tuple[str, float, float], ...]  # (consumer name, ∂out/∂consumer, ∂consumer/∂node)
    gradient: float


@dataclass(frozen=True)
class ChainRuleTable:
    output: str
    rows: tuple[TableRow, ...]
    backward: tuple[BackwardStep, ...]
    input_gradients: dict[str, float]
    numerical: dict[str, float] = field(default_factory=dict)

    def backward_lines(self) -> list[str]:
        lines = []
        for step in self.backward:
            if not step.terms:
                lines.append(f"∂{self.output}/∂{step.name} = 1")
                continue
            symbolic = " + ".join(f"∂{self.output}/∂{c}·∂{c}/∂{step.name}" for c, _, _ in step.terms)
            numeric = " + ".join(f"{_factor(up)}·{_factor(local)}" for _, up, local in step.terms)
            lines.append(f"∂{self.output}/∂{step.name} = {symbolic} = {numeric} = {format_number(step.gradient)}")
        return lines

    def __str__(self) -> str:
        headers = ("step", "breakdown", "value", "local gradient(s)", "expansion")
        cells = [[[str(i)], [r.breakdown], [format_number(r.value)],
                  [g.text(r.name) for g in r.local_gradients] or ["(none: constant operands)"], [r.expansion]]
                 for i, r in enumerate(self.rows, 1)]
        widths = [max([len(h)] + [len(line) for row in cells for line in row[c]]) for c, h in enumerate(headers)]
        rule = "  ".join("─" * w for w in widths)
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), rule]
        for row in cells:
            for k in range(max(len(cell) for cell in row)):
                parts = [(cell[k] if k < len(cell) else "").ljust(w) for cell, w in zip(row, widths)]
                lines.append("  ".join(parts).rstrip())
        lines += ["", "backward pass (reverse order: each upstream gradient is computed once, then reused)"]
        lines += ["  " + line for line in self.backward_lines()]
        lines += ["", "gradients of the inputs"]
        width = max(len(f"∂{self.output}/∂{name}") for name in self.input_gradients)
        header = f"  {'':<{width}}  {'backward':>10}"
        lines.append(header + (f"  {'central differences':>19}" if self.numerical else ""))
        for name, grad in self.input_gradients.items():
            row = f"  {f'∂{self.output}/∂{name}':<{width}}  {format_number(grad):>10}"
            if name in self.numerical:
                row += f"  {format_number(self.numerical[name]):>19}"
            lines.append(row)
        return "\n".join(lines)


def _local_gradients(node: Value, names: dict[int, str]) -> tuple[LocalGradient, ...]:
    """One entry per distinct non-constant operand; an operand used twice (x·x) sums its two terms."""
    operand_names = [names[id(o)] for o in node.operands]
    grouped: dict[int, list] = {}
    for operand, formula, local in zip(node.operands, node.primitive.local_formulas, node.local_grads):
        if not operand.is_constant:
            text = formula.format(*operand_names, out=names[id(node)])
            grouped.setdefault(id(operand), [names[id(operand)], [], 0.0])
            grouped[id(operand)][1].append(text)
            grouped[id(operand)][2] += local
    return tuple(LocalGradient(name, " + ".join(formulas), value) for name, formulas, value in grouped.values())


def chain_rule_table(output: Value, check_numerically: bool = True) -> ChainRuleTable:
    """Run ``output.backward()`` and tabulate every primitive, the backward pass and the input gradients.

    With ``check_numerically`` the input gradients are also estimated by central differences of the
    recorded graph (h = 1e-6), the course's "numeric gradient" column.
    """
    _require_value(output).backward()
    order = topological_order(output)
    names, expanded = node_names(output), expansions(output)
    rows = []
    for node in order:
        if not node.is_leaf:
            name, operands = names[id(node)], (names[id(o)] for o in node.operands)
            rows.append(TableRow(name, f"{name} = {node.primitive.breakdown.format(*operands)}", node.data,
                                 _local_gradients(node, names), f"{name} = {expanded[id(node)]}"))
    # consumers[operand][result] = [result, ∂result/∂operand], summed when an operand is used twice (x·x)
    consumers: dict[int, dict[int, list]] = {}
    for node in order:
        for operand, local in zip(node.operands, node.local_grads):
            entry = consumers.setdefault(id(operand), {}).setdefault(id(node), [node, 0.0])
            entry[1] += local
    steps = []
    for node in reversed(order):
        if not node.is_constant:
            terms = tuple((names[id(c)], c.grad, local) for c, local in consumers.get(id(node), {}).values())
            steps.append(BackwardStep(names[id(node)], terms, node.grad))
    grads = {names[id(leaf)]: leaf.grad for leaf in inputs_of(output)}
    numerical = {}
    if check_numerically:
        numerical = {names[key]: value for key, value in numerical_gradients(output).items()}
    return ChainRuleTable(names[id(output)], tuple(rows), tuple(steps), grads, numerical)


def compare_with_closed_form(output: Value, closed_form: Mapping[str, float], tolerance: float = 1e-12) -> str:
    """A table: every input's gradient from the engine next to the closed-form value, with a verdict.

    ``closed_form`` maps input names to ∂output/∂input computed by hand. Raises ``KeyError`` naming
    inputs that are missing from, or unknown to, ``closed_form``.
    """
    from helpers.gradcheck import relative_error  # torch is only needed for this comparison

    engine = input_gradients(_require_value(output))
    if set(engine) != set(closed_form):
        raise KeyError(f"closed_form must give exactly the inputs {sorted(engine)}, got {sorted(closed_form)}")
    width = max(len(name) for name in engine) + 3
    lines = [f"{'∂/∂':<{width}}  {'engine':>10}  {'closed form':>11}  verdict"]
    for name, grad in engine.items():
        error = relative_error(grad, closed_form[name])
        verdict = f"agree (rel. error < {tolerance:.0e})" if error < tolerance else f"DIFFER (rel. error {error:.1e})"
        numbers = f"{format_number(grad):>10}  {format_number(closed_form[name]):>11}"
        lines.append(f"{'∂/∂' + name:<{width}}  {numbers}  {verdict}")
    return "\n".join(lines)


@dataclass(frozen=True)
class ChainRuleCosts:
    """Multiply-adds of local gradients needed for all input gradients, three ways."""
    reverse_mode: int  # one backward sweep: one per edge of the graph
    forward_mode: int  # one forward sweep per input: the edges reachable from that input
    path_by_path: int  # the chain rule written out per input→output path: one per edge of every path


def chain_rule_costs(output: Value) -> ChainRuleCosts:
    """Why reverse order is the best order for one output and many inputs: count the products."""
    order = topological_order(output)
    edges = [(o, n) for n in order for o in n.operands if not o.is_constant]
    paths, lengths = {id(output): 1}, {id(output): 0}  # paths to the output, summed lengths of those paths
    for node in reversed(order):
        for operand in node.operands:
            if operand.is_constant:
                continue
            paths[id(operand)] = paths.get(id(operand), 0) + paths[id(node)]
            lengths[id(operand)] = lengths.get(id(operand), 0) + lengths[id(node)] + paths[id(node)]
    leaves = inputs_of(output)
    forward = 0
    for leaf in leaves:
        reachable = {id(leaf)}
        for operand, node in edges:  # edges are listed by their result's topological position
            if id(operand) in reachable:
                reachable.add(id(node))
                forward += 1
    return ChainRuleCosts(len(edges), forward, sum(lengths[id(leaf)] for leaf in leaves))
