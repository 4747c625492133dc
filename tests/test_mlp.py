"""helpers.mlp, the NYU CSCI-GA 2572 HW1 API: names and shapes, gradients for every f/g and both
losses (autograd and central differences, float64), the graders' float32 scenario, saturated BCE,
one shared implementation with helpers.layers, no autograd, and clear errors for bad input."""
import ast
import inspect
import itertools
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import layers, mlp
from helpers.mlp import MLP, bce_loss, mse_loss
from helpers.checks.nb02_mlp import check_nyu, max_error

F64 = torch.float64
FUNCTIONS = ["relu", "sigmoid", "identity", "tanh"]


def test_parameters_grads_and_cache_have_the_nyu_names_and_shapes():
    net = MLP(linear_1_in_features=2, linear_1_out_features=20, f_function="relu",
              linear_2_in_features=20, linear_2_out_features=5, g_function="identity")
    assert {k: tuple(v.shape) for k, v in net.parameters.items()} == {
        "W1": (20, 2), "b1": (20,), "W2": (5, 20), "b2": (5,)}
    assert {k: tuple(v.shape) for k, v in net.grads.items()} == {
        "dJdW1": (20, 2), "dJdb1": (20,), "dJdW2": (5, 20), "dJdb2": (5,)}
    assert net.cache == {} and net.f_function == "relu" and net.g_function == "identity"
    assert net.forward(torch.randn(10, 2)).shape == (10, 5)


@pytest.mark.parametrize("f, g", list(itertools.product(FUNCTIONS, FUNCTIONS)))
def test_mse_gradients_for_every_f_g(f, g):
    gen = torch.Generator().manual_seed(FUNCTIONS.index(f) * 4 + FUNCTIONS.index(g))
    for batch, sizes in [(1, (3, 4, 2)), (6, (2, 5, 3))]:
        check = check_nyu(f, g, "mse", batch, sizes, gen)
        assert max_error([check], "autograd") <= 1e-10, check.name
        assert max_error([check], "numerical") <= 1e-6, check.name


@pytest.mark.parametrize("f", FUNCTIONS)
def test_bce_gradients_for_every_f_with_a_sigmoid_output(f):
    gen = torch.Generator().manual_seed(10 + FUNCTIONS.index(f))
    for batch, sizes in [(1, (3, 4, 2)), (7, (2, 6, 1))]:
        check = check_nyu(f, "sigmoid", "bce", batch, sizes, gen)
        assert max_error([check], "autograd") <= 1e-10, check.name
        assert max_error([check], "numerical") <= 1e-6, check.name


@pytest.mark.parametrize("loss, g", [("mse", "identity"), ("bce", "sigmoid")])
def test_the_graders_float32_scenario(loss, g):
    """As the course's hidden tests do: copy W/b into nn.Linear, compare gradients in float32."""
    torch.manual_seed(0)
    net = MLP(2, 20, "relu", 20, 5, g)
    x = torch.randn(10, 2)
    y = torch.randn(10, 5) if loss == "mse" else (torch.randn(10, 5) < 0.5).float()
    net.clear_grad_and_cache()
    J, dJdy_hat = (mse_loss if loss == "mse" else bce_loss)(y, net.forward(x))
    net.backward(dJdy_hat)
    reference = nn.Sequential(OrderedDict([("linear1", nn.Linear(2, 20)), ("relu", nn.ReLU()),
                                           ("linear2", nn.Linear(20, 5))]))
    reference.linear1.weight.data = net.parameters["W1"]
    reference.linear1.bias.data = net.parameters["b1"]
    reference.linear2.weight.data = net.parameters["W2"]
    reference.linear2.bias.data = net.parameters["b2"]
    y_hat = reference(x) if g == "identity" else torch.sigmoid(reference(x))
    J_ref = F.mse_loss(y_hat, y) if loss == "mse" else F.binary_cross_entropy(y_hat, y)
    reference.zero_grad()
    J_ref.backward()
    assert (J - J_ref).abs() < 1e-6
    for ours, theirs in [("dJdW1", reference.linear1.weight), ("dJdb1", reference.linear1.bias),
                         ("dJdW2", reference.linear2.weight), ("dJdb2", reference.linear2.bias)]:
        assert (net.grads[ours] - theirs.grad).norm() < 1e-6, ours


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_losses_match_torch_including_saturated_sigmoids(dtype):
    y_hat = torch.tensor([[0.0, 1.0, 0.25], [1.0, 0.0, 0.999]], dtype=dtype)
    y = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.5]], dtype=dtype)
    for ours, theirs in [(bce_loss, F.binary_cross_entropy), (mse_loss, F.mse_loss)]:
        leaf = y_hat.clone().requires_grad_(True)
        J_ref = theirs(leaf, y)
        J_ref.backward()
        J, dJdy_hat = ours(y, y_hat)
        assert torch.equal(J, J_ref.detach()), ours.__name__
        assert torch.equal(dJdy_hat, leaf.grad), ours.__name__
        assert torch.isfinite(dJdy_hat).all()


def test_backward_fills_grads_without_updating_parameters():
    net = MLP(3, 4, "sigmoid", 4, 2, "identity")
    before = {k: v.clone() for k, v in net.parameters.items()}
    _, dJdy_hat = mse_loss(torch.randn(5, 2), net.forward(torch.randn(5, 3)))
    net.backward(dJdy_hat)
    assert all(torch.equal(net.parameters[k], v) for k, v in before.items())
    assert all(net.grads[k].abs().sum() > 0 for k in net.grads)


def test_clear_grad_and_cache():
    net = MLP(3, 4, "relu", 4, 2, "identity")
    _, dJdy_hat = mse_loss(torch.randn(5, 2), net.forward(torch.randn(5, 3)))
    net.backward(dJdy_hat)
    assert set(net.cache) >= {"x", "y_hat"}
    net.clear_grad_and_cache()
    assert net.cache == {} and all(not g.any() for g in net.grads.values())
    with pytest.raises(RuntimeError, match="before forward"):
        net.backward(dJdy_hat)


def test_one_implementation_shared_with_the_layer_classes():
    """The NYU net and the layer classes, given the same weights, agree bit for bit."""
    torch.manual_seed(1)
    net = MLP(3, 6, "relu", 6, 2, "sigmoid", dtype=F64)
    first, act, second, out = (layers.Linear(3, 6, 0.0, dtype=F64), layers.ReLU(),
                               layers.Linear(6, 2, 0.0, dtype=F64), layers.Sigmoid())
    first.weight, first.bias = net.parameters["W1"].t().clone(), net.parameters["b1"].clone()
    second.weight, second.bias = net.parameters["W2"].t().clone(), net.parameters["b2"].clone()
    x, y = torch.randn(4, 3, dtype=F64), torch.rand(4, 2, dtype=F64)
    y_hat = net.forward(x)
    assert torch.equal(out.forward(second.forward(act.forward(first.forward(x)))), y_hat)
    _, dJdy_hat = bce_loss(y, y_hat)
    net.backward(dJdy_hat)
    first.backward(act.backward(second.backward(out.backward(dJdy_hat))))
    assert torch.equal(net.grads["dJdW1"], first.grad_weight.t())
    assert torch.equal(net.grads["dJdb2"], second.grad_bias)
    source = inspect.getsource(mlp)
    for name in ("linear_forward", "linear_backward", "mse_backward", "bce_backward"):
        assert getattr(mlp, name) is getattr(layers, name)
        assert f"def {name}" not in source


def autograd_uses(source: str) -> list[str]:
    """Autograd in the code (not in strings): its attributes, ``x.backward()``, torch.nn/autograd imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in {"grad", "requires_grad", "requires_grad_",
                                                             "autograd", "nn", "func", "enable_grad"}:
            found.append(f"line {node.lineno}: .{node.attr}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "backward" and not node.args):
            found.append(f"line {node.lineno}: .backward() with no gradient (autograd's)")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [getattr(node, "module", None) or ""] + [alias.name for alias in node.names]
            found += [f"line {node.lineno}: import {n}" for n in names if n.split(".")[-1] in {"nn", "autograd"}]
    return found


@pytest.mark.parametrize("snippet", ["loss.backward()", "w.requires_grad_(True)", "print(w.grad)",
                                     "from torch import nn", "import torch.autograd", "torch.autograd.grad(l, w)"])
def test_the_autograd_detector_detects(snippet):
    assert autograd_uses(snippet)


@pytest.mark.parametrize("module", [mlp, layers])
def test_no_autograd_anywhere(module):
    assert autograd_uses(inspect.getsource(module)) == []
    with torch.no_grad():  # and it works with autograd switched off
        net = MLP(2, 3, "tanh", 3, 1, "sigmoid")
        _, dJdy_hat = bce_loss(torch.ones(4, 1), net.forward(torch.randn(4, 2)))
        net.backward(dJdy_hat)
    assert all(torch.isfinite(g).all() for g in net.grads.values())


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, message", [
    (dict(f_function="softmax"), "f_function must be one of"),
    (dict(g_function="Relu"), "g_function must be one of"),
    (dict(linear_2_in_features=7), r"linear_2_in_features \(7\) must equal linear_1_out_features \(4\)"),
    (dict(linear_1_in_features=0), "positive int"),
])
def test_constructor_rejects_bad_arguments(kwargs, message):
    args = dict(linear_1_in_features=3, linear_1_out_features=4, f_function="relu",
                linear_2_in_features=4, linear_2_out_features=2, g_function="identity")
    with pytest.raises(ValueError, match=message):
        MLP(**{**args, **kwargs})


def test_forward_and_backward_reject_bad_input():
    net = MLP(3, 4, "relu", 4, 2, "identity")
    with pytest.raises(ValueError, match=r"expected shape \(any, 3\), got \(5, 2\)"):
        net.forward(torch.randn(5, 2))
    with pytest.raises(ValueError, match="dtype torch.float32"):
        net.forward(torch.randn(5, 3, dtype=F64))
    with pytest.raises(RuntimeError, match="before forward"):
        net.backward(torch.ones(5, 2))
    net.forward(torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"expected shape \(5, 2\), got \(5, 3\)"):
        net.backward(torch.ones(5, 3))


def test_losses_reject_bad_input():
    with pytest.raises(ValueError, match="must match exactly"):
        mse_loss(torch.ones(4), torch.ones(4, 1))
    with pytest.raises(ValueError, match="dtype"):
        mse_loss(torch.ones(4, 1, dtype=F64), torch.ones(4, 1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bce_loss(torch.ones(4, 1), torch.full((4, 1), 1.2))


@pytest.mark.parametrize("dtype, error", [(torch.int64, ValueError), (torch.complex64, ValueError),
                                          (torch.float8_e4m3fn, ValueError), ("float64", TypeError)])
def test_constructor_refuses_dtypes_the_network_cannot_run_in(dtype, error):
    with pytest.raises(error, match="dtype must be"):
        MLP(3, 4, "relu", 4, 2, "identity", dtype=dtype)
