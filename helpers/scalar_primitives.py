"""The primitives of the scalar engine (:mod:`helpers.scalar_autodiff`): +, -, ×, ÷, powers, exp, ln,
sin, cos, σ, tanh, each one's forward value next to its local gradients.

A :class:`Primitive` computes, from its operands' numbers, its value and one local gradient
∂value/∂operand per operand; :class:`~helpers.scalar_autodiff.Value` records it in the graph and
the backward pass multiplies the local gradients along it. Domain errors are raised here, with
the numbers that caused them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from helpers.runtime.exercises import reference_until_done


def format_number(value: float) -> str:
    """4 significant digits, without the ``-0`` that ``format`` gives for negative zero."""
    return "0" if value == 0 else f"{value:.4g}"


@dataclass(frozen=True)
class Primitive:
    """One primitive operation: ``compute(*operands) -> (value, local_gradients)``, one local
    gradient ∂value/∂operand per operand. ``exponent`` is n for the power a ↦ a**n, else None.
    (How a primitive is written in the chain-rule table lives in :mod:`helpers.chain_rule`.)"""
    name: str  # in error messages, e.g. "mul(1e+200, 1e+200) overflows"
    symbol: str  # operator node label in a graph drawing
    compute: Callable[..., tuple[float, tuple[float, ...]]]
    exponent: float | None = None


def autograd_local_gradients(torch_operation: Callable) -> Callable[..., tuple[float, tuple[float, ...]]]:
    """The reference for a primitive's ``compute``: its value and local gradients by torch autograd in float64.

    Shapes: ``torch_operation`` maps 0-dim float64 tensors (one per operand) to a 0-dim tensor; the returned
    function maps Python numbers to (value, one local gradient per operand), like ``compute``.
    """
    def reference(*operands):
        import torch  # only the reference needs torch; the engine itself is plain Python
        leaves = [torch.tensor(float(o), dtype=torch.float64, requires_grad=True) for o in operands]
        value = torch_operation(*leaves)
        gradients = torch.autograd.grad(value, leaves, allow_unused=True)
        return value.item(), tuple(0.0 if g is None else g.item() for g in gradients)
    return reference


def _primitive(name: str, symbol: str, torch_operation: Callable) -> Callable[[Callable], Primitive]:
    """Decorator: the function below it becomes the ``compute`` of a :class:`Primitive`; while it is an
    unfinished exercise, torch autograd of ``torch_operation`` stands in (exercise 0.2)."""
    reference = reference_until_done(autograd_local_gradients(torch_operation), "torch autograd's local gradients")
    return lambda compute: Primitive(name, symbol, reference(compute))


@_primitive("add", "+", lambda a, b: a + b)
def ADD(a, b):
    ### BEGIN SOLUTION
    return a + b, (1.0, 1.0)
    ### END SOLUTION


@_primitive("sub", "−", lambda a, b: a - b)
def SUB(a, b):
    ### BEGIN SOLUTION
    return a - b, (1.0, -1.0)
    ### END SOLUTION


@_primitive("mul", "×", lambda a, b: a * b)
def MUL(a, b):
    ### BEGIN SOLUTION
    return a * b, (b, a)
    ### END SOLUTION


@_primitive("div", "÷", lambda a, b: a / b)
def DIV(a, b):
    if b == 0:
        raise ZeroDivisionError(f"division by zero: {format_number(a)} / 0 (the divisor must be non-zero)")
    ### BEGIN SOLUTION
    return a / b, (1.0 / b, -a / (b * b))
    ### END SOLUTION


@_primitive("neg", "−", lambda a: -a)
def NEG(a):
    ### BEGIN SOLUTION
    return -a, (-1.0,)
    ### END SOLUTION


@_primitive("exp", "exp", lambda a: a.exp())
def EXP(a):
    ### BEGIN SOLUTION
    value = math.exp(a)
    return value, (value,)
    ### END SOLUTION


@_primitive("log", "ln", lambda a: a.log())
def LOG(a):
    if a <= 0:
        raise ValueError(f"ln needs a positive argument, got {format_number(a)} (ln is undefined there)")
    ### BEGIN SOLUTION
    return math.log(a), (1.0 / a,)
    ### END SOLUTION


@_primitive("sin", "sin", lambda a: a.sin())
def SIN(a):
    ### BEGIN SOLUTION
    return math.sin(a), (math.cos(a),)
    ### END SOLUTION


@_primitive("cos", "cos", lambda a: a.cos())
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


@_primitive("sigmoid", "σ", lambda a: 1 / (1 + (-a).exp()) if a >= 0 else a.exp() / (1 + a.exp()))
def SIGMOID(a):
    ### BEGIN SOLUTION
    value = _stable_sigmoid(a)
    # σ'(a) = σ(a)(1 - σ(a)), written as σ(a)σ(-a): the same number, without the cancellation in 1 - σ(a).
    return value, (value * _stable_sigmoid(-a),)
    ### END SOLUTION


@_primitive("tanh", "tanh", lambda a: a.tanh())
def TANH(a):
    ### BEGIN SOLUTION
    value = math.tanh(a)
    return value, (1.0 - value * value,)
    ### END SOLUTION


@_primitive("pow", "^", lambda a, b: a ** b)
def POW(a, b):
    """a ** b with a Value exponent, defined as exp(b ln a): needs a > 0."""
    if a <= 0:
        raise ValueError(f"a ** b with a Value exponent needs a positive base (a^b = exp(b ln a)), "
                         f"got a = {format_number(a)}; use a number exponent for integer powers")
    ### BEGIN SOLUTION
    value = a ** b
    return value, (b * a ** (b - 1), value * math.log(a))
    ### END SOLUTION


def power_by(n: float) -> Primitive:
    """The primitive a ↦ a**n for a fixed number n."""
    def compute(a):
        if a == 0 and n < 1 and n != 0:
            raise ZeroDivisionError(f"d/da a^{n:g} is infinite at a = 0 (a must be non-zero)")
        if a < 0 and not float(n).is_integer():
            raise ValueError(f"a ** {n:g} needs a >= 0 for a non-integer exponent, got a = {format_number(a)}")
        ### BEGIN SOLUTION
        return a ** n, (n * a ** (n - 1) if n != 0 else 0.0,)
        ### END SOLUTION
    reference = reference_until_done(autograd_local_gradients(lambda a: a ** n), "torch autograd's local gradients")
    return Primitive(f"pow{n:g}", f"^{n:g}", reference(compute), exponent=n)
