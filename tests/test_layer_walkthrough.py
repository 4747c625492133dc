"""The layer walkthrough: its steps (helpers.plots.layer_walkthrough_steps) checked number by number against the
model's own forward and backward and against torch autograd on an nn twin in float64, on networks of
helpers.layers and on MyNets of two and three layers, batch 1 and batch > 1; the same steps in the student
edition (helpers.runtime.edition.SHOWS_ANSWERS False: each backward step shows the model's own δ[l], dL/dW[l]
and dL/db[l] with names, shapes and autograd's verdict, but neither the factors they are formed from nor the
rule of exercises 2.1 and 3.1, and the student's copy of the module holds none of those formulas either); and
the walkthrough drawn (helpers.plots.layer_walkthrough) and driven by the shared control
(helpers.plots.walkthrough_widget).
"""
from __future__ import annotations

import copy
import sys
import types

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

import helpers.plots.layer_walkthrough_steps as layer_walkthrough
from helpers.data.paths import PROJECT_ROOT
from helpers.gradcheck import AUTOGRAD_TOLERANCE, compare
from helpers.layers import MLP, Layer, Linear, MSELoss, ReLU, Sequential, Sigmoid, Tanh
from helpers.mynet import MyNet, backpropagation
from helpers.plots.layer_walkthrough import DISAGREES, LayerWalkthroughFigure
from helpers.plots.layer_walkthrough_steps import build_layer_walkthrough, key_frames
from helpers.plots.walkthrough import HIGHLIGHT, HIGHLIGHT_TEXT, PAST_SUM, PENDING, STRIP_FRAMES, key_frame_strip
from helpers.plots.layer_walkthrough import cell_colour
from helpers.plots.layer_walkthrough_steps import number_text
from helpers.plots.style import contrast_ratio, readable_on
from helpers.runtime.classroom import NOTEBOOK_WIDTH_PX, PROJECTOR_HEIGHT_PX, PROJECTOR_TEXT_PX
from helpers.plots.walkthrough_widget import Walkthroughs, build_controls, layer_walkthrough_widget
from tests.test_walkthrough import WALKTHROUGH_CONTROLS_PX
from helpers.runtime import edition
from tools.editions import strip_solutions

F64 = torch.float64


def course_mlp(batch: int):
    """CSE 849's pipeline: Linear -> ReLU -> Linear -> ReLU -> Linear, 2 -> 3 -> 3 -> 1 (three layers)."""
    generator = torch.Generator().manual_seed(batch)
    model = MLP(2, 1, 3, lr=0.1, dtype=F64, generator=generator)
    return model, torch.randn(batch, 2, dtype=F64, generator=generator), torch.randn(batch, 1, dtype=F64,
                                                                                      generator=generator)


def two_layer_sequential(batch: int):
    """Linear -> Tanh -> Linear -> Sigmoid, 3 -> 4 -> 2 (two layers, an activation on the output)."""
    generator = torch.Generator().manual_seed(10 + batch)
    model = Sequential(first=Linear(3, 4, 0.1, dtype=F64, generator=generator), squash=Tanh(),
                       second=Linear(4, 2, 0.1, dtype=F64, generator=generator), out=Sigmoid())
    return model, torch.randn(batch, 3, dtype=F64, generator=generator), torch.rand(batch, 2, dtype=F64,
                                                                                     generator=generator)


def mynet(n_l, activation, batch: int):
    torch.manual_seed(20 + batch)
    model = MyNet(n_l, activation).double()
    return model, torch.randn(batch, n_l[0], dtype=F64), torch.randn(batch, n_l[-1], dtype=F64)


NETWORKS = {
    "layers.MLP, 3 layers, batch 4": lambda: course_mlp(4),
    "layers.MLP, 3 layers, batch 1": lambda: course_mlp(1),
    "Sequential tanh/sigmoid, 2 layers, batch 5": lambda: two_layer_sequential(5),
    "MyNet [2, 3, 2] tanh, batch 4": lambda: mynet([2, 3, 2], "tanh", 4),
    "MyNet [3, 4, 4, 2] relu/sigmoid/identity, batch 1": lambda: mynet([3, 4, 4, 2], ["relu", "sigmoid", "identity"],
                                                                       1),
}


def linear_layers(model) -> list:
    """(weight in nn.Linear's (out, in) layout, bias, a new activation module) per layer of either network."""
    if isinstance(model, MyNet):
        modules = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "identity": nn.Identity}
        return [(model.fc[str(l)].weight, model.fc[str(l)].bias, modules[model.activations[l - 1]]())
                for l in range(1, model.L + 1)]
    modules = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    found = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            found.append([layer.weight.T, layer.bias, nn.Identity()])
        else:
            found[-1][2] = modules[layer.kind]()
    return found


def autograd_twin(model, x, y) -> dict:
    """An nn.Sequential twin in float64 with the model's parameters; hooks keep every layer's output. Returns
    autograd's a, z, dL/da, δ, f'(z), dL/dW (in the model's own layout), dL/db, by layer, and the loss."""
    twin, outputs = nn.Sequential(), []
    for weight, bias, activation in linear_layers(model):
        linear = nn.Linear(weight.shape[1], weight.shape[0]).double()
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        twin.append(linear)
        twin.append(activation)
    def keep(_, __, out):
        out.retain_grad()
        outputs.append(out)

    for module in twin:
        module.register_forward_hook(keep)
    prediction = twin(x.clone())
    loss = nn.MSELoss(reduction="sum" if isinstance(model, MyNet) else "mean")(prediction, y)
    loss.backward()
    z, a = outputs[0::2], outputs[1::2]
    slopes = []
    for layer, pre in enumerate(z):
        point = pre.detach().clone().requires_grad_()
        twin[2 * layer + 1](point).sum().backward()
        slopes.append(point.grad)
    transpose = (lambda w: w) if isinstance(model, MyNet) else (lambda w: w.T)
    linears = [twin[2 * layer] for layer in range(len(z))]
    return {"a": [x] + a, "z": z, "upstream": [t.grad for t in a], "delta": [t.grad for t in z], "slope": slopes,
            "dW": [transpose(m.weight.grad) for m in linears], "db": [m.bias.grad for m in linears], "loss": loss}


def model_own(model, x, y) -> dict:
    """The model's own numbers, from its own API on a copy: a[l] and z[l] as its forward keeps them, dL/dW[l]
    and dL/db[l] as its backward leaves them (helpers.layers: the course's loop; MyNet: backpropagation)."""
    net = copy.deepcopy(model)
    if isinstance(net, MyNet):
        prediction = net(x)
        deltas = backpropagation(net, y, prediction)
        layers = range(1, net.L + 1)
        return {"a": [net.a[l] for l in range(net.L + 1)], "z": [net.z[l] for l in layers],
                "delta": [deltas[l] for l in layers], "dW": [net.dL_dw[l] for l in layers],
                "db": [net.dL_db[l] for l in layers]}
    out = net.forward(x)
    loss_fn = MSELoss()
    loss_fn(out, y)
    linears = [layer for layer in net.layers if isinstance(layer, Linear)]
    inputs = [layer.grad_comps["x"] for layer in linears]  # a[l-1], as each Linear kept it
    net.backward(loss_fn.backward())
    return {"a": inputs + [out], "dW": [layer.grad for layer in linears], "db": [layer.grad_bias for layer in linears]}


def shown(step, name: str) -> torch.Tensor:
    """The values of the panel called ``name`` in ``step`` (2-D; a vector is one row)."""
    matches = [panel for panel in step.panels if panel.name == name]
    assert matches, f"{step.title}: no panel {name!r} in {[p.name for p in step.panels]}"
    return matches[0].values


def same(values: torch.Tensor, expected: torch.Tensor) -> bool:
    expected = expected.detach().reshape(values.shape)
    return compare("", values, expected, AUTOGRAD_TOLERANCE).passed


@pytest.mark.parametrize("name", NETWORKS)
def test_forward_steps_show_the_models_activations_and_autograds(name):
    model, x, y = NETWORKS[name]()
    walk, twin, own = build_layer_walkthrough(model, x, y), autograd_twin(model, x, y), model_own(model, x, y)
    forward = [s for s in walk.steps if s.phase == "forward"]
    assert [s.layer for s in forward] == list(range(1, len(twin["z"]) + 1))
    for step in forward:
        l = step.layer
        assert same(shown(step, f"a[{l - 1}]"), own["a"][l - 1]) and same(shown(step, f"a[{l - 1}]"), twin["a"][l - 1])
        assert same(shown(step, f"a[{l}]"), twin["a"][l]) and same(shown(step, f"z[{l}]"), twin["z"][l - 1])
        if "z" in own:
            assert same(shown(step, f"z[{l}]"), own["z"][l - 1])
        assert step.agrees, (name, step.title)


@pytest.mark.parametrize("name", NETWORKS)
def test_backward_steps_show_the_models_gradients_and_autograds(name):
    model, x, y = NETWORKS[name]()
    walk, twin, own = build_layer_walkthrough(model, x, y), autograd_twin(model, x, y), model_own(model, x, y)
    backward = [s for s in walk.steps if s.phase == "backward"]
    assert [s.layer for s in backward] == list(range(len(twin["z"]), 0, -1))
    for step in backward:
        l = step.layer
        delta = shown(step, f"δ[{l}]")
        assert same(delta, twin["delta"][l - 1]) and same(shown(step, f"f'(z[{l}])"), twin["slope"][l - 1])
        upstream = next(p.values for p in step.panels if p.name.startswith(f"dL/da[{l}]") or
                        p.name.startswith(f"dL/dŷ = dL/da[{l}]"))
        assert same(upstream, twin["upstream"][l - 1])
        assert same(shown(step, f"dL/dW[{l}]"), twin["dW"][l - 1]) and same(shown(step, f"dL/dW[{l}]"), own["dW"][l - 1])
        assert same(shown(step, f"dL/db[{l}]"), twin["db"][l - 1]) and same(shown(step, f"dL/db[{l}]"), own["db"][l - 1])
        if "delta" in own:
            assert same(delta, own["delta"][l - 1])
        assert step.agrees, (name, step.title)
    end = walk.steps[-1]
    assert same(end.panels[-1].values, twin["loss"])


@pytest.mark.parametrize("name", NETWORKS)
def test_the_weight_gradient_is_the_product_of_the_two_factors_shown(name):
    model, x, y = NETWORKS[name]()
    for step in (s for s in build_layer_walkthrough(model, x, y).steps if s.phase == "backward"):
        left, _, right, _, product = step.equations[1]
        assert left.values.shape[1] == right.values.shape[0] == x.shape[0]  # the inner size is the batch
        assert same(product.values, left.values @ right.values)
        assert product.name == f"dL/dW[{step.layer}]"


@pytest.mark.parametrize("name", NETWORKS)
def test_the_shapes_shown_are_the_tensors_shapes(name):
    model, x, y = NETWORKS[name]()
    walk, twin = build_layer_walkthrough(model, x, y), autograd_twin(model, x, y)
    weights = [w for w, _, _ in linear_layers(model)]
    for step in walk.steps:
        for panel in step.panels:
            assert panel.shape_text == "×".join(map(str, panel.values.shape))
        if step.phase == "forward":
            l = step.layer
            assert shown(step, f"a[{l}]").shape == twin["a"][l].shape
            weight = next(p for p in step.panels if p.name.startswith(f"W[{l}]"))
            assert weight.values.shape == weights[l - 1].T.shape  # (n_(l-1), n_l): fits a[l-1] · W
        if step.phase == "backward":
            assert shown(step, f"dL/dW[{step.layer}]").shape == twin["dW"][step.layer - 1].shape
    assert walk.steps[0].panels[0].shape_text == f"{x.shape[0]}×{x.shape[1]}"


def test_the_model_passed_in_is_not_changed():
    model, x, y = course_mlp(4)
    before = {name: t.clone() for name, t in model.parameters().items()}
    build_layer_walkthrough(model, x, y)  # helpers.layers' backward takes an SGD step: on a copy only
    assert all(torch.equal(before[name], t) for name, t in model.parameters().items())
    net, x, y = mynet([2, 3, 2], "tanh", 3)
    build_layer_walkthrough(net, x, y)
    assert net.z[1] is None and net.dL_dw[1] is None


def test_key_frames_are_start_middle_forward_hidden_backward_and_end():
    model, x, y = course_mlp(4)
    steps = build_layer_walkthrough(model, x, y).steps
    assert [s.phase for s in steps] == ["start"] + ["forward"] * 3 + ["backward"] * 3 + ["end"]
    assert [(steps[i].phase, steps[i].layer) for i in key_frames(steps)] == [
        ("start", 0), ("forward", 2), ("backward", 2), ("end", 3)]
    net, x, y = mynet([2, 3, 2], "tanh", 4)
    steps = build_layer_walkthrough(net, x, y).steps
    assert [(steps[i].phase, steps[i].layer) for i in key_frames(steps)] == [
        ("start", 0), ("forward", 2), ("backward", 1), ("end", 2)]


def forgets_the_slope_in_hidden_layers(model, y_true, y_pred):
    """Planted bug: hidden δ[l] = δ[l+1] W[l+1] without ⊙ f'(z[l]) (the output layer is right)."""
    with torch.no_grad():
        deltas, delta = {}, 2 * (y_pred - y_true) * model.df[model.L](model.z[model.L])
        for l in range(model.L, 0, -1):
            deltas[l] = delta
            model.dL_dw[l], model.dL_db[l] = delta.T @ model.a[l - 1], delta.sum(0)
            delta = delta @ model.fc[str(l)].weight  # here the factor f'(z[l-1]) is missing
    return deltas


def test_a_wrong_backward_shows_at_the_step_where_it_happens():
    net, x, y = mynet([2, 3, 3, 2], "tanh", 4)
    steps = build_layer_walkthrough(net, x, y, forgets_the_slope_in_hidden_layers).steps
    wrong = [(s.phase, s.layer) for s in steps if not s.agrees]
    assert wrong == [("backward", 2), ("backward", 1)]  # the output layer's step still agrees
    second = next(s for s in steps if s.phase == "backward" and s.layer == 2)
    assert {p.name for p in second.panels if not p.agrees} == {"δ[2]", "δ[2]ᵀ", "dL/dW[2]", "dL/db[2]"}


def test_a_wrong_layer_backward_shows_at_its_layer(monkeypatch):
    model, x, y = course_mlp(4)
    monkeypatch.setattr(ReLU, "backward", lambda self, grad: (self._take_saved(), grad)[1])  # forgets the mask
    steps = build_layer_walkthrough(model, x, y).steps
    assert [(s.phase, s.layer) for s in steps if not s.agrees] == [("backward", 2), ("backward", 1)]


class NoBackward(Layer):
    def forward(self, x):
        return x


def test_bad_input_says_what_was_expected():
    model, x, y = course_mlp(4)
    with pytest.raises(ValueError, match=r"layer walkthrough x: expected shape \(any, 2\), got \(4, 3\)"):
        build_layer_walkthrough(model, torch.randn(4, 3, dtype=F64), y)
    with pytest.raises(ValueError, match=r"layer walkthrough y: expected shape \(4, 1\), got \(4,\)"):
        build_layer_walkthrough(model, x, y.reshape(-1))
    with pytest.raises(ValueError, match=r"expected dtype torch.float64"):
        build_layer_walkthrough(model, x.float(), y)
    with pytest.raises(ValueError, match="layer walkthrough x: expected finite values"):
        build_layer_walkthrough(model, torch.full((4, 2), float("nan"), dtype=F64), y)
    with pytest.raises(ValueError, match=r"layer walkthrough x: expected a batch of at least one sample, got \(0, 2\)"):
        build_layer_walkthrough(model, x[:0], y[:0])
    with pytest.raises(ValueError, match="layer walkthrough x: expected a floating-point tensor"):
        build_layer_walkthrough(model, x.long(), y)
    with pytest.raises(TypeError, match="has no backward pass to walk through"):
        build_layer_walkthrough(nn.Sequential(nn.Linear(2, 1)), x, y)
    with pytest.raises(TypeError, match=r"layer odd \(NoBackward\) defines no backward\(\)"):
        build_layer_walkthrough(Sequential(first=Linear(2, 1, 0.1, dtype=F64), odd=NoBackward()), x, y)
    with pytest.raises(ValueError, match="each followed by at most one activation"):
        build_layer_walkthrough(Sequential(act=ReLU(), first=Linear(2, 1, 0.1, dtype=F64)), x, y)
    net, x, y = mynet([2, 3, 2], "tanh", 4)
    with pytest.raises(ValueError, match=r"expected shape \(any, 2\), got \(4,\)"):
        build_layer_walkthrough(net, x[:, 0], y)
    with pytest.raises(RuntimeError, match=r"left model.dL_dw\[1\] empty"):
        build_layer_walkthrough(net, x, y, lambda model, y_true, y_pred: None)
    with pytest.raises(TypeError, match="backpropagation must be a function"):
        build_layer_walkthrough(net, x, y, "backpropagation")


# =========================================================================== the student edition

# Spellings of the answers: the factors' product (either layout), the rule's ⊙ and the sum over the batch.
ANSWER_MARKS = ("⊙", "Σ", "ᵀ", "·", "W[{l + 1}]", "sum over")


@pytest.fixture
def student_edition(monkeypatch):
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)


@pytest.mark.parametrize("name", NETWORKS)
def test_backward_steps_show_only_the_models_results_and_autograds_verdict(name, student_edition):
    model, x, y = NETWORKS[name]()
    walk, twin = layer_walkthrough.build_layer_walkthrough(model, x, y), autograd_twin(model, x, y)
    for step in (s for s in walk.steps if s.phase == "backward"):
        l = step.layer
        assert [p.name for p in step.panels] == [f"δ[{l}]", f"dL/db[{l}]", f"dL/dW[{l}]"]
        assert not [item for row in step.equations for item in row if isinstance(item, str)]  # no operators
        assert not [mark for mark in ANSWER_MARKS if mark in step.formula], step.formula
        for panel in step.panels:
            assert panel.shape_text in step.formula and panel.reference is not None
        assert same(shown(step, f"δ[{l}]"), twin["delta"][l - 1])
        assert same(shown(step, f"dL/dW[{l}]"), twin["dW"][l - 1]) and same(shown(step, f"dL/db[{l}]"), twin["db"][l - 1])
        assert step.agrees


def test_a_wrong_backward_still_shows_at_its_step(student_edition):
    net, x, y = mynet([2, 3, 3, 2], "tanh", 4)
    steps = layer_walkthrough.build_layer_walkthrough(net, x, y, forgets_the_slope_in_hidden_layers).steps
    assert [(s.phase, s.layer) for s in steps if not s.agrees] == [("backward", 2), ("backward", 1)]
    second = next(s for s in steps if s.phase == "backward" and s.layer == 2)
    assert {p.name for p in second.panels if not p.agrees} == {"δ[2]", "dL/dW[2]", "dL/db[2]"}


def test_the_students_copy_of_the_module_has_no_formula_and_walks_the_same(student_edition, monkeypatch):
    path = PROJECT_ROOT / "helpers" / "plots" / "layer_walkthrough_steps.py"
    source = strip_solutions(path.read_text(), str(path))
    assert "student edition:" not in source  # the one mechanism: _with_factors runs only if SHOWS_ANSWERS
    student = types.ModuleType("student_layer_walkthrough")
    monkeypatch.setitem(sys.modules, student.__name__, student)  # dataclasses look their module up
    exec(compile(source, str(path), "exec"), student.__dict__)
    model, x, y = NETWORKS["MyNet [2, 3, 2] tanh, batch 4"]()
    ours, theirs = (module.build_layer_walkthrough(model, x, y).steps for module in (layer_walkthrough, student))
    assert [(s.title, s.formula, [p.name for p in s.panels]) for s in ours] == \
        [(s.title, s.formula, [p.name for p in s.panels]) for s in theirs]


def test_the_instructors_edition_still_draws_the_factors():
    model, x, y = NETWORKS["MyNet [2, 3, 2] tanh, batch 4"]()
    step = next(s for s in layer_walkthrough.build_layer_walkthrough(model, x, y).steps if s.phase == "backward")
    assert "⊙" in step.formula and [p.name for p in step.equations[1] if not isinstance(p, str)][:2] == ["δ[2]ᵀ", "a[1]"]


def test_the_student_figure_draws_the_results_without_operators(student_edition):
    from helpers.plots.layer_walkthrough import LayerWalkthroughFigure
    model, x, y = NETWORKS["layers.MLP, 3 layers, batch 4"]()
    figure = LayerWalkthroughFigure(model, x, y)
    for index, step in enumerate(figure.steps):
        figure.rgba(index)
        labels = [m.label.get_text() for row in figure.matrix_pool for m in row if m.label.get_visible()]
        operators = [t.get_text() for row in figure.operator_pool for t in row if t.get_visible()]
        assert sorted(labels) == sorted(f"{p.name}  {p.shape_text}" for p in step.panels)
        if step.phase == "backward":
            assert operators == [] and figure.caption[1].get_text() == step.formula
            assert "agrees with autograd" in figure.caption[2].get_text()


# =========================================================================== the drawing and its control

def drawn_course_mlp():
    generator = torch.Generator().manual_seed(0)
    return (MLP(2, 1, 3, lr=0.1, dtype=F64, generator=generator), torch.randn(4, 2, dtype=F64, generator=generator),
            torch.randn(4, 1, dtype=F64, generator=generator))


@pytest.fixture(scope="module")
def mlp_figure():
    return LayerWalkthroughFigure(*drawn_course_mlp())


def visible_labels(figure: LayerWalkthroughFigure) -> list[str]:
    return [m.label.get_text() for row in figure.matrix_pool for m in row if m.label.get_visible()]


def test_every_step_changes_the_picture(mlp_figure):
    frames = [mlp_figure.rgba(i) for i in range(len(mlp_figure.steps))]
    assert all(frame.shape == frames[0].shape for frame in frames)  # a fixed size: nothing jumps
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))


def test_each_step_labels_its_matrices_with_their_names_and_shapes(mlp_figure):
    for index, step in enumerate(mlp_figure.steps):
        mlp_figure.show(index)
        expected = [f"{p.name}  {'×'.join(map(str, p.values.shape))}" for p in step.panels]
        assert sorted(visible_labels(mlp_figure)) == sorted(expected), step.title
        assert mlp_figure.caption[1].get_text() == step.formula


def test_the_current_layer_is_framed_in_the_overview(mlp_figure):
    backward_2 = next(i for i, s in enumerate(mlp_figure.steps) if s.phase == "backward" and s.layer == 2)
    mlp_figure.show(backward_2)
    framed = [m.label.get_text() for m in mlp_figure.overview if m.frame.get_linewidth() > 1]
    assert framed == ["δ[2]  4×3"]
    assert mlp_figure.overview[-2].frame.get_edgecolor()[:3] == pytest.approx(plt.matplotlib.colors.to_rgb(HIGHLIGHT))
    hidden = [m.label.get_text() for m in mlp_figure.overview if not m.image.get_visible()]
    assert hidden == ["δ[1]  4×3"]  # not reached yet: drawn as an empty outline


def test_the_numbers_are_stamped_in_the_cells(mlp_figure):
    forward_1 = next(i for i, s in enumerate(mlp_figure.steps) if s.phase == "forward")
    mlp_figure.show(forward_1)
    z = next(p for p in mlp_figure.steps[forward_1].panels if p.name == "z[1]")
    texts = [text for _, _, text, _ in mlp_figure.numbers]
    assert f"{z.values[0, 0].item():.3g}" in texts
    stamped, plain = mlp_figure.rgba(forward_1), super(LayerWalkthroughFigure, mlp_figure).rgba(forward_1)
    assert not np.array_equal(stamped, plain)


def test_a_wrong_backward_is_named_in_red_at_its_step():
    def halves_the_hidden_weight_gradient(model, y_true, y_pred):
        from helpers.mynet import backpropagation
        deltas = backpropagation(model, y_true, y_pred)
        model.dL_dw[1] = model.dL_dw[1] / 2
        return deltas

    torch.manual_seed(0)
    figure = LayerWalkthroughFigure(MyNet([2, 3, 2]).double(), torch.randn(4, 2, dtype=F64),
                                    torch.randn(4, 2, dtype=F64), halves_the_hidden_weight_gradient)
    for index, step in enumerate(figure.steps):
        figure.show(index)
        wrong = step.phase == "backward" and step.layer == 1
        assert ("differs from autograd: dL/dW[1]" in figure.caption[2].get_text()) == wrong
        red = [m.label.get_text() for row in figure.matrix_pool for m in row
               if m.label.get_visible() and m.label.get_color() == DISAGREES]
        assert red == (["dL/dW[1]  3×2"] if wrong else [])


def notebook_03_mynet():
    torch.manual_seed(3)
    return MyNet([2, 3, 2]).double(), torch.randn(4, 2, dtype=F64), torch.randn(4, 2, dtype=F64)


@pytest.mark.parametrize("network", [drawn_course_mlp, notebook_03_mynet])
def test_projector_drawing_fits_the_projector_with_16_px_text(network):
    projector = LayerWalkthroughFigure(*network(), projector=True)
    assert not projector.overview  # the overview band is left out: fewer panels
    for index in range(len(projector.steps)):
        picture = projector.picture(index)
        assert picture.text_px >= PROJECTOR_TEXT_PX and picture.size[0] <= NOTEBOOK_WIDTH_PX
        assert picture.size[1] + WALKTHROUGH_CONTROLS_PX <= PROJECTOR_HEIGHT_PX
        assert all(sum(p.numbers for p in row) <= 1 for row in projector.geometry.rows[index])  # only the result's
    assert LayerWalkthroughFigure(*network()).picture(0).text_px < PROJECTOR_TEXT_PX


@pytest.mark.parametrize("projector", [False, True])
def test_every_number_fits_its_cell_and_contrasts_with_it(projector):
    figure = LayerWalkthroughFigure(*notebook_03_mynet(), projector=projector)  # writes -0.000466: 9 characters
    cell_px = figure.sizes.cell_w_in * figure.sizes.number_cell * figure.figure.dpi
    widest = 0.0
    for index in range(len(figure.steps)):
        figure.show(index)
        for _, _, text, colour in figure.numbers:
            widest = max(widest, figure.number_font.getlength(text))
    assert 0 < widest < cell_px
    if projector:  # there the numbers are wider than a plain cell: they spilled out before cells fitted them
        assert widest > figure.sizes.cell_w_in * figure.figure.dpi


def test_every_cell_colour_has_a_number_colour_with_4_5_to_1_contrast():
    for scaled in np.linspace(-1, 1, 201):
        background = cell_colour(scaled)
        assert contrast_ratio(readable_on(background), background) >= 4.5, scaled
    assert readable_on(cell_colour(1.0)) == readable_on(cell_colour(-1.0)) == (0.0, 0.0, 0.0)
    for text in (HIGHLIGHT_TEXT, PENDING, DISAGREES, PAST_SUM, "#555555"):  # the walkthroughs' text colours on white
        assert contrast_ratio(text, "white") >= 4.5, text
    assert contrast_ratio(HIGHLIGHT, "white") < 4.5  # why the highlight's text is darker: the test can fail


def test_the_caption_and_the_box_round_the_loss_alike(mlp_figure):
    end = len(mlp_figure.steps) - 1
    mlp_figure.show(end)
    boxed = [text for _, _, text, _ in mlp_figure.numbers][-1]  # the loss is the row's last matrix
    assert f"= {boxed};" in mlp_figure.caption[1].get_text()
    assert boxed == number_text(mlp_figure.walk.record.loss.item())


def test_the_matrix_product_is_drawn_as_a_visible_sign(mlp_figure):
    forward_1 = next(i for i, s in enumerate(mlp_figure.steps) if s.phase == "forward")
    mlp_figure.show(forward_1)
    shown = [t.get_text() for row in mlp_figure.operator_pool for t in row if t.get_visible()]
    assert "×" in shown and "·" not in shown


def test_a_step_out_of_range_is_refused(mlp_figure):
    with pytest.raises(IndexError, match=r"step index must be in \[0, 7\]"):
        mlp_figure.show(8)


def test_a_batch_too_large_to_draw_is_refused_with_advice():
    model, _, _ = drawn_course_mlp()
    x, y = torch.zeros(17, 2, dtype=F64), torch.zeros(17, 1, dtype=F64)
    with pytest.raises(ValueError, match=r"a batch of at most 16 .* side of 17 \(take a few samples"):
        LayerWalkthroughFigure(model, x, y)


def test_headless_gives_the_forward_and_backward_key_frames(monkeypatch, mlp_figure):
    monkeypatch.setenv("BACKPROP_LAB_HEADLESS", "1")
    fig = layer_walkthrough_widget(*drawn_course_mlp(), title="layers.MLP")
    assert len(fig.axes) == 2 and all(ax.images for ax in fig.axes)
    plt.close(fig)
    strip = key_frame_strip(mlp_figure)
    frames = [ax.images[0].get_array() for ax in strip.axes]
    expected = [mlp_figure.rgba(mlp_figure.key_frames()[i]) for i in STRIP_FRAMES]
    assert all(np.array_equal(np.asarray(a), b) for a, b in zip(frames, expected))
    plt.close(strip)


def test_the_shared_controls_step_through_every_frame(mlp_figure):
    widget = build_controls(Walkthroughs(lambda projector: mlp_figure), ipywidgets)
    assert "walkthrough" in widget.box._dom_classes
    pictures = [widget.picture.value]
    for _ in range(len(mlp_figure.steps) - 1):
        widget.buttons["next"].click()
        assert widget.worker.wait()
        pictures.append(widget.picture.value)
    assert widget.slider.value == len(mlp_figure.steps) - 1
    assert len(set(pictures)) == len(pictures)
    widget.buttons["reset"].click()
    assert widget.worker.wait() and widget.slider.value == 0 and widget.picture.value == pictures[0]
