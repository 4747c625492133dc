"""The hand-built graphs of NYU 1.4 (b), CS-587 part B and CS475 task 0: their structure (nodes and edges,
not pixels) and their derivations, each checked against a reference computed here independently
(mpmath to 30 digits, or torch autograd of the plain expression)."""
import math

import matplotlib.pyplot as plt
import mpmath
import pytest
import torch

from helpers.graph_derivations import (compare_adjoints, engine_adjoints, logistic_adjoints, logistic_graph,
                                       logistic_second_derivative, nyu_adjoints, nyu_graph, quadratic_form_adjoints,
                                       quadratic_form_graph, sigmoid_neuron_gradients, sin_over_x_adjoints,
                                       sin_over_x_graph, softplus_adjoints, softplus_graph)
from helpers.plots.graph_drawing import draw_graph, value_graph

mpmath.mp.dps = 30


def close(a, b, tolerance=1e-12):
    return abs(float(a) - float(b)) <= tolerance * max(1.0, abs(float(b)))


def primitives_of(output):
    """The drawn graph as {(operand names, operator symbol, result name)} plus each value node's kind."""
    nodes, edges = value_graph(output)
    name = {n.key: n.text.split(" =")[0] for n in nodes if n.kind != "operator"}
    kind = {name[n.key]: n.kind for n in nodes if n.kind != "operator"}
    symbol = {n.key: n.text for n in nodes if n.kind == "operator"}
    operands = {key: tuple(name[s] for s, t in edges if t == key) for key in symbol}
    results = {s: name[t] for s, t in edges if s in symbol}
    return {(operands[key], symbol[key], results[key]) for key in symbol}, kind


def test_nyu_graph_has_the_four_primitives_and_z_feeds_two():
    triples, kind = primitives_of(nyu_graph(1.0, 2.0, -1.5, 0.5))
    assert triples == {(("x", "y"), "+", "a"), (("z", "o"), "×", "b"), (("a", "b"), "×", "c"),
                       (("c", "z"), "+", "w")}
    assert kind == {"x": "input", "y": "input", "z": "input", "o": "input", "a": "intermediate",
                    "b": "intermediate", "c": "intermediate", "w": "output"}


@pytest.mark.parametrize("point", [(1.0, 2.0, -1.5, 0.5), (-0.3, 0.8, 2.0, -1.25)])
def test_nyu_gradients_equal_autograd_of_the_plain_expression(point):
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in point]
    x, y, z, o = leaves
    ((x + y) * (z * o) + z).backward()
    derived = nyu_adjoints(*point)
    for label, leaf in zip("xyzo", leaves):
        assert close(derived[label], leaf.grad)
    assert engine_adjoints(nyu_graph(*point)) == pytest.approx({k: float(v) for k, v in derived.items()}, abs=1e-14)


def test_cs587_graphs_have_the_named_intermediate_variables():
    sinc, _ = primitives_of(sin_over_x_graph(0.7))
    assert sinc == {(("1", "x"), "÷", "v₁"), (("x",), "sin", "v₂"), (("v₁", "v₂"), "×", "f")}
    quadratic, kind = primitives_of(quadratic_form_graph(1.0, -2.0, 1.0, 1.5, 2.0))
    assert quadratic == {(("x",), "^2", "v₁"), (("x", "y"), "×", "v₂"), (("y",), "^2", "v₃"),
                         (("a", "v₁"), "×", "v₄"), (("b", "v₂"), "×", "v₅"), (("c", "v₃"), "×", "v₆"),
                         (("v₄", "v₅"), "+", "v₇"), (("v₇", "v₆"), "+", "f")}
    assert kind["a"] == kind["b"] == kind["c"] == "constant"  # coefficients: drawn, never differentiated
    softplus, _ = primitives_of(softplus_graph(0.4))
    assert softplus == {(("x",), "exp", "v₁"), (("1", "v₁"), "+", "v₂"), (("v₂",), "ln", "f")}
    logistic, _ = primitives_of(logistic_graph(0.4))
    assert logistic == {(("x",), "exp", "v₁"), (("v₁", "1"), "+", "v₂"), (("1", "v₂"), "÷", "v₃"),
                        (("v₁", "v₃"), "×", "g")}


def test_graphs_draw_one_box_per_value_and_one_circle_per_primitive():
    figure = draw_graph(quadratic_form_graph(1.0, -2.0, 1.0, 1.5, 2.0))
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert sum(t.startswith("v") for t in texts) == 7 and {"a", "b", "c"} <= set(texts)
    plt.close(figure)


@pytest.mark.parametrize("x", [-7.0, -0.3, 0.7, 3.0])
def test_sin_over_x_derivation_equals_mpmath(x):
    derived = sin_over_x_adjoints(x)
    assert close(derived["x"], mpmath.diff(lambda t: mpmath.sin(t) / t, x), 1e-13)
    assert close(derived["v₁"], math.sin(x)) and close(derived["v₂"], 1 / x)
    assert engine_adjoints(sin_over_x_graph(x)) == pytest.approx({k: float(v) for k, v in derived.items()})


@pytest.mark.parametrize("x, y", [(1.0, -2.0), (-0.5, 1.5), (0.0, 3.0)])
def test_quadratic_form_derivation_equals_mpmath(x, y):
    a, b, c = 1.0, 1.5, 2.0
    def f(s, t):
        return a * s ** 2 + b * s * t + c * t ** 2
    derived = quadratic_form_adjoints(x, y, a, b, c)
    assert close(derived["x"], mpmath.diff(f, (x, y), (1, 0)))
    assert close(derived["y"], mpmath.diff(f, (x, y), (0, 1)))
    assert engine_adjoints(quadratic_form_graph(x, y, a, b, c)) == pytest.approx(
        {k: float(v) for k, v in derived.items()})


def softplus_derivative(x, order):
    return float(mpmath.diff(lambda t: mpmath.log(1 + mpmath.exp(t)), x, order))


@pytest.mark.parametrize("x", [-20.0, -1.0, 0.0, 0.4, 5.0])
def test_softplus_and_logistic_derivations_equal_mpmath(x):
    assert close(softplus_adjoints(x)["x"], softplus_derivative(x, 1), 1e-13)
    assert close(float(logistic_adjoints(x)["x"]) / softplus_derivative(x, 2), 1.0, 1e-12)  # relative: tiny at -20
    assert engine_adjoints(softplus_graph(x)) == pytest.approx({k: float(v) for k, v in softplus_adjoints(x).items()})
    assert engine_adjoints(logistic_graph(x)) == pytest.approx({k: float(v) for k, v in logistic_adjoints(x).items()})


def test_the_derivations_two_paths_cancel_for_large_x_while_sigma_times_sigma_of_minus_x_does_not():
    exact = softplus_derivative(30.0, 2)
    assert abs(float(logistic_adjoints(30.0)["x"]) / exact - 1) > 1e-4  # v₃ - v₁/v₂²: two nearly equal numbers
    x = torch.tensor(30.0, dtype=torch.float64)
    stable = torch.sigmoid(x) * torch.sigmoid(-x)
    assert close(stable / exact, 1.0, 1e-14)


@pytest.mark.parametrize("x", [-2.0, 0.3, 1.7])
def test_second_derivative_of_the_logistic_itself_is_not_the_handouts_formula(x):
    exact = mpmath.diff(lambda t: mpmath.exp(t) / (1 + mpmath.exp(t)), x, 2)
    assert close(logistic_second_derivative(x), exact, 1e-13)
    assert not close(logistic_adjoints(x)["x"], exact, 1e-3)


@pytest.mark.parametrize("w, x, b, y", [(0.8, 1.5, -0.4, 1.0), (-2.0, 0.3, 0.7, 0.0)])
def test_cs475_task0_direct_differentiation_equals_autograd(w, x, b, y):
    wt, bt = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (w, b))
    ((torch.sigmoid(wt * x + bt) - y) ** 2).backward()
    derived = sigmoid_neuron_gradients(w, x, b, y)
    assert close(derived["w"], wt.grad) and close(derived["b"], bt.grad)


def test_compare_adjoints_refuses_a_derivation_without_the_named_nodes():
    with pytest.raises(KeyError, match="named nodes"):
        compare_adjoints(softplus_graph(0.4), {"x": torch.tensor(0.5)})


def test_compare_adjoints_flags_a_wrong_intermediate_gradient():
    derived = dict(logistic_adjoints(0.4))
    derived["v₂"] = -derived["v₂"]
    table = compare_adjoints(logistic_graph(0.4), derived)
    assert [line.endswith("FAIL") for line in table.splitlines()[1:]].count(True) == 1
