"""The layer walkthrough (helpers.plots.layer_walkthrough_steps, helpers.plots.layer_walkthrough_steps): every number a step shows against the
model's own forward and backward and against torch autograd on an nn twin in float64, on networks of
helpers.layers and on MyNets of two and three layers, batch 1 and batch > 1."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from helpers.gradcheck import AUTOGRAD_TOLERANCE, compare
from helpers.layers import MLP, Linear, MSELoss, ReLU, Sequential, Sigmoid, Tanh
from helpers.layers import Layer
from helpers.plots.layer_walkthrough_steps import build_layer_walkthrough, key_frames
from helpers.mynet import MyNet, backpropagation

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
