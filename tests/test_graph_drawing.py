"""The layered layout (layers, bend points, spacing, crossings) and the figures drawn from it."""
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Annotation

from helpers.custom_functions import quadratic_form, sin_over_x, softplus
from helpers.plots.graph_drawing import autograd_graph, draw_autograd_graph, draw_graph, value_graph
from helpers.plots.graph_layout import Layout, _spaced_closest, count_crossings, layered_layout
from helpers.scalar_autodiff import Value, sigmoid, topological_order


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def linear_loss():
    w, x, b, y = Value(2.0, "w"), Value(3.0, "x"), Value(1.0, "b"), Value(4.0, "y")
    L = ((w * x + b) - y) ** 2
    L.label = "L"
    return L


def two_layer_loss():
    """f = [y - σ(w₂ σ(w₁x + b₁) + b₂)]² + λ(w₁² + w₂²): side branches and long edges."""
    y, w1, x, b1, w2, b2, lam = (Value(v, n) for v, n in ((1.0, "y"), (0.5, "w₁"), (1.2, "x"), (-0.3, "b₁"),
                                                          (0.8, "w₂"), (0.1, "b₂"), (0.01, "λ")))
    f = (y - sigmoid(w2 * sigmoid(w1 * x + b1) + b2)) ** 2 + lam * (w1 ** 2 + w2 ** 2)
    f.label = "f"
    return f


def layout_of(output):
    nodes, edges = value_graph(output)
    return nodes, edges, layered_layout([n.key for n in nodes], edges)


@pytest.mark.parametrize("make", [linear_loss, two_layer_loss])
def test_layers_run_left_to_right_and_alternate_values_and_operators(make):
    nodes, edges, layout = layout_of(make())
    kinds = {n.key: n.kind for n in nodes}
    for source, target in edges:
        assert layout.layer[target] > layout.layer[source]
        assert len(layout.routes[(source, target)]) == layout.layer[target] - layout.layer[source] - 1
    operator_layers = {layout.layer[k] % 2 for k, kind in kinds.items() if kind == "operator"}
    value_layers = {layout.layer[k] % 2 for k, kind in kinds.items() if kind != "operator"}
    assert len(operator_layers) == 1 and operator_layers.isdisjoint(value_layers)
    assert max(layout.layer.values()) == layout.layer[nodes[-1].key]  # the output is rightmost


@pytest.mark.parametrize("make", [linear_loss, two_layer_loss])
def test_no_two_boxes_share_a_spot_and_no_edges_cross(make):
    nodes, edges, layout = layout_of(make())
    by_layer = {}
    for key, layer in layout.layer.items():
        by_layer.setdefault(layer, []).append(layout.row[key])
    for rows in by_layer.values():
        rows.sort()
        assert all(b - a >= 1 - 1e-9 for a, b in zip(rows, rows[1:]))
    assert count_crossings(layout, edges) == 0


def test_inputs_sit_next_to_their_first_use():
    nodes, edges, layout = layout_of(two_layer_loss())
    names = {n.key: n.text.split(" =")[0] for n in nodes}
    lam = next(k for k, name in names.items() if name == "λ")
    consumer = next(t for s, t in edges if s == lam)
    assert layout.layer[consumer] == layout.layer[lam] + 1


def test_count_crossings_counts_a_crossing():
    layout = Layout({"a": 0, "b": 0, "c": 1, "d": 1}, {"a": 1.0, "b": 0.0, "c": 1.0, "d": 0.0},
                    {("a", "d"): [], ("b", "c"): [], ("a", "c"): []})
    assert count_crossings(layout, [("a", "d"), ("b", "c")]) == 1
    assert count_crossings(layout, [("a", "c"), ("b", "c")]) == 0


def test_spaced_closest_is_the_least_squares_spacing():
    assert _spaced_closest([0.0, 3.0, 7.5]) == [0.0, 3.0, 7.5]  # already spaced: unchanged
    assert _spaced_closest([0.0, 0.0]) == [-0.5, 0.5]  # pushed apart symmetrically
    # all three pooled into one block: u - i = mean(2 - 0, 0 - 1, 0 - 2) = -1/3
    assert _spaced_closest([2.0, 0.0, 0.0]) == pytest.approx([-1 / 3, 2 / 3, 5 / 3])
    spaced = _spaced_closest([5.0, -1.0, 0.3, 0.2])
    assert all(b - a >= 1 - 1e-12 for a, b in zip(spaced, spaced[1:]))
    assert sum(spaced) == pytest.approx(5.0 - 1.0 + 0.3 + 0.2)  # least squares keeps the mean


def test_the_layout_stays_importable_from_graph_drawing():
    from helpers.plots import graph_drawing, graph_layout
    for name in ("Layout", "layered_layout", "count_crossings"):
        assert getattr(graph_drawing, name) is getattr(graph_layout, name)


def test_layout_rejects_bad_graphs():
    with pytest.raises(ValueError, match="topological order"):
        layered_layout(["b", "a"], [("a", "b")])
    with pytest.raises(ValueError, match="mentions a node that is not in keys"):
        layered_layout(["a"], [("a", "z")])
    with pytest.raises(ValueError, match="node keys must be unique"):
        layered_layout(["a", "a"], [])


def test_draw_graph_draws_every_node_and_edge_segment():
    L = linear_loss()
    L.backward()
    fig = draw_graph(L, title="L")
    ax = fig.axes[0]
    boxes = [t for t in ax.texts if not isinstance(t, Annotation)]
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    n_values, n_operators = len(topological_order(L)), 4
    assert len(boxes) == n_values + n_operators
    nodes, edges, layout = layout_of(L)
    assert len(arrows) == sum(1 + len(layout.routes[e]) for e in edges)
    labels = "\n".join(t.get_text() for t in boxes)
    for expected in ("w = 2\n∂L/∂w = 18", "x = 3\n∂L/∂x = 12", "r = 3\n∂L/∂r = 6", "L = 9\n∂L/∂L = 1", "×", "^2"):
        assert expected in labels
    fig.canvas.draw()  # arrows are positioned relative to the boxes at draw time


def test_gradients_are_shown_only_after_backward():
    L = linear_loss()
    labels = [n.text for n in value_graph(L)[0]]
    assert "w = 2" in labels and not any("∂" in t for t in labels)
    assert any("∂L/∂w" in n.text for n in value_graph(L, show_gradients=True)[0])


def test_orientation_is_chosen_by_width():
    wide = draw_graph(linear_loss(), orientation="auto").get_size_inches()
    deep = two_layer_loss()
    deep.backward()
    tall = draw_graph(deep).get_size_inches()
    assert wide[0] > wide[1] and tall[1] > tall[0]
    forced = draw_graph(deep, orientation="horizontal").get_size_inches()
    assert forced[0] > forced[1]
    with pytest.raises(ValueError, match="orientation must be 'auto', 'horizontal' or 'vertical'"):
        draw_graph(deep, orientation="diagonal")


def test_draw_graph_refuses_what_is_not_a_value():
    with pytest.raises(TypeError, match="draw_graph expects the Value an expression produced, got float"):
        draw_graph(3.0)


def test_autograd_graph_names_custom_functions_and_leaves():
    x = torch.tensor([0.3, 1.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0.2, -1.0], dtype=torch.float64, requires_grad=True)
    z = softplus(quadratic_form(sin_over_x(x), y, 1.0, 2.0, 3.0)).sum()
    nodes, edges = autograd_graph(z, {"x": x, "y": y})
    texts = [n.text for n in nodes]
    assert texts == ["x", "SinOverXBackward", "y", "QuadraticFormBackward", "SoftplusBackward", "SumBackward0",
                     "output ()"]
    assert len(edges) == 6
    fig = draw_autograd_graph(z, {"x": x, "y": y})
    fig.canvas.draw()
    assert {t.get_text() for t in fig.axes[0].texts} >= set(texts)


def test_autograd_graph_needs_a_recorded_tensor():
    with pytest.raises(ValueError, match="has no grad_fn: compute it from tensors with requires_grad=True"):
        draw_autograd_graph(torch.ones(2))
    with pytest.raises(TypeError, match="draw_autograd_graph expects a torch.Tensor, got list"):
        draw_autograd_graph([1.0])
