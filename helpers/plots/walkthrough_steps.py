"""Backpropagation one step at a time: the ordered steps a class walks through on an engine expression.

:func:`build_walkthrough` turns an expression of the scalar engine (:mod:`helpers.scalar_autodiff`) into
plain data: a *start* step, one *forward* step per primitive (its value as computed, in topological
order), one *backward* step per non-constant node (outputs first) and an *end* step. A backward step
lists, for every edge from the node to a primitive that uses it, upstream gradient × local gradient =
contribution, and the running sum of those contributions: a node reached by several paths (z in
w = (x + y)·(z·o) + z) shows its gradient adding up. Each step also points at its row of
:func:`helpers.chain_rule.chain_rule_table` (``table_section``, ``table_index``).

The walkthrough steps through the engine's own backward pass (:meth:`~helpers.scalar_autodiff.Value.backward`
and :func:`~helpers.scalar_autodiff.topological_order`, exercise 0.3, or their labelled stand-in while those
are not done): each upstream gradient is the one ``backward()`` left on the consumer, and a step sums those
× the recorded local gradients for one node (``gradient``) next to the gradient ``backward()`` left on the
node itself (``engine_gradient``), so a wrong engine shows up at the first step where the two differ.
:mod:`helpers.plots.walkthrough` draws the steps.

Example::

    w = nyu_graph(x=1.0, y=2.0, z=-1.5, o=0.5)
    steps = build_walkthrough(w).steps
    [s for s in steps if s.node == "z" and s.phase == "backward"][0].contributions  # two edges
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from helpers.chain_rule import ChainRuleTable, chain_rule_table
from helpers.scalar_autodiff import Value, node_names, topological_order

PHASES = ("start", "forward", "backward", "end")


@dataclass(frozen=True)
class Contribution:
    """One edge of the backward pass: ∂out/∂consumer × ∂consumer/∂node (scalars)."""
    consumer: str  # the result of the primitive the node feeds
    upstream: float  # ∂out/∂consumer
    local: float  # ∂consumer/∂node (summed when the node is used twice, as in x·x)
    contribution: float  # upstream × local
    running_sum: float  # the node's gradient so far, this edge included


@dataclass(frozen=True)
class Step:
    """One frame of the walkthrough (all numbers are Python floats, i.e. scalars).

    ``node`` is the name of the node the step is about (the output for start and end), ``key`` its
    ``id``; ``value`` is its value; for backward steps ``gradient`` is ∂out/∂node summed from
    ``contributions`` (the engine's upstream gradients × local gradients) and ``engine_gradient`` what
    ``backward()`` left in ``node.grad``.
    ``table_section`` is "rows" (forward), "backward" or None, ``table_index`` the row within it.
    """
    phase: str
    node: str
    key: int
    value: float
    contributions: tuple[Contribution, ...] = ()
    gradient: float | None = None
    engine_gradient: float | None = None
    table_section: str | None = None
    table_index: int | None = None

    @property
    def agrees_with_engine(self) -> bool:
        """Whether the engine's gradient equals the one summed here (to round-off: x·x sums its two local
        gradients before multiplying, the engine after)."""
        if self.gradient is None:
            return True
        return math.isclose(self.gradient, self.engine_gradient, rel_tol=1e-12, abs_tol=1e-300)


@dataclass(frozen=True)
class Walkthrough:
    """The steps of one expression and the chain-rule table their ``table_index`` points into."""
    output: str  # the output's name
    steps: tuple[Step, ...]
    table: ChainRuleTable


def _consumers(order: list[Value]) -> dict[int, dict[int, list]]:
    """consumers[id(operand)][id(result)] = [result, ∂result/∂operand] (summed for x·x), in topological order."""
    consumers: dict[int, dict[int, list]] = {}
    for node in order:
        for operand, local in zip(node.operands, node.local_grads):
            entry = consumers.setdefault(id(operand), {}).setdefault(id(node), [node, 0.0])
            entry[1] += local
    return consumers


def _backward_steps(order: list[Value], names: dict[int, str], output: Value) -> list[Step]:
    """One step per non-constant node, output first: the upstream gradients are those ``backward()`` left on
    the node's consumers (the engine's, read back, not propagated here), summed with the local gradients."""
    consumers, steps = _consumers(order), []
    for node in reversed(order):
        if node.is_constant:
            continue
        contributions, total = [], 0.0 if node is not output else 1.0
        # the engine's order: the consumer processed first (latest in topological order) arrives first
        for consumer, local in reversed(list(consumers.get(id(node), {}).values())):
            upstream = consumer.grad
            total += upstream * local
            contributions.append(Contribution(names[id(consumer)], upstream, local, upstream * local, total))
        steps.append(Step("backward", names[id(node)], id(node), node.data, tuple(contributions), total,
                          node.grad, "backward", len(steps)))
    return steps


def build_walkthrough(output: Value) -> Walkthrough:
    """The walkthrough of ``output``'s graph: start, forward per primitive, backward per node, end.

    Runs ``output.backward()`` (through :func:`chain_rule_table`), so every node's ``grad`` is set
    afterwards. ``steps`` has 2 + (number of primitives) + (number of non-constant nodes) entries.
    """
    if not isinstance(output, Value):
        raise TypeError(f"the walkthrough expects the Value an expression produced, got {type(output).__name__}")
    table = chain_rule_table(output, check_numerically=False)  # also runs backward()
    order, names = topological_order(output), node_names(output)
    row_of = {row.name: index for index, row in enumerate(table.rows)}
    out_name = names[id(output)]
    steps = [Step("start", out_name, id(output), output.data)]
    steps += [Step("forward", names[id(n)], id(n), n.data, table_section="rows", table_index=row_of[names[id(n)]])
              for n in order if not n.is_leaf]
    backward = _backward_steps(order, names, output)
    if [s.node for s in backward] != [line.name for line in table.backward]:  # table_index relies on it
        raise AssertionError("the walkthrough and the chain-rule table disagree on the backward order")
    steps += backward
    steps.append(Step("end", out_name, id(output), output.data))
    return Walkthrough(out_name, tuple(steps), table)


def key_frames(steps: tuple[Step, ...]) -> list[int]:
    """Indices of the frames a printed strip shows: start, a forward step (the middle one), a backward step
    at a node reached by several paths if there is one (else the middle one), and the end."""
    forward = [i for i, s in enumerate(steps) if s.phase == "forward"]
    backward = [i for i, s in enumerate(steps) if s.phase == "backward"]
    if not forward or not backward:
        raise ValueError("the expression has no primitive: there is nothing to walk through")
    merging = [i for i in backward if len(steps[i].contributions) > 1]
    chosen_backward = merging[0] if merging else backward[len(backward) // 2]
    return [0, forward[len(forward) // 2], chosen_backward, len(steps) - 1]
