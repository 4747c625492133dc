"""Checks of the scalar engine's exercises (notebook 00): 0.2, the primitives' local gradients, and 0.3,
reverse mode (``topological_order`` and ``Value.backward``).

Each primitive is checked against torch autograd in float64 and against central differences of its own
value. Reverse mode is checked on graphs described here node by node, their local gradients taken from
torch autograd, so a mistake in a primitive never fails the reverse-mode check; their gradients are compared
with torch autograd of the same expressions.

The student's code runs in the sandbox (``code``, a :class:`helpers.checks.sandbox.StudentCode`): the
primitives are called with numbers, the graphs are built there from their description
(:mod:`helpers.checks.harness_scalar`) and come back as data (the order as node indices, every node's
``grad``); everything compared is computed here.
"""
from __future__ import annotations

import math

import torch

from helpers.checks.toolkit import CheckOutcome
from helpers.checks.sandbox import ForbiddenToolUsed
from helpers.checks.scalar_check_tools import guarded, outcome
from helpers.runtime.exercises import ExerciseNotDone
from helpers.scalar_primitives import autograd_local_gradients

HARNESS = "helpers.checks.harness_scalar"

SIGN = "sign error in the local gradient"
SWAPPED = "the two operands' local gradients are swapped"
NOT_LOWERED = "power rule: the derivative has the wrong power"
OWN_VALUE = "wrote the function itself instead of its derivative"

# attribute of helpers.scalar_primitives, torch operation, points, {mistake: wrong local gradients at a point}
PRIMITIVE_CASES = (
    ("ADD", lambda a, b: a + b, ((1.5, -2.0), (0.3, 4.0)), {SIGN: lambda a, b: (-1.0, -1.0)}),
    ("SUB", lambda a, b: a - b, ((1.5, -2.0), (0.3, 4.0)),
     {"the minus sign of the second operand is missing": lambda a, b: (1.0, 1.0), SWAPPED: lambda a, b: (-1.0, 1.0)}),
    ("MUL", lambda a, b: a * b, ((1.5, -2.0), (0.3, 4.0)), {SWAPPED: lambda a, b: (a, b)}),
    ("DIV", lambda a, b: a / b, ((1.5, -2.0), (0.3, 4.0)),
     {"quotient rule: the derivative with respect to the divisor is wrong": lambda a, b: (1 / b, -a / b), SIGN: lambda a, b: (-1 / b, a / b ** 2)}),
    ("NEG", lambda a: -a, ((1.5,), (-0.3,)), {SIGN: lambda a: (1.0,)}),
    ("EXP", lambda a: a.exp(), ((0.7,), (-1.2,)), {NOT_LOWERED: lambda a: (a * math.exp(a),)}),
    ("LOG", lambda a: a.log(), ((0.7,), (2.5,)), {OWN_VALUE: lambda a: (math.log(a),), SIGN: lambda a: (-1 / a,)}),
    ("SIN", lambda a: a.sin(), ((0.7,), (-2.0,)), {OWN_VALUE: lambda a: (math.sin(a),), SIGN: lambda a: (-math.cos(a),)}),
    ("COS", lambda a: a.cos(), ((0.7,), (-2.0,)), {SIGN: lambda a: (math.sin(a),), OWN_VALUE: lambda a: (math.cos(a),)}),
    ("SIGMOID", lambda a: a.sigmoid(), ((0.7,), (-2.0,), (40.0,)),
     {"σ' written as σ alone": lambda a: (1 / (1 + math.exp(-a)),)}),
    ("TANH", lambda a: a.tanh(), ((0.7,), (-2.0,)),
     {"the derivative of tanh is wrong": lambda a: (1 - math.tanh(a),), OWN_VALUE: lambda a: (math.tanh(a),)}),
    ("POW", lambda a, b: a ** b, ((1.5, 2.5), (0.7, -1.5)),
     {NOT_LOWERED: lambda a, b: (b * a ** b, a ** b * math.log(a)),
      "∂(aᵇ)/∂b is missing a factor": lambda a, b: (b * a ** (b - 1), a ** b)}),
)
POWERS = (3.0, -1.0, 0.5)  # power_by(n): the exponents checked, at a = 1.3 and a = 0.6


def power_cases():
    for n in POWERS:
        yield (f"power_by({n:g})", lambda a, n=n: a ** n, ((1.3,), (0.6,)),
               {NOT_LOWERED: lambda a, n=n: (n * a ** n,), "power rule: a factor is missing": lambda a, n=n: (a ** (n - 1),)})


def _student_values(code, attribute: str, points) -> torch.Tensor:
    """The student's ``[value, *local gradients]`` at each point (rows), from the sandbox."""
    rows = code.call(f"{HARNESS}:primitive_values", attribute, [list(p) for p in points])
    return torch.tensor(rows, dtype=torch.float64)


def _check_primitive(code, attribute: str, operation, points, mistakes) -> CheckOutcome:
    """One primitive at its points: value and local gradients against torch autograd (float64)."""
    reference = autograd_local_gradients(operation)
    student = _student_values(code, attribute, points)
    expected = torch.tensor([[value, *grads] for value, grads in (reference(*p) for p in points)], dtype=torch.float64)
    def made(mistake) -> torch.Tensor:  # the values with the mistaken local gradients
        return torch.cat([expected[:, :1], torch.tensor([mistake(*p) for p in points], dtype=torch.float64)], 1)
    wrong = {d: (lambda _, m=m: made(m)) for d, m in mistakes.items()}
    name = f"{attribute}: value and local gradients vs torch autograd (float64)"
    return outcome(name, student, expected, wrong, what="the value or a local gradient")


def _central_differences_agree(code, cases) -> CheckOutcome:
    """Every local gradient against (value(a + h) - value(a - h)) / 2h of the student's own value."""
    wrong, h = [], 1e-6
    for attribute, _, points, _ in cases:
        shifted = []
        for point in points:
            for k in range(len(point)):
                up, down = (list(point) for _ in range(2))
                up[k] += h
                down[k] -= h
                shifted += [up, down]
        rows = code.call(f"{HARNESS}:primitive_values", attribute, [list(p) for p in points] + shifted)
        at, around = rows[:len(points)], iter(rows[len(points):])
        for point, (_, *grads) in zip(points, at):
            for k, grad in enumerate(grads[:len(point)]):
                up, down = next(around), next(around)
                estimate = (up[0] - down[0]) / (2 * h)
                if not abs(grad - estimate) <= 1e-6 * max(1.0, abs(estimate)):
                    wrong.append(attribute)
    wrong = sorted(set(wrong))
    return CheckOutcome("local gradients agree with central differences of your values", not wrong,
                        f"value and local gradient disagree in: {', '.join(wrong)}" if wrong else "")


def check_primitives(code) -> list[CheckOutcome]:
    """Exercise 0.2: every primitive of :mod:`helpers.scalar_primitives`; shapes: scalars."""
    cases = PRIMITIVE_CASES + tuple(power_cases())
    outcomes, done = [], []
    for case in cases:
        try:
            outcomes.append(guarded(case[0], lambda case=case: _check_primitive(code, *case)))
            done.append(case)
        except ExerciseNotDone:
            outcomes.append(CheckOutcome(f"{case[0]}: not done yet", False, "implement it, then re-run the check"))
    if not done:
        raise ExerciseNotDone("ADD", "helpers/scalar_primitives.py", "0.2")
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
        value, local = autograd_local_gradients(operation)(*(values[o] for o in operand_names))
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


def _order_problem(order, spec, inputs) -> str:
    """What is wrong with ``order`` (node indices: the inputs, then ``spec``'s nodes; a foreign Value is
    negative, anything else None) as a topological order of the graph, output last, or ''."""
    names = list(inputs) + [name for name, _, _ in spec]
    if not isinstance(order, list) or not all(isinstance(n, int) for n in order):
        return "topological_order must return a list of the graph's Values"
    if len(set(order)) != len(order):
        return "a node appears more than once: mark nodes as visited"
    if set(order) != set(range(len(names))):
        return "some nodes of the graph are missing (or foreign nodes are included)"
    if order[-1] != len(names) - 1:
        return "the output must come last"
    position = {n: k for k, n in enumerate(order)}
    operands = {names.index(name): [names.index(o) for o in operand_names] for name, _, operand_names in spec}
    if any(position[o] > position[n] for n in order for o in operands.get(n, ())):
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


def _check_graph(code, title: str, spec, inputs) -> list[CheckOutcome]:
    graph_inputs, nodes = hand_graph(spec, inputs)
    run = code.call(f"{HARNESS}:reverse_mode", graph_inputs, nodes)
    problem = _order_problem(run["order"], spec, inputs)
    results = [CheckOutcome(f"{title}: topological_order", not problem, problem)]
    expected = torch_gradients(spec, inputs)
    first = torch.tensor(run["first"], dtype=torch.float64)
    mistakes = _backward_mistakes(spec, inputs)
    results.append(outcome(f"{title}: backward() sets every node's gradient (vs torch autograd)", first, expected,
                           mistakes, what="the gradients"))
    second = torch.tensor(run["second"], dtype=torch.float64)
    results.append(outcome(f"{title}: a second backward() gives the same gradients", second, first,
                           {"gradients are not reset to 0 before the sweep: a second backward() adds to the "
                            "first": lambda g: 2 * g}, what="the gradients"))
    return results


DEPTH = 5000  # deeper than Python's default recursion limit (1000)


def _deep_chain_outcome(code) -> CheckOutcome:
    """A chain x → n₁ → … → n_DEPTH whose every local gradient is -1: ∂out/∂x = (-1)^DEPTH = 1."""
    run = code.call(f"{HARNESS}:deep_chain", DEPTH)
    ok = run["length"] == DEPTH + 1 and run["first_is_x"] is True and run["x_grad"] == 1.0
    return CheckOutcome(f"a chain {DEPTH} nodes deep (deeper than Python's recursion limit)", ok,
                        "" if ok else "the order or the gradient is wrong on a long chain")


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
        deep = CheckOutcome(deep.name, False, "recursion is too deep: walk the graph with an explicit stack")
    return outcomes + [deep]
