"""The scalar engine (helpers.scalar_autodiff): gradients against torch.autograd and central differences,
reverse mode on deep graphs, the static-graph replay, and clear errors on bad input (the chain-rule table:
tests/test_chain_rule.py)."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers.gradcheck import relative_error
from helpers.scalar_autodiff import (Value, cos, exp, input_gradients, inputs_of, log, node_names,
                                     numerical_gradients, replay, sigmoid, sin, tanh, topological_order)

N_INPUTS = 3
UNARY = ("neg", "exp", "log", "sin", "cos", "sigmoid", "tanh", "square", "cube", "reciprocal", "sqrt")
BINARY = ("add", "sub", "mul", "div", "pow")


# ---- random expressions, evaluated by the engine and by torch ---------------------------------

def expression_trees():
    leaves = st.one_of(st.tuples(st.just("input"), st.integers(0, N_INPUTS - 1)),
                       st.tuples(st.just("const"), st.floats(-2, 2, allow_nan=False).map(lambda c: round(c, 3))))
    return st.recursive(leaves, lambda sub: st.one_of(
        st.tuples(st.sampled_from(UNARY), sub),
        st.tuples(st.sampled_from(BINARY), sub, sub)), max_leaves=12)


# The primitives on engine Values (numbers mixed in become constants) and on float64 tensors.
ENGINE_OPS = SimpleNamespace(exp=exp, log=log, sin=sin, cos=cos, sigmoid=sigmoid, tanh=tanh, constant=Value.constant)
TORCH_OPS = SimpleNamespace(exp=torch.exp, log=torch.log, sin=torch.sin, cos=torch.cos, sigmoid=torch.sigmoid,
                            tanh=torch.tanh, constant=lambda c: torch.tensor(c, dtype=torch.float64))


def evaluate(tree, inputs, ops):
    """Evaluate a tree; arguments of log, ÷, fractional and Value powers are made positive
    (a² + 0.5) so that every random expression is defined, but each primitive is still recorded."""
    kind = tree[0]
    if kind == "input":
        return inputs[tree[1]]
    if kind == "const":
        return ops.constant(tree[1])
    a = evaluate(tree[1], inputs, ops)
    positive = a * a + 0.5
    if len(tree) == 2:
        return {"neg": lambda: -a, "exp": lambda: ops.exp(a), "log": lambda: ops.log(positive),
                "sin": lambda: ops.sin(a), "cos": lambda: ops.cos(a), "sigmoid": lambda: ops.sigmoid(a),
                "tanh": lambda: ops.tanh(a), "square": lambda: a ** 2, "cube": lambda: a ** 3,
                "reciprocal": lambda: positive ** -1, "sqrt": lambda: positive ** 0.5}[kind]()
    b = evaluate(tree[2], inputs, ops)
    return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "div": lambda: a / (b * b + 0.5), "pow": lambda: positive ** ops.tanh(b)}[kind]()


def involves_input(tree) -> bool:
    return tree[0] == "input" or (tree[0] != "const" and any(involves_input(t) for t in tree[1:]))


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(tree=expression_trees(), data=st.lists(st.floats(-2, 2, allow_nan=False), min_size=N_INPUTS,
                                               max_size=N_INPUTS))
def test_random_expressions_match_torch_autograd(tree, data):
    assume(involves_input(tree))
    values = [Value(v, f"x{i}") for i, v in enumerate(data)]
    try:
        out = evaluate(tree, values, ENGINE_OPS)
    except OverflowError:
        assume(False)  # e.g. exp(exp(exp(2))): outside float64, reported by the engine itself
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in data]
    reference = evaluate(tree, tensors, TORCH_OPS)
    assume(math.isfinite(reference.item()))
    grads = torch.autograd.grad(reference, tensors, allow_unused=True)
    out.backward()
    assert relative_error(out.data, reference.item()) <= 1e-12
    for value, grad in zip(values, grads):
        expected = 0.0 if grad is None else grad.item()
        # an absolute floor for gradients that cancel to round-off (e.g. sin(x)·0 terms)
        assert abs(value.grad - expected) <= 1e-10 * max(abs(expected), 1e-3), (tree, value.label)


# ---- each primitive against torch, at several points -------------------------------------------

PRIMITIVES = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow_value": (lambda a, b: abs_value(a) ** b, lambda a, b: a.abs() ** b),
    "pow_number": (lambda a, b: a ** 3 * b ** -2, lambda a, b: a ** 3 * b ** -2),
    "rpow": (lambda a, b: 2.5 ** a - b, lambda a, b: 2.5 ** a - b),
    "exp": (lambda a, b: exp(a * b), lambda a, b: torch.exp(a * b)),
    "log": (lambda a, b: log(abs_value(a)) * b, lambda a, b: torch.log(a.abs()) * b),
    "sin": (lambda a, b: sin(a) * cos(b), lambda a, b: torch.sin(a) * torch.cos(b)),
    "sigmoid": (lambda a, b: sigmoid(a) - tanh(b), lambda a, b: torch.sigmoid(a) - torch.tanh(b)),
    "rsub_rdiv": (lambda a, b: (1 - a) / (3 + b) + 2 * a / b, lambda a, b: (1 - a) / (3 + b) + 2 * a / b),
}


def abs_value(v: Value) -> Value:
    return v if v.data > 0 else -v


@pytest.mark.parametrize("name", PRIMITIVES)
@pytest.mark.parametrize("point", [(0.7, -1.3), (-2.1, 0.4), (1.9, 2.6)])
def test_each_primitive_matches_torch(name, point):
    engine_fn, torch_fn = PRIMITIVES[name]
    a, b = Value(point[0], "a"), Value(point[1], "b")
    out = engine_fn(a, b)
    out.backward()
    ta, tb = (torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point)
    ref = torch_fn(ta, tb)
    ga, gb = torch.autograd.grad(ref, (ta, tb))
    assert relative_error(out.data, ref.item()) <= 1e-14
    assert relative_error(a.grad, ga.item()) <= 1e-12
    assert relative_error(b.grad, gb.item()) <= 1e-12


def test_sigmoid_is_stable_and_keeps_its_tiny_slope():
    for x in (-745.0, -50.0, 50.0, 745.0):
        v = Value(x)
        s = sigmoid(v)
        s.backward()
        true_slope = math.exp(-abs(x)) / (1 + math.exp(-abs(x))) ** 2  # exact formula, no cancellation
        assert 0.0 <= s.data <= 1.0
        assert v.grad == pytest.approx(true_slope, rel=1e-14, abs=1e-320)


# ---- reverse mode, names and the recorded graph ------------------------------------------------------

def linear_loss(w=2.0, x=3.0, b=1.0, y=4.0):
    w, x, b, y = Value(w, "w"), Value(x, "x"), Value(b, "b"), Value(y, "y")
    L = ((w * x + b) - y) ** 2
    L.label = "L"
    return L, (w, x, b, y)


def test_backward_resets_gradients_instead_of_accumulating():
    L, (w, *_) = linear_loss()
    L.backward()
    first = w.grad
    L.backward()
    assert w.grad == first


def test_constants_get_no_gradient_and_are_not_inputs():
    x = Value(1.5, "x")
    f = 2 * x + 1
    f.backward()
    assert [n.label for n in inputs_of(f)] == ["x"] and x.grad == 2.0


def test_numerical_gradients_agree_with_backward_on_a_smooth_expression():
    a, b, c = Value(0.3, "a"), Value(-1.1, "b"), Value(2.2, "c")
    f = tanh(a * b) * exp(c / 4) + log(c) ** 2 - cos(a - c)
    f.backward()
    numerical = numerical_gradients(f)
    for leaf in (a, b, c):
        assert relative_error(leaf.grad, numerical[id(leaf)]) <= 1e-6


def test_topological_order_and_deep_graphs():
    x = Value(1.0, "x")
    out = x
    for _ in range(5000):  # deeper than Python's recursion limit
        out = out + x
    out.backward()
    assert x.grad == 5001.0
    order = topological_order(out)
    assert order[-1] is out and order[0] is x and len(order) == 5001


def test_generated_names_skip_the_labels_in_use():
    a, b, p = Value(1.0, "a"), Value(2.0, "b"), Value(4.0, "p")
    names = node_names(a * p + b)
    assert names[id(a)] == "a" and "p" not in [names[k] for k in names if k not in (id(a), id(p))]


def test_replay_is_a_static_graph():
    x = Value(2.0, "x")
    branch = x * x if x.data > 0 else -x  # the branch is chosen while recording
    assert replay(branch, {x: 3.0}) == 9.0  # same branch, new value
    assert replay(branch, {x: -3.0}) == 9.0  # a fresh (dynamic) build would give 3.0
    assert replay(branch) == branch.data


# ---- bad input ---------------------------------------------------------------------------

def test_value_data_must_be_one_finite_real_number():
    with pytest.raises(TypeError, match=r"Value data must be a scalar .* of shape \(2,\)"):
        Value(torch.ones(2))
    with pytest.raises(TypeError, match=r"must be a scalar .* of shape \(3,\)"):
        Value(np.ones(3))
    with pytest.raises(TypeError, match="of type list"):
        Value([1.0])
    with pytest.raises(TypeError, match="of type str"):
        Value("1.0")
    with pytest.raises(TypeError, match="of type bool"):
        Value(True)
    with pytest.raises(ValueError, match="must be finite, got nan"):
        Value(float("nan"))
    with pytest.raises(TypeError, match="label must be a str"):
        Value(1.0, 3)
    assert Value(torch.tensor(2.5)).data == 2.5 and Value(np.float32(0.5)).data == 0.5


@pytest.mark.parametrize("operation, symbol, other", [
    (lambda v: v + "1", r"\+", "str"), (lambda v: "1" * v, r"\*", "str"), (lambda v: v - [1], "-", "list"),
    (lambda v: v / torch.ones(1), "/", "Tensor"), (lambda v: v ** "2", r"\*\*", "str"),
    (lambda v: None + v, r"\+", "NoneType"), (lambda v: v * True, r"\*", "bool"),
])
def test_unsupported_operands_are_named(operation, symbol, other):
    with pytest.raises(TypeError, match=rf"unsupported operand for {symbol}: Value and {other} "
                                        r"\(a Value combines with an int, a float or another Value\)"):
        operation(Value(1.0))


def test_domain_errors_are_clear():
    with pytest.raises(ValueError, match="ln needs a positive argument, got -1"):
        log(Value(-1.0))
    with pytest.raises(ZeroDivisionError, match="the divisor must be non-zero"):
        Value(1.0) / Value(0.0)
    with pytest.raises(OverflowError, match=r"exp\(800\) overflows float64 \(its value or local gradient is beyond ±1.8e308\)"):
        exp(Value(800.0))
    with pytest.raises(OverflowError, match=r"mul\(1e\+200, 1e\+200\) overflows float64"):
        Value(1e200) * Value(1e200)
    with pytest.raises(OverflowError, match=r"pow2\(1e\+200\) overflows float64"):
        Value(1e200) ** 2
    with pytest.raises(OverflowError, match=r"pow-1\(1e-200\) overflows float64"):
        Value(1e-200) ** -1  # the value 1e200 is fine, its local gradient -1e400 is not
    assert exp(Value(709.78)).data == math.exp(709.78)  # just below the limit: fine
    with pytest.raises(ValueError, match="needs a positive base"):
        Value(-2.0) ** Value(0.5)
    with pytest.raises(ValueError, match="needs a >= 0 for a non-integer exponent"):
        Value(-2.0) ** 0.5
    with pytest.raises(ZeroDivisionError, match="infinite at a = 0"):
        Value(0.0) ** 0.5
    with pytest.raises(TypeError, match=r"exp expects a Value, got float \(use math.exp"):
        exp(2.0)


def test_labels_must_be_unique_because_gradients_are_reported_by_name():
    twin = Value(1.0, "x") * Value(2.0, "x")
    with pytest.raises(ValueError, match=r"labels must be unique within an expression; used more than once: \['x'\]"):
        input_gradients(twin)


# ---- central differences near the edge of a domain (issue 12) ---------------------------------

@pytest.mark.parametrize("build, at, exact", [
    (lambda x: log(x), 1e-7, 1e7),                      # ln at 1e-7: x - 1e-6 < 0 would leave the domain
    (lambda x: log(x - 1.0), 1.0 + 1e-7, 1e7),          # the edge is not at 0: ln(x - 1) at x = 1 + 1e-7
    (lambda x: x ** 0.5, 1e-7, 0.5 / math.sqrt(1e-7)),  # sqrt near 0
    (lambda x: 1 / x, 1e-7, -1e14),                     # 1/x: x - h would step across the pole
    (lambda x: (x - 1e-7) ** -2, 2e-7, -2e21),          # a negative power: the pole at 1e-7
])
def test_central_differences_shrink_their_step_near_the_edge_of_a_domain(build, at, exact):
    x = Value(at, "x")
    f = build(x)
    gradient = input_gradients(f)["x"]
    assert gradient == pytest.approx(exact, rel=1e-6)
    assert numerical_gradients(f)[id(x)] == pytest.approx(gradient, rel=1e-6)


def test_central_differences_keep_h_away_from_any_edge():
    x = Value(0.3, "x")
    f = exp(x) * sin(x)
    values = numerical_gradients(f)
    h = 1e-6
    assert values[id(x)] == (replay(f, {x: 0.3 + h}) - replay(f, {x: 0.3 - h})) / (2 * h)  # bit for bit as before


@pytest.mark.parametrize("h", [0.0, -1e-6, float("nan"), float("inf")])
def test_numerical_gradients_refuse_a_bad_step(h):
    with pytest.raises(ValueError, match="step h must be positive and finite"):
        numerical_gradients(log(Value(2.0, "x")), h)
