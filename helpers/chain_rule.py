"""The course's chain-rule table for an expression of the scalar engine (:mod:`helpers.scalar_autodiff`).

:func:`chain_rule_table` prints one row per primitive (its breakdown ``p = w·x``, value, local
gradients ``∂p/∂w`` and expansion ``p = wx``), then the backward pass and the gradient of every
input next to central differences of the recorded graph. :func:`compare_with_closed_form` checks
gradients derived by hand; :func:`chain_rule_costs` counts the products each order of the chain
rule needs. Example: ``print(chain_rule_table(((w * x + b) - y) ** 2))`` for Values w, x, b, y."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from helpers.scalar_autodiff import (Primitive, Value, format_number, input_gradients, inputs_of, node_names,
                                     numerical_gradients, topological_order)

# Precedences for printing expansions with as few parentheses as the maths needs.
ADD_PREC, MUL_PREC, NEG_PREC, POW_PREC, ATOM_PREC = 1, 2, 3, 4, 5
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
# Juxtaposing these would read as letters (wexp(bx)), so products with them keep their dot.
_NAMED_FUNCTIONS = ("exp(", "ln(", "sin(", "cos(", "tanh(")


# ---- how each primitive is written ------------------------------------------------------------

@dataclass(frozen=True)
class Notation:
    """How a primitive is printed. ``breakdown`` and ``local_formulas`` (one per operand, empty while
    :func:`local_gradient_formulas` is not done) are ``str.format`` templates over the operands' names
    ``{0}``, ``{1}`` and the result's name ``{out}``; ``expand`` writes the result in terms of its operands'
    (expansion, precedence) pairs (a function, because parentheses depend on precedence)."""
    breakdown: str
    precedence: int
    expand: Callable[..., str]
    local_formulas: tuple[str, ...] = ()


def _wrap(text: str, precedence: int, below: int) -> str:
    """Parenthesise ``text`` when its precedence is below ``below`` or it starts with a minus sign."""
    return f"({text})" if precedence < below or text.startswith("-") else text


def _expand_mul(a, b):
    # Juxtapose (wx, 2σ(q)) like the course, unless that would read as one number or a quotient.
    left = f"({a[0]})" if a[1] < MUL_PREC or (a[1] == MUL_PREC and "/" in a[0]) else a[0]
    right = _wrap(*b, MUL_PREC + 1)
    ambiguous = right[0].isdigit() or right[0] == "." or right.startswith(_NAMED_FUNCTIONS) or left == right
    return f"{left}{'·' if ambiguous else ''}{right}"


def _call(function_name: str) -> Notation:
    """A function applied to one operand: ``exp(q)``."""
    return Notation(f"{function_name}({{0}})", ATOM_PREC, lambda a: f"{function_name}({a[0]})")


NOTATIONS = {  # by Primitive.name; powers by a fixed number are written by _power_notation
    "add": Notation("{0} + {1}", ADD_PREC, lambda a, b: f"{a[0]} + {_wrap(*b, ADD_PREC)}"),
    "sub": Notation("{0} - {1}", ADD_PREC, lambda a, b: f"{a[0]} - {_wrap(*b, MUL_PREC)}"),
    "mul": Notation("{0}·{1}", MUL_PREC, _expand_mul),
    "div": Notation("{0}/{1}", MUL_PREC, lambda a, b: f"{_wrap(*a, MUL_PREC)}/{_wrap(*b, MUL_PREC + 1)}"),
    "neg": Notation("-{0}", NEG_PREC, lambda a: f"-{_wrap(*a, MUL_PREC)}"),
    "pow": Notation("{0}^{1}", POW_PREC, lambda a, b: f"{_wrap(*a, ATOM_PREC)}^{_wrap(*b, ATOM_PREC)}"),
    "exp": _call("exp"), "log": _call("ln"), "sin": _call("sin"), "cos": _call("cos"), "sigmoid": _call("σ"),
    "tanh": _call("tanh"),
}


def _power_text(base: str, exponent: float) -> str:
    """``q²``, ``q⁻¹`` for integer exponents, ``q^0.5`` otherwise."""
    if float(exponent).is_integer():
        return base + str(int(exponent)).translate(_SUPERSCRIPT)
    return f"{base}^{exponent:g}"


def local_gradient_formulas(primitive: Primitive) -> tuple[str, ...]:
    """Exercise 0.2, for the tables: ``primitive``'s local gradients as text, one ``str.format`` template per
    operand over ``{0}``, ``{1}`` (the operands' names) and ``{out}`` (the result's name)."""
    ### BEGIN SOLUTION
    if primitive.exponent is not None:
        n = primitive.exponent
        if n in (0, 1):
            return (f"{n:g}",)
        if n == 2:
            return ("2{0}",)
        return (("-" if n < 0 else "") + f"{abs(n):g}" * (abs(n) != 1) + _power_text("{0}", n - 1),)
    return {"add": ("1", "1"), "sub": ("1", "-1"), "mul": ("{1}", "{0}"), "div": ("1/{1}", "-{0}/{1}²"),
            "neg": ("-1",), "pow": ("{1}·{0}^({1} - 1)", "{out}·ln({0})"), "exp": ("exp({0}) = {out}",),
            "log": ("1/{0}",), "sin": ("cos({0})",), "cos": ("-sin({0})",),
            "sigmoid": ("σ({0})(1 - σ({0})) = {out}(1 - {out})",),
            "tanh": ("1 - tanh²({0}) = 1 - {out}²",)}[primitive.name]
    ### END SOLUTION


def _power_notation(n: float) -> Notation:
    """a ↦ a**n for a fixed number n: ``q²``, ``q⁻¹``, ..."""
    return Notation(_power_text("{0}", n), POW_PREC, lambda a: _power_text(_wrap(*a, ATOM_PREC), n))


def notation(primitive: Primitive) -> Notation:
    """How ``primitive`` is printed in the table."""
    written = NOTATIONS[primitive.name] if primitive.exponent is None else _power_notation(primitive.exponent)
    return replace(written, local_formulas=tuple(local_gradient_formulas(primitive)))


# ---- expansions: each node written out in terms of the inputs ---------------------------------

def expansions(output: Value) -> dict[int, str]:
    """Each node written out in terms of the inputs (keyed by ``id``), e.g. ``q = wx + b``."""
    names, text = node_names(output), {}
    for node in topological_order(output):
        if node.is_leaf:
            prec = NEG_PREC if node.is_constant and node.data < 0 else ATOM_PREC
            text[id(node)] = (names[id(node)], prec)
        else:
            written = notation(node.primitive)
            text[id(node)] = (written.expand(*(text[id(o)] for o in node.operands)), written.precedence)
    return {key: expansion for key, (expansion, _) in text.items()}


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


def _factor(value: float) -> str:
    """A number as a factor in a product: negative numbers in parentheses, 6·(-1)."""
    text = format_number(value)
    return f"({text})" if text.startswith("-") else text


@dataclass(frozen=True)
class ChainRuleTable:
    output: str
    rows: tuple[TableRow, ...]
    backward: tuple[BackwardStep, ...]
    input_gradients: dict[str, float]
    numerical: dict[str, float | None] = field(default_factory=dict)

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
            if self.numerical:  # an input on the edge of a primitive's domain has no central difference
                value = self.numerical.get(name)
                row += f"  {'n/a (domain edge)' if value is None else format_number(value):>19}"
            lines.append(row)
        return "\n".join(lines)


def _table_row(node: Value, names: dict[int, str], expansion: str) -> TableRow:
    """A primitive's row; an operand used twice (x·x) gets one local gradient summing its two terms."""
    written, name = notation(node.primitive), names[id(node)]
    operand_names = [names[id(o)] for o in node.operands]
    grouped: dict[int, list] = {}
    formulas = written.local_formulas or (None,) * len(node.operands)  # None: the number alone
    for operand, formula, local in zip(node.operands, formulas, node.local_grads):
        if not operand.is_constant:
            text = format_number(local) if formula is None else formula.format(*operand_names, out=name)
            grouped.setdefault(id(operand), [names[id(operand)], [], 0.0])
            grouped[id(operand)][1].append(text)
            grouped[id(operand)][2] += local
    local_gradients = tuple(LocalGradient(operand, " + ".join(texts), value)
                            for operand, texts, value in grouped.values())
    return TableRow(name, f"{name} = {written.breakdown.format(*operand_names)}", node.data, local_gradients,
                    f"{name} = {expansion}")


def chain_rule_table(output: Value, check_numerically: bool = True) -> ChainRuleTable:
    """Run ``output.backward()`` and tabulate every primitive, the backward pass and the input gradients.

    With ``check_numerically`` the input gradients are also estimated by central differences of the
    recorded graph (h = 1e-6, smaller near the edge of a primitive's domain), the course's "numeric
    gradient" column.
    """
    order = topological_order(output)
    output.backward()
    names, expanded = node_names(output), expansions(output)
    rows = [_table_row(node, names, expanded[id(node)]) for node in order if not node.is_leaf]
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
    if check_numerically:  # None where no central difference exists (an input on a domain's edge)
        values = numerical_gradients(output)
        numerical = {names[id(leaf)]: values.get(id(leaf)) for leaf in inputs_of(output)}
    return ChainRuleTable(names[id(output)], tuple(rows), tuple(steps), grads, numerical)


def table_to_fill(table: ChainRuleTable, point: str = "your own point") -> str:
    """``table`` with only what the student starts from: each step's name and breakdown, and which operands
    need a local gradient; every number, expansion and backward product is left as ``?`` (the student
    edition's CS475 tables, exercise 0.12)."""
    headers = ("step", "breakdown", "value", "local gradient(s)", f"∂{table.output}/∂step")
    cells = [[str(i), r.breakdown, "?", ", ".join(f"∂{r.name}/∂{g.operand} = ?" for g in r.local_gradients)
              or "(none: constant operands)", "?"] for i, r in enumerate(table.rows, 1)]
    widths = [max(len(h), *(len(row[c]) for row in cells)) for c, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "  ".join("─" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines + ["", f"(your table: fill in every ? in the cell below, at {point})"])


def cs475_table(output: Value) -> str:
    """A CS475 table as the edition shows it: filled by the engine in the instructor edition
    (:func:`chain_rule_table`), to be filled by the student in the student edition (:func:`table_to_fill`)."""
    from helpers.runtime.edition import SHOWS_ANSWERS
    table = chain_rule_table(output, check_numerically=SHOWS_ANSWERS)
    if SHOWS_ANSWERS:
        return str(table)
    names = node_names(output)
    point = ", ".join(f"{names[id(leaf)]} = {format_number(leaf.data)}" for leaf in inputs_of(output))
    return table_to_fill(table, f"your point {point}")


def compare_with_closed_form(output: Value, closed_form: Mapping[str, float], tolerance: float = 1e-12) -> str:
    """A table: every input's gradient from the engine next to the closed-form value, with a verdict.

    ``closed_form`` maps input names to ∂output/∂input computed by hand. Raises ``KeyError`` naming
    inputs that are missing from, or unknown to, ``closed_form``. The student edition shows the engine's
    numbers as ``?`` (at the student's own point they are entries of the exercise 0.12 tables), and the closed
    form's too while a reference stands in for an exercise in the cell (they are then the reference's, not
    the student's); the verdicts stay.
    """
    from helpers.gradcheck import relative_error, verdict  # torch is only needed for this comparison
    from helpers.runtime.edition import SHOWS_ANSWERS
    from helpers.runtime.exercises import stood_in_here

    engine = input_gradients(output)
    if set(engine) != set(closed_form):
        raise KeyError(f"closed_form must give exactly the inputs {sorted(engine)}, got {sorted(closed_form)}")
    width = max(len(name) for name in engine) + 3
    lines = [f"{'∂/∂':<{width}}  {'engine':>10}  {'closed form':>11}  relative error"]
    own_closed_form = SHOWS_ANSWERS or not stood_in_here()
    for name, grad in engine.items():
        numbers = (f"{format_number(grad) if SHOWS_ANSWERS else '?':>10}  "
                   f"{format_number(closed_form[name]) if own_closed_form else '?':>11}")
        error = relative_error(grad, closed_form[name])
        lines.append(f"{'∂/∂' + name:<{width}}  {numbers}  {verdict(error, tolerance)}")
    if not own_closed_form:
        lines.append("(closed form ?: a reference stands in for an exercise in this cell; your numbers show once "
                     "it is done)")
    return "\n".join(lines)


@dataclass(frozen=True)
class ChainRuleCosts:
    """Multiply-adds of local gradients needed for all input gradients, three ways."""
    reverse_mode: int  # one backward sweep: one per edge of the graph
    forward_mode: int  # one forward sweep per input: the edges reachable from that input
    path_by_path: int  # the chain rule written out per input→output path: one per edge of every path


def chain_rule_costs(output: Value) -> ChainRuleCosts:
    """Why reverse order is the best order for one output and many inputs: count the products.

    Counted forward, input by input (the number of paths from the input to every node and their summed
    lengths), so that nothing here walks the graph backwards: that sweep is exercise 0.3's."""
    order = topological_order(output)
    edges = [(o, n) for n in order for o in n.operands if not o.is_constant]
    leaves = inputs_of(output)
    forward = path_by_path = 0
    for leaf in leaves:
        # paths[node]: paths from leaf to node; lengths[node]: their summed lengths (edges)
        paths, lengths = {id(leaf): 1}, {id(leaf): 0}
        for operand, node in edges:  # edges are listed by their result's topological position
            if id(operand) in paths:
                paths[id(node)] = paths.get(id(node), 0) + paths[id(operand)]
                lengths[id(node)] = lengths.get(id(node), 0) + lengths[id(operand)] + paths[id(operand)]
                forward += 1
        path_by_path += lengths.get(id(output), 0)
    return ChainRuleCosts(len(edges), forward, path_by_path)
