"""The walkthrough (helpers.plots.walkthrough_steps, walkthrough_text, walkthrough, walkthrough_widget) and the graph
drawing under it (helpers.plots.graph_layout, graph_drawing).

The steps: every number a step shows against torch autograd on an independent float64 replay of the graph,
against the engine and against central differences. The walkthrough drawn and its control. The layered layout
(layers, bend points, spacing, crossings) and the figures drawn from it."""
from __future__ import annotations

import math
import types

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.text import Annotation

from helpers.chain_rule import chain_rule_table
from helpers.custom_functions import quadratic_form, sin_over_x, softplus
from helpers.gradcheck import AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, compare, numerical_input_gradients
from helpers.graph_derivations import logistic_graph, nyu_graph, quadratic_form_graph
from helpers.plots.graph_drawing import autograd_graph, draw_autograd_graph, draw_graph, value_graph
from helpers.plots.graph_layout import Layout, _spaced_closest, count_crossings, layered_layout
from helpers.plots.style import IMAGE_TEXT_PT_ATTRIBUTE
from helpers.plots.walkthrough import HIGHLIGHT, STRIP_SCALE, WalkthroughFigure, key_frame_strip
from helpers.plots.walkthrough_steps import build_walkthrough, key_frames
from helpers.plots.walkthrough_widget import Walkthroughs, build_controls, walkthrough_widget
from helpers.runtime.classroom import (NOTEBOOK_WIDTH_PX, PROJECTOR_HEIGHT_PX, PROJECTOR_TEXT_PX, control_rows,
                                       projector_box_px)
from helpers.runtime.headless import is_headless
from helpers.scalar_autodiff import Value, exp, log, node_names, sigmoid, topological_order


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---- the steps (helpers.plots.walkthrough_steps) ---------------------------------------------------------------

TORCH_OPS = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "neg": torch.neg,
             "exp": torch.exp, "log": torch.log, "sin": torch.sin, "cos": torch.cos, "sigmoid": torch.sigmoid,
             "tanh": torch.tanh, "pow": torch.pow}


def cs475_task2():
    x, b, w = Value(0.5, "x"), Value(0.3, "b"), Value(1.5, "w")
    f = (w * exp(b * x) + log(w * x)) * b
    f.label = "f"
    return f


def neuron_with_loss():
    w, x, b, y = Value(0.8, "w"), Value(1.5, "x"), Value(-0.4, "b"), Value(1.0, "y")
    loss = (sigmoid(w * x + b) - y) ** 2
    loss.label = "L"
    return loss


def square_plus_itself():
    x = Value(3.0, "x")
    return x * x + x  # x feeds one primitive twice and another once


EXPRESSIONS = {
    "NYU 1.4 (b)": lambda: nyu_graph(1.0, 2.0, -1.5, 0.5),
    "CS475 task 2": cs475_task2,
    "CS-587 logistic": lambda: logistic_graph(1.0),
    "CS-587 quadratic form": lambda: quadratic_form_graph(1.0, -2.0, 1.5, -0.5, 2.0),
    "neuron with its loss": neuron_with_loss,
    "x·x + x": square_plus_itself,
}


def torch_replay(output: Value, inputs: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The recorded graph rebuilt op by op in float64 torch, every node's tensor by name. Leaves take their
    tensor from ``inputs`` if given there, else their recorded value, requiring grad unless constants."""
    names, tensors = node_names(output), {}
    for node in topological_order(output):
        name = names[id(node)]
        if node.is_leaf:
            tensor = (inputs or {}).get(name)
            if tensor is None:
                tensor = torch.tensor(node.data, dtype=torch.float64, requires_grad=not node.is_constant)
        elif node.primitive.exponent is not None:
            tensor = tensors[names[id(node.operands[0])]] ** node.primitive.exponent
        else:
            tensor = TORCH_OPS[node.primitive.name](*(tensors[names[id(o)]] for o in node.operands))
        if tensor.requires_grad and not tensor.is_leaf:
            tensor.retain_grad()
        tensors[name] = tensor
    return tensors


def local_gradient(output: Value, consumer: str, operand: str) -> float:
    """∂consumer/∂operand of the consumer's primitive alone, by autograd on fresh copies of its operands (the
    same copy wherever the operand appears twice: x·x gives 2x)."""
    names = node_names(output)
    node = next(n for n in topological_order(output) if names[id(n)] == consumer)
    copies = {names[id(o)]: torch.tensor(o.data, dtype=torch.float64, requires_grad=True) for o in node.operands}
    arguments = [copies[names[id(o)]] for o in node.operands]
    if node.primitive.exponent is not None:
        result = arguments[0] ** node.primitive.exponent
    else:
        result = TORCH_OPS[node.primitive.name](*arguments)
    (gradient,) = torch.autograd.grad(result, copies[operand])
    return gradient.item()


def close(a: float, b: float) -> bool:
    return compare("", torch.tensor(a), torch.tensor(b), AUTOGRAD_TOLERANCE).passed


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_forward_steps_show_the_values_autograd_computes(name):
    output = EXPRESSIONS[name]()
    tensors = torch_replay(output)
    forward = [s for s in build_walkthrough(output).steps if s.phase == "forward"]
    assert len(forward) == sum(not n.is_leaf for n in topological_order(output))
    for step in forward:
        assert close(step.value, tensors[step.node].item()), (name, step.node)


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_backward_steps_show_autograds_upstream_local_and_summed_gradients(name):
    output = EXPRESSIONS[name]()
    tensors = torch_replay(output)
    out_name = node_names(output)[id(output)]
    tensors[out_name].backward(retain_graph=True)
    autograd = {name: 1.0 if name == out_name else t.grad.item() for name, t in tensors.items() if t.grad is not None}
    for step in (s for s in build_walkthrough(output).steps if s.phase == "backward"):
        assert close(step.gradient, autograd[step.node]), (name, step.node)
        assert close(step.engine_gradient, autograd[step.node]) and step.agrees_with_engine
        total = 0.0
        for edge in step.contributions:
            assert close(edge.local, local_gradient(output, edge.consumer, step.node)), (name, step.node, edge.consumer)
            assert close(edge.upstream, autograd[edge.consumer])
            assert edge.contribution == edge.upstream * edge.local
            total += edge.contribution
            assert edge.running_sum == total
        if step.node != out_name:
            assert step.contributions and step.contributions[-1].running_sum == step.gradient


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_input_gradients_agree_with_central_differences(name):
    output = EXPRESSIONS[name]()
    names = node_names(output)
    inputs = [names[id(n)] for n in topological_order(output) if n.is_leaf and not n.is_constant]
    steps = {s.node: s for s in build_walkthrough(output).steps if s.phase == "backward"}

    def replayed(*values):
        return torch_replay(output, dict(zip(inputs, values)))[names[id(output)]]

    points = [torch.tensor(steps[name].value, dtype=torch.float64) for name in inputs]
    for name_of_input, estimate in zip(inputs, numerical_input_gradients(replayed, *points)):
        result = compare(name_of_input, torch.tensor(steps[name_of_input].gradient), estimate,
                         FINITE_DIFFERENCE_TOLERANCE, f_value=output.data)
        assert result.passed, (name, result)


def test_z_of_the_nyu_graph_adds_two_paths_in_the_order_backward_reaches_them():
    steps = {s.node: s for s in build_walkthrough(nyu_graph(1.0, 2.0, -1.5, 0.5)).steps if s.phase == "backward"}
    z = steps["z"]
    assert [c.consumer for c in z.contributions] == ["w", "b"]  # w is processed before b
    # ∂w/∂z = ∂w/∂w·1 + ∂w/∂b·o with ∂w/∂b = a = x + y = 3 and o = 0.5, written out by hand
    assert [(c.upstream, c.local) for c in z.contributions] == [(1.0, 1.0), (3.0, 0.5)]
    assert [c.running_sum for c in z.contributions] == [1.0, 2.5]
    assert all(len(s.contributions) == 1 for name, s in steps.items() if name not in ("z", "w"))


def test_steps_point_at_their_rows_of_the_chain_rule_table():
    output = cs475_task2()
    walk = build_walkthrough(output)
    table = chain_rule_table(cs475_task2(), check_numerically=False)
    for step in walk.steps:
        if step.phase == "forward":
            row = table.rows[step.table_index]
            assert step.table_section == "rows" and row.name == step.node and row.value == step.value
        elif step.phase == "backward":
            line = table.backward[step.table_index]
            assert step.table_section == "backward" and line.name == step.node
            assert close(line.gradient, step.gradient)
        else:
            assert step.table_section is None


def test_the_sequence_is_start_forward_backward_end_and_constants_get_no_backward_step():
    output = quadratic_form_graph(1.0, -2.0, 1.5, -0.5, 2.0)
    phases = [s.phase for s in build_walkthrough(output).steps]
    primitives = 8  # v₁ ... v₇ and f
    assert phases == ["start"] + ["forward"] * primitives + ["backward"] * (primitives + 2) + ["end"]
    assert not {"a", "b", "c"} & {s.node for s in build_walkthrough(output).steps if s.phase == "backward"}


def test_a_wrong_engine_backward_shows_at_the_step_where_it_happens(monkeypatch):
    def backward_that_forgets_to_accumulate(self):  # '=' instead of '+=': a student's classic slip
        order = topological_order(self)
        for node in order:
            node.grad = 1.0 if node is self else 0.0
        for node in reversed(order):
            for operand, local in zip(node.operands, node.local_grads):
                operand.grad = local * node.grad

    monkeypatch.setattr(Value, "backward", backward_that_forgets_to_accumulate)
    steps = build_walkthrough(nyu_graph(1.0, 2.0, -1.5, 0.5)).steps
    disagreeing = [s.node for s in steps if not s.agrees_with_engine]
    assert disagreeing == ["z"]  # the one node reached by two paths


def test_key_frames_pick_start_a_forward_step_the_two_path_node_and_the_end():
    steps = build_walkthrough(nyu_graph(1.0, 2.0, -1.5, 0.5)).steps
    start, forward, backward, end = (steps[i] for i in key_frames(steps))
    assert (start.phase, forward.phase, backward.phase, end.phase) == ("start", "forward", "backward", "end")
    assert backward.node == "z"


def test_bad_input_says_what_was_expected():
    with pytest.raises(TypeError, match="expects the Value an expression produced"):
        build_walkthrough(2.5)
    with pytest.raises(ValueError, match="nothing to walk through"):
        key_frames(build_walkthrough(Value(1.0, "x")).steps)
    assert math.isfinite(build_walkthrough(Value(1.0, "x")).steps[0].value)


def test_the_walkthrough_steps_through_the_engines_own_backward_pass(monkeypatch):
    """The upstream gradients a step shows are the ones the engine's backward() left (exercise 0.3, or its
    stand-in), not those of a second reverse sweep of the walkthrough's own: with an engine that writes `=`
    instead of `+=`, p (used three times) keeps one path, every upstream shown is the engine's (x and y get
    p's wrong gradient), and the first step that disagrees with the engine is p's."""
    import helpers.scalar_autodiff as engine
    from helpers.data.paths import PROJECT_ROOT
    from tests.exercise_bugs import mutate
    from tests.exercise_bugs_scalar import PLANTED_BUGS
    path, line, planted, _ = PLANTED_BUGS["0.3"]  # the planted bug of exercise 0.3: one path only
    mutated = {}
    exec(compile(mutate((PROJECT_ROOT / path).read_text(), line, planted, path), path, "exec"), mutated)
    planted_backward = mutated["Value"].backward
    one_path_only = types.FunctionType(planted_backward.__code__, vars(engine))  # the engine's own Value

    x, y = Value(1.5, "x"), Value(-2.0, "y")
    p = x * y
    p.label = "p"
    output = p * p + p
    monkeypatch.setattr(engine.Value, "backward", one_path_only)
    steps = [s for s in build_walkthrough(output).steps if s.phase == "backward"]
    nodes = {node_names(output)[id(n)]: n for n in topological_order(output)}
    assert any(edge.consumer == "p" for step in steps for edge in step.contributions)
    for step in steps:
        for edge in step.contributions:
            assert edge.upstream == nodes[edge.consumer].grad, (step.node, edge.consumer)
    assert [s.node for s in steps if not s.agrees_with_engine][:1] == ["p"]


# ---- the walkthrough drawn (helpers.plots.walkthrough) and its control (helpers.plots.walkthrough_widget) ------

@pytest.fixture(scope="module")
def nyu():
    return WalkthroughFigure(nyu_graph(1.0, 2.0, -1.5, 0.5))


def texts_of(walk: WalkthroughFigure) -> list[str]:
    return [t.get_text() for t in walk.graph_ax.texts if t.get_visible()]


def test_every_step_changes_the_picture(nyu):
    frames = [nyu.rgba(i) for i in range(len(nyu.steps))]
    assert all(frame.shape == frames[0].shape for frame in frames)
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))


def test_values_appear_as_they_are_computed(nyu):
    nyu.show(0)
    assert {"x = 1", "y = 2", "z = -1.5", "o = 0.5", "a = ?", "c = ?"} <= set(texts_of(nyu))
    nyu.show(1)  # a = x + y is the first primitive
    assert "a = 3" in texts_of(nyu) and "c = ?" in texts_of(nyu)


def test_the_two_path_node_shows_its_gradients_adding_up_and_its_edges_are_labelled(nyu):
    index = next(i for i, s in enumerate(nyu.steps) if s.phase == "backward" and s.node == "z")
    nyu.show(index)
    texts = texts_of(nyu)
    assert "z = -1.5\n∂w/∂z = 2.5" in texts and "1 + 1.5 = 2.5" in texts  # 1·1 through w, 3·0.5 through b
    assert "1 × 1 = 1" in texts and "3 × 0.5 = 1.5" in texts
    highlighted = [key for key, box in nyu.node_box.items() if box.get_linewidth() > 1]
    assert highlighted == [nyu.steps[index].key]
    assert nyu.node_box[highlighted[0]].get_edgecolor()[:3] == pytest.approx(plt.matplotlib.colors.to_rgb(HIGHLIGHT))
    assert "∂w/∂z" in nyu.caption[0].get_text() and "2 paths add up" in nyu.caption[0].get_text()


def test_the_current_table_line_is_the_steps_row(nyu):
    for index, step in enumerate(nyu.steps):
        nyu.show(index)
        if step.table_section is None:
            assert nyu.table_current is None
            continue
        text, section, row = nyu.lines[nyu.table_current]
        assert (section, row) == (step.table_section, step.table_index)
        assert text.startswith(f"∂w/∂{step.node} =" if step.phase == "backward" else f"{step.node} = ")


def test_projector_drawing_fits_the_projector_with_16_px_text():
    output = nyu_graph(1.0, 2.0, -1.5, 0.5)
    small, large = WalkthroughFigure(output), WalkthroughFigure(output, projector=True)
    for index in range(len(large.steps)):
        picture = large.picture(index)
        assert picture.text_px >= PROJECTOR_TEXT_PX and picture.size[0] <= NOTEBOOK_WIDTH_PX
        assert picture.size[1] + WALKTHROUGH_CONTROLS_PX <= PROJECTOR_HEIGHT_PX
    assert small.picture(9).text_px < PROJECTOR_TEXT_PX  # the notebook's drawing is the smaller one
    large.show(9)  # the projector's caption carries the table's current line, since the table is left out
    assert large.caption[1].get_text() == large.lines[large.table_current][0]


def test_a_step_out_of_range_is_refused(nyu):
    with pytest.raises(IndexError, match=r"step index must be in \[0, 13\]"):
        nyu.show(14)


def test_the_key_frame_strip_shows_a_forward_and_a_backward_step_and_how_small_their_text_is(nyu):
    fig = key_frame_strip(nyu, "title")
    assert len(fig.axes) == 2 and all(ax.images for ax in fig.axes)
    # the frames' smallest text (pixels at the walkthrough's dpi) shrunk with the frames: STRIP_SCALE of its size
    assert getattr(fig, IMAGE_TEXT_PT_ATTRIBUTE) == pytest.approx(nyu.text_px() * 72 / nyu.figure.dpi * STRIP_SCALE,
                                                                  rel=0.02)
    plt.close(fig)


def test_headless_gives_the_strip_and_nbgrader_counts_as_headless(monkeypatch):
    monkeypatch.delenv("BACKPROP_LAB_HEADLESS", raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert is_headless()
    w, x, b = Value(0.5, "w"), Value(2.0, "x"), Value(0.1, "b")
    fig = walkthrough_widget(sigmoid(w * x + b))
    assert len(fig.axes) == 2
    plt.close(fig)


def walkthrough_controls_px() -> int:
    """What a walkthrough's controls and margins take of the projector's height (computed, not measured)."""
    return PROJECTOR_HEIGHT_PX - projector_box_px(control_rows(
        [ipywidgets.Button()] * 3 + [ipywidgets.ToggleButton(), ipywidgets.IntSlider(), ipywidgets.ToggleButton(),
                                     ipywidgets.HTML()]))[1]


WALKTHROUGH_CONTROLS_PX = walkthrough_controls_px()


def test_the_buttons_move_the_slider_and_redraw_the_picture():
    widget = build_controls(Walkthroughs(lambda projector: WalkthroughFigure(nyu_graph(1.0, 2.0, -1.5, 0.5),
                                                                             projector=projector)), ipywidgets)
    described = {child.description: child for child in widget.box.children[-1].children
                 if hasattr(child, "description")}
    assert {"previous", "next", "play", "reset", "step", "projector"} <= set(described)
    assert {"classroom-widget", "walkthrough"} <= set(widget.box._dom_classes)
    steps = len(widget.walkthroughs.notebook.steps)

    def click(name):
        described[name].click()
        assert widget.worker.wait()  # the picture is drawn on the widget's own thread
        return widget.picture.value

    pictures = [widget.picture.value]
    click("previous")  # already at the start: stays
    assert widget.slider.value == 0
    pictures += [click("next") for _ in range(steps + 1)]  # past the end: stays at the last step
    assert widget.slider.value == steps - 1
    distinct = pictures[:steps]
    assert len(set(distinct)) == len(distinct)  # each step's picture differs
    click("previous")
    assert widget.slider.value == steps - 2
    assert click("reset") == pictures[0] and widget.slider.value == 0
    described["projector"].value = True
    assert widget.worker.wait() and "classroom-text-px-16" in widget.picture._dom_classes
    assert widget.picture.layout.width == f"{NOTEBOOK_WIDTH_PX}px"


# ---- the layered layout (helpers.plots.graph_layout) and the graphs drawn (helpers.plots.graph_drawing) --------

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
