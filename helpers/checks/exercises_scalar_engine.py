"""Checks of the scalar engine's exercises (notebook 00): 0.2, the primitives' local gradients, and 0.3,
reverse mode (``topological_order`` and ``Value.backward``).

Each primitive is checked against torch autograd in float64 and against central differences of its own
value. Reverse mode is checked on graphs assembled here node by node, their local gradients taken from
torch autograd, so a mistake in a primitive never fails the reverse-mode check; their gradients are compared
with torch autograd of the same expressions.
"""
from __future__ import annotations

import math

import torch

from helpers import scalar_autodiff, scalar_primitives
from helpers.checks.exercises import CheckOutcome
from helpers.checks.scalar_check_tools import guarded, outcome
from helpers.runtime.exercises import ExerciseNotDone
from helpers.scalar_autodiff import Value
from helpers.scalar_primitives import Primitive, autograd_local_gradients

SIGN = "sign error in the local gradient"
SWAPPED = "the two operands' local gradients are swapped"
NOT_LOWERED = "power rule: the exponent is not lowered by one"
OWN_VALUE = "wrote the function itself instead of its derivative"

# attribute of helpers.scalar_primitives, torch operation, points, {mistake: wrong local gradients at a point}
PRIMITIVE_CASES = (
    ("ADD", lambda a, b: a + b, ((1.5, -2.0), (0.3, 4.0)), {SIGN: lambda a, b: (-1.0, -1.0)}),
    ("SUB", lambda a, b: a - b, ((1.5, -2.0), (0.3, 4.0)),
     {"the minus sign of the second operand is missing": lambda a, b: (1.0, 1.0), SWAPPED: lambda a, b: (-1.0, 1.0)}),
    ("MUL", lambda a, b: a * b, ((1.5, -2.0), (0.3, 4.0)), {SWAPPED: lambda a, b: (a, b)}),
    ("DIV", lambda a, b: a / b, ((1.5, -2.0), (0.3, 4.0)),
     {"quotient rule: the divisor is not squared": lambda a, b: (1 / b, -a / b), SIGN: lambda a, b: (-1 / b, a / b ** 2)}),
    ("NEG", lambda a: -a, ((1.5,), (-0.3,)), {SIGN: lambda a: (1.0,)}),
    ("EXP", lambda a: a.exp(), ((0.7,), (-1.2,)), {NOT_LOWERED: lambda a: (a * math.exp(a),)}),
    ("LOG", lambda a: a.log(), ((0.7,), (2.5,)), {OWN_VALUE: lambda a: (math.log(a),), SIGN: lambda a: (-1 / a,)}),
    ("SIN", lambda a: a.sin(), ((0.7,), (-2.0,)), {OWN_VALUE: lambda a: (math.sin(a),), SIGN: lambda a: (-math.cos(a),)}),
    ("COS", lambda a: a.cos(), ((0.7,), (-2.0,)), {SIGN: lambda a: (math.sin(a),), OWN_VALUE: lambda a: (math.cos(a),)}),
    ("SIGMOID", lambda a: a.sigmoid(), ((0.7,), (-2.0,), (40.0,)),
     {"σ' written as σ alone": lambda a: (1 / (1 + math.exp(-a)),)}),
    ("TANH", lambda a: a.tanh(), ((0.7,), (-2.0,)),
     {"the tanh in the derivative is not squared": lambda a: (1 - math.tanh(a),), OWN_VALUE: lambda a: (math.tanh(a),)}),
    ("POW", lambda a, b: a ** b, ((1.5, 2.5), (0.7, -1.5)),
     {NOT_LOWERED: lambda a, b: (b * a ** b, a ** b * math.log(a)),
      "∂(aᵇ)/∂b is missing its factor ln a": lambda a, b: (b * a ** (b - 1), a ** b)}),
)
POWERS = (3.0, -1.0, 0.5)  # power_by(n): the exponents checked, at a = 1.3 and a = 0.6


def power_cases():
    for n in POWERS:
        yield (f"power_by({n:g})", lambda a, n=n: a ** n, ((1.3,), (0.6,)),
               {NOT_LOWERED: lambda a, n=n: (n * a ** n,), "the factor n is missing": lambda a, n=n: (a ** (n - 1),)})


def primitive_named(attribute: str) -> Primitive:
    if attribute.startswith("power_by("):
        return scalar_primitives.power_by(float(attribute[9:-1]))
    return getattr(scalar_primitives, attribute)


def _check_primitive(attribute: str, operation, points, mistakes) -> CheckOutcome:
    """One primitive at its points: value and local gradients against torch autograd (float64)."""
    compute, reference = primitive_named(attribute).compute, autograd_local_gradients(operation)
    student = torch.tensor([[value, *grads] for value, grads in (compute(*p) for p in points)], dtype=torch.float64)
    expected = torch.tensor([[value, *grads] for value, grads in (reference(*p) for p in points)], dtype=torch.float64)
    def made(mistake) -> torch.Tensor:  # the values with the mistaken local gradients
        return torch.cat([expected[:, :1], torch.tensor([mistake(*p) for p in points], dtype=torch.float64)], 1)
    wrong = {d: (lambda _, m=m: made(m)) for d, m in mistakes.items()}
    name = f"{attribute}: value and local gradients vs torch autograd (float64)"
    return outcome(name, student, expected, wrong, what="the value or a local gradient")


def _central_differences_agree(cases) -> CheckOutcome:
    """Every local gradient against (value(a + h) - value(a - h)) / 2h of the student's own value."""
    wrong, h = [], 1e-6
    for attribute, _, points, _ in cases:
        compute = primitive_named(attribute).compute
        for point in points:
            _, grads = compute(*point)
            for k, grad in enumerate(grads):
                up, down = (list(point) for _ in range(2))
                up[k] += h
                down[k] -= h
                estimate = (compute(*up)[0] - compute(*down)[0]) / (2 * h)
                if not abs(grad - estimate) <= 1e-6 * max(1.0, abs(estimate)):
                    wrong.append(attribute)
    wrong = sorted(set(wrong))
    return CheckOutcome("local gradients agree with central differences of your values", not wrong,
                        f"value and local gradient disagree in: {', '.join(wrong)}" if wrong else "")


def check_primitives() -> list[CheckOutcome]:
    """Exercise 0.2: every primitive of :mod:`helpers.scalar_primitives`; shapes: scalars."""
    cases = PRIMITIVE_CASES + tuple(power_cases())
    outcomes, done = [], []
    for case in cases:
        try:
            outcomes.append(guarded(case[0], lambda case=case: _check_primitive(*case)))
            done.append(case)
        except ExerciseNotDone:
            outcomes.append(CheckOutcome(f"{case[0]}: not done yet", False, "implement it, then re-run the check"))
    if not done:
        raise ExerciseNotDone("ADD", "helpers/scalar_primitives.py", "0.2")
    outcomes.append(guarded("central differences", lambda: _central_differences_agree(done)))
    return outcomes


# ---- reverse mode ------------------------------------------------------------------------------------

GIVEN = Primitive("given", "?", compute=None)  # a node whose local gradients were supplied by the check
NYU_INPUTS = {"x": 1.0, "y": 2.0, "z": -1.5, "o": 0.5}
NYU_SPEC = (("a", lambda x, y: x + y, ("x", "y")), ("b", lambda z, o: z * o, ("z", "o")),
            ("c", lambda a, b: a * b, ("a", "b")), ("w", lambda c, z: c + z, ("c", "z")))
SHARED_INPUTS = {"u": 0.7, "v": -1.2}
SHARED_SPEC = (("p", lambda a, b: a * b, ("u", "u")), ("q", lambda p, v: p * v, ("p", "v")),
               ("r", lambda u: u.exp(), ("u",)), ("s", lambda q, r: q + r, ("q", "r")),
               ("t", lambda s: s.tanh(), ("s",)))
GRAPHS = {"w = (x + y)·(z·o) + z": (NYU_SPEC, NYU_INPUTS), "t = tanh(u·u·v + exp(u))": (SHARED_SPEC, SHARED_INPUTS)}


def hand_graph(spec, inputs) -> dict[str, Value]:
    """The graph of ``spec`` (name, torch operation, operand names) as engine Values, every node named, the
    local gradients from torch autograd (not from the student's primitives). Shapes: scalars."""
    nodes = {name: Value(value, name) for name, value in inputs.items()}
    for name, operation, operand_names in spec:
        operands = tuple(nodes[o] for o in operand_names)
        value, local = autograd_local_gradients(operation)(*(o.data for o in operands))
        node = Value(value, name)
        node.primitive, node.operands, node.local_grads = GIVEN, operands, local
        nodes[name] = node
    return nodes


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


def _order_problem(order, nodes: dict[str, Value]) -> str:
    """What is wrong with ``order`` as a topological order of the graph ``nodes`` (output last), or ''."""
    output = list(nodes.values())[-1]
    if not isinstance(order, list) or not all(isinstance(n, Value) for n in order):
        return "topological_order must return a list of the graph's Values"
    ids = [id(n) for n in order]
    if len(set(ids)) != len(ids):
        return "a node appears more than once: mark nodes as visited"
    if set(ids) != {id(n) for n in nodes.values()}:
        return "some nodes of the graph are missing (or foreign nodes are included)"
    if order[-1] is not output:
        return "the output must come last"
    position = {i: k for k, i in enumerate(ids)}
    if any(position[id(o)] > position[id(n)] for n in order for o in n.operands):
        return "an operand comes after the result that uses it"
    return ""


def _backward_mistakes(spec, inputs) -> dict:
    edges = [(name, o) for name, _, operands in spec for o in operands]
    output = spec[-1][0]
    mistakes = {"the output's own gradient is never set to 1 before the sweep": lambda g: 0 * g,
                "nodes visited in the wrong order (operands before results): a gradient is passed on before it is "
                "complete": lambda g: torch_gradients(spec, inputs, cut=[e for e in edges if e[0] != output]),
                "a local gradient is missing: the upstream gradient is passed on unchanged":
                    lambda g: torch_gradients(spec, inputs, linear=True)}
    for result, operand in edges:  # `=` instead of `+=`: a node used twice keeps the path written last
        if sum(o == operand for _, o in edges) > 1:
            mistakes[f"`=` instead of `+=`: {operand} is used by two primitives and keeps only one path "
                     f"({result} is missing)"] = lambda g, edge=(result, operand): torch_gradients(spec, inputs, [edge])
    return mistakes


def _check_graph(title: str, spec, inputs) -> list[CheckOutcome]:
    nodes = hand_graph(spec, inputs)
    output = list(nodes.values())[-1]
    problem = _order_problem(scalar_autodiff.topological_order(output), nodes)
    results = [CheckOutcome(f"{title}: topological_order", not problem, problem)]
    expected = torch_gradients(spec, inputs)
    output.backward()
    first = torch.tensor([n.grad for n in nodes.values()], dtype=torch.float64)
    mistakes = _backward_mistakes(spec, inputs)
    results.append(outcome(f"{title}: backward() sets every node's gradient (vs torch autograd)", first, expected,
                           mistakes, what="the gradients"))
    output.backward()
    second = torch.tensor([n.grad for n in nodes.values()], dtype=torch.float64)
    results.append(outcome(f"{title}: a second backward() gives the same gradients", second, first,
                           {"gradients are not reset to 0 before the sweep: a second backward() adds to the "
                            "first": lambda g: 2 * g}, what="the gradients"))
    return results


DEPTH = 5000  # deeper than Python's default recursion limit (1000)


def _deep_chain_outcome() -> CheckOutcome:
    """A chain x → n₁ → … → n_DEPTH whose every local gradient is -1: ∂out/∂x = (-1)^DEPTH = 1."""
    x = node = Value(0.5, "x")
    for _ in range(DEPTH):
        result = Value(-node.data)
        result.primitive, result.operands, result.local_grads = GIVEN, (node,), (-1.0,)
        node = result
    order = scalar_autodiff.topological_order(node)
    node.backward()
    ok = len(order) == DEPTH + 1 and order[0] is x and x.grad == 1.0
    return CheckOutcome(f"a chain {DEPTH} nodes deep (deeper than Python's recursion limit)", ok,
                        "" if ok else "the order or the gradient is wrong on a long chain")


def check_reverse_mode() -> list[CheckOutcome]:
    """Exercise 0.3: topological order and the backward sweep, on two hand-assembled graphs (a node used by
    two primitives; an operand used twice by one primitive). Shapes: scalars."""
    outcomes = []
    for title, (spec, inputs) in GRAPHS.items():
        try:
            outcomes += _check_graph(title, spec, inputs)
        except ExerciseNotDone:
            raise
        except Exception as error:
            outcomes.append(CheckOutcome(f"{title}: your code runs", False,
                                         f"your code raised {type(error).__name__}: {error}"))
    deep = guarded("deep chain", _deep_chain_outcome)
    if "RecursionError" in deep.diagnosis:
        deep = CheckOutcome(deep.name, False, "recursion is too deep: walk the graph with an explicit stack")
    return outcomes + [deep]
