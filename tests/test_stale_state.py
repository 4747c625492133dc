"""Stale state: backward after an in-place change to what the forward pass used is refused, never silently wrong.

Each hand-written backward reads tensors its forward pass kept (the input, activations, the parameters). If the
caller changes one of them in place in between, the gradients would mix the new values with the old forward
pass (issue 12, item 1: a weight gradient of 40 instead of 4). Every case below raises a RuntimeError naming
what changed and asking for a new forward pass; legitimate sequences (SGD inside ``Linear.backward``, training
loops, copies) keep working.
"""
import copy

import pytest
import torch

from helpers import mlp as nyu
from helpers.layers import MLP, Linear, MSELoss, ReLU, Sequential
from helpers.mynet import MyNet, backpropagation, manual_sgd_step, named_gradients

F64 = torch.float64
STALE = "after the forward pass.*forward pass again"


def frozen_linear() -> Linear:
    """A 1 -> 1 Linear with weight 1, bias 0 and lr 0 (backward computes gradients, the step changes nothing)."""
    layer = Linear(1, 1, lr=0.0, dtype=F64)
    layer.weight.fill_(1.0)
    layer.bias.zero_()
    return layer


# --- helpers.layers ------------------------------------------------------------------------------

def test_linear_refuses_an_input_changed_after_forward():
    layer = frozen_linear()
    x = torch.full((1, 1), 4.0, dtype=F64)
    layer.forward(x)
    x.mul_(10)  # the weight gradient would silently become 40 instead of 4
    with pytest.raises(RuntimeError, match=f"Linear.backward\\(\\): its input x was modified in place {STALE}"):
        layer.backward(torch.ones(1, 1, dtype=F64))
    layer.forward(x)  # a new forward pass makes it consistent again
    layer.backward(torch.ones(1, 1, dtype=F64))
    assert layer.grad_weight.item() == 40.0


@pytest.mark.parametrize("parameter", ["weight", "bias"])
def test_linear_refuses_parameters_changed_after_forward(parameter):
    layer = Linear(3, 2, lr=0.1, dtype=F64, generator=torch.Generator().manual_seed(0))
    layer.forward(torch.randn(4, 3, dtype=F64))
    getattr(layer, parameter).add_(1.0)  # e.g. load_parameters between forward and backward
    before = {name: p.clone() for name, p in layer.parameters().items()}
    with pytest.raises(RuntimeError, match=f"its {parameter} was modified in place"):
        layer.backward(torch.ones(4, 2, dtype=F64))
    assert all(torch.equal(p, before[name]) for name, p in layer.parameters().items()), "no SGD step on refusal"


def test_activation_and_loss_refuse_their_saved_tensors_changed():
    relu = ReLU()
    y = relu.forward(torch.randn(3, 2, dtype=F64))
    y.mul_(2)
    with pytest.raises(RuntimeError, match="ReLU.backward\\(\\): its output y was modified in place"):
        relu.backward(torch.ones(3, 2, dtype=F64))
    loss = MSELoss()
    y_hat, target = torch.zeros(3, 1, dtype=F64), torch.ones(3, 1, dtype=F64)
    loss.forward(y_hat, target)
    target.fill_(5.0)
    with pytest.raises(RuntimeError, match="MSELoss.backward\\(\\): y was modified in place"):
        loss.backward()


def test_mlp_refuses_a_changed_input_before_any_layer_takes_its_sgd_step():
    model = MLP(2, 1, 4, lr=0.1, dtype=F64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(5, 2, dtype=F64)
    model.forward(x)
    x.add_(1.0)  # only layer1 kept x, but layer3 would step first on the way back
    before = model.snapshot()
    with pytest.raises(RuntimeError, match="Linear.backward\\(\\): its input x was modified in place"):
        model.backward(torch.ones(5, 1, dtype=F64))
    assert all(torch.equal(p, before[name]) for name, p in model.parameters().items()), "half an SGD step"


def test_mlp_refuses_parameters_loaded_between_forward_and_backward():
    model = MLP(2, 1, 4, lr=0.1, dtype=F64, generator=torch.Generator().manual_seed(0))
    snapshot = model.snapshot()
    model.forward(torch.randn(5, 2, dtype=F64))
    model.load_parameters({name: t + 1 for name, t in snapshot.items()})
    with pytest.raises(RuntimeError, match="modified in place"):
        model.backward(torch.ones(5, 1, dtype=F64))


def test_sgd_inside_backward_and_training_loops_still_work():
    """Linear.backward updates its own weight after using it; Sequential runs the layers in reverse."""
    generator = torch.Generator().manual_seed(0)
    model = MLP(2, 1, 8, lr=0.05, dtype=F64, generator=generator)
    reference = Sequential(a=Linear(2, 3, 0.05, dtype=F64), b=ReLU(), c=Linear(3, 1, 0.05, dtype=F64))
    loss = MSELoss()
    x, y = torch.randn(16, 2, dtype=F64, generator=generator), torch.randn(16, 1, dtype=F64, generator=generator)
    losses = []
    for _ in range(20):
        for net in (model, reference):
            losses.append(loss.forward(net.forward(x), y).item())
            net.backward(loss.backward())
    assert losses[-2] < losses[0], "training still trains"
    with pytest.raises(RuntimeError, match="before forward"):  # a second backward after one forward
        model.backward(torch.ones(16, 1, dtype=F64))


def test_inputs_made_in_inference_mode_need_no_version_counter():
    layer = Linear(2, 1, lr=0.1, dtype=F64)
    with torch.inference_mode():
        x = torch.randn(3, 2, dtype=F64)
    layer.forward(x)
    assert layer.backward(torch.ones(3, 1, dtype=F64)).shape == (3, 2)


# --- helpers.mlp (NYU API) -----------------------------------------------------------------------

def nyu_net():
    net = nyu.MLP(2, 3, "tanh", 3, 1, "identity", dtype=F64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(4, 2, dtype=F64)
    net.clear_grad_and_cache()
    return net, x


def test_nyu_mlp_refuses_an_input_changed_after_forward():
    net, x = nyu_net()
    net.forward(x)
    x.mul_(10)
    with pytest.raises(RuntimeError, match=f"MLP.backward\\(\\): cache\\['x'\\] was modified in place {STALE}"):
        net.backward(torch.ones(4, 1, dtype=F64))


def test_nyu_mlp_refuses_parameters_updated_or_replaced_without_a_new_forward():
    net, x = nyu_net()
    net.forward(x)
    net.backward(torch.ones(4, 1, dtype=F64))
    net.parameters["W2"] -= 0.1 * net.grads["dJdW2"]  # an SGD step, in place ...
    with pytest.raises(RuntimeError, match="parameters\\['W2'\\] was modified in place"):
        net.backward(torch.ones(4, 1, dtype=F64))  # ... then backward on the old cache
    net.forward(x)
    net.parameters["W1"] = net.parameters["W1"] - 0.1 * net.grads["dJdW1"]  # a step that builds a new tensor
    with pytest.raises(RuntimeError, match="parameters\\['W1'\\] was replaced"):
        net.backward(torch.ones(4, 1, dtype=F64))


def test_nyu_mlp_usual_loop_still_works():
    net, x = nyu_net()
    y = torch.zeros(4, 1, dtype=F64)
    losses = []
    for _ in range(30):
        net.clear_grad_and_cache()
        J, dJdy_hat = nyu.mse_loss(y, net.forward(x))
        net.backward(dJdy_hat)
        net.backward(dJdy_hat)  # twice on one forward pass: nothing changed, allowed as before
        for name in net.parameters:
            net.parameters[name] -= 0.1 * net.grads[f"dJd{name}"]
        losses.append(J.item())
    assert losses[-1] < losses[0]


# --- helpers.mynet -------------------------------------------------------------------------------

def mynet_after_forward(seed=0):
    torch.manual_seed(seed)
    model = MyNet([2, 3, 2]).double()
    x, y = torch.randn(4, 2, dtype=F64), torch.randn(4, 2, dtype=F64)
    return model, x, y, model(x)


def test_backpropagation_refuses_an_sgd_step_without_a_new_forward_pass():
    model, x, y, y_pred = mynet_after_forward()
    backpropagation(model, y, y_pred)
    manual_sgd_step(model, 0.1)  # new weights, old activations: the gradients would be off (issue: by 5.8)
    with pytest.raises(RuntimeError, match=f"backpropagation\\(\\): parameter fc.1.weight was modified in place "
                                           f"{STALE}"):
        backpropagation(model, y, y_pred)
    y_pred = model(x)  # the fix the message names
    backpropagation(model, y, y_pred)
    autograd = torch.autograd.grad(((y - model(x)) ** 2).sum(), list(model.parameters()))
    for ours, reference in zip(named_gradients(model).values(), autograd):
        torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("change, name", [
    (lambda model, x, y_pred: x.mul_(10), "a\\[0\\]"),
    (lambda model, x, y_pred: y_pred.add_(1.0), "a\\[2\\]"),
    (lambda model, x, y_pred: model.fc["2"].bias.add_(1.0), "parameter fc.2.bias"),
])
def test_backpropagation_refuses_any_recorded_tensor_changed_in_place(change, name):
    model, x, y, y_pred = mynet_after_forward()
    with torch.no_grad():
        change(model, x, y_pred)
    with pytest.raises(RuntimeError, match=f"{name} was modified in place"):
        backpropagation(model, y, y_pred)


def test_a_copy_keeps_a_current_forward_pass_and_drops_a_stale_one():
    model, x, y, y_pred = mynet_after_forward()
    twin = copy.deepcopy(model)
    backpropagation(twin, y, twin.a[twin.L])  # current when copied: usable
    manual_sgd_step(twin, 0.1)
    with pytest.raises(RuntimeError, match="modified in place"):
        backpropagation(twin, y, twin.a[twin.L])
    stale_copy = copy.deepcopy(twin)
    with pytest.raises(RuntimeError, match="no stored forward pass"):
        backpropagation(stale_copy, y, y_pred)
