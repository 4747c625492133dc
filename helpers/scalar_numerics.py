"""The scalar engine's recorded graph re-run with new inputs: a *static* graph (:func:`replay`) and central
differences of it (:func:`numerical_gradients`), the numeric column of the chain-rule table.

Shapes: scalars throughout (Python floats; nodes keyed by ``id``).
"""
from __future__ import annotations

import math
import numbers
from typing import Mapping

from helpers.scalar_autodiff import Value, as_float, inputs_of, topological_order
from helpers.scalar_primitives import DIV

# Finite differences near a domain's edge try steps down to h·10⁻²⁰ before leaving an input out.
MAX_STEP_SHRINKS = 20


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
