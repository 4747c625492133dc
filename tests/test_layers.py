"""helpers.layers: shapes, gradients (autograd and central differences, float64), SGD inside backward,
eval mode, numerically safe BCE, and clear errors for bad input."""
import math

import pytest
import torch
import torch.nn.functional as F

from helpers import layers
from helpers.layers import BCELoss, Identity, Linear, MLP, MSELoss, ReLU, Sigmoid, Tanh
from helpers.checks.nb02_mlp import (check_activation, check_layers_mlp, check_linear, check_loss)

F64 = torch.float64


def random_sizes(count, seed, max_size=7):
    """``count`` random (batch, d_in, hidden, d_out) tuples, batch 1 always among them."""
    g = torch.Generator().manual_seed(seed)
    sizes = [tuple(int(v) for v in torch.randint(1, max_size + 1, (4,), generator=g)) for _ in range(count)]
    return [(1,) + sizes[0][1:]] + sizes[1:]


SIZES = random_sizes(8, seed=3)


def assert_gradients_ok(check):
    auto, num = check.max_error("autograd"), check.max_error("numerical")
    assert auto <= 1e-10, f"{check.name}: relative error vs autograd {auto:.2e}"
    assert num <= 1e-6, f"{check.name}: relative error vs central differences {num:.2e}"


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("batch, d_in, _, d_out", SIZES)
def test_linear_gradients_match_autograd_and_finite_differences(batch, d_in, _, d_out):
    check = check_linear(batch, d_in, d_out, torch.Generator().manual_seed(batch * 100 + d_in))
    assert check.analytic["weight"].shape == (d_in, d_out) and check.analytic["x"].shape == (batch, d_in)
    assert_gradients_ok(check)


@pytest.mark.parametrize("kind", ["relu", "sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("batch, _, width, __", SIZES[:4])
def test_activation_gradients(kind, batch, _, width, __):
    assert_gradients_ok(check_activation(kind, batch, width, torch.Generator().manual_seed(batch + width)))


@pytest.mark.parametrize("kind", ["mse", "bce"])
@pytest.mark.parametrize("batch, _, width, __", SIZES[:4])
def test_loss_gradients(kind, batch, _, width, __):
    assert_gradients_ok(check_loss(kind, batch, width, torch.Generator().manual_seed(batch * width)))


@pytest.mark.parametrize("batch, d_in, hidden, d_out", SIZES)
def test_mlp_gradients_match_its_autograd_twin(batch, d_in, hidden, d_out):
    check = check_layers_mlp(batch, d_in, hidden, d_out, torch.Generator().manual_seed(7 * batch + hidden))
    assert set(check.analytic) == {"X", "layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias",
                                   "layer3.weight", "layer3.bias"}
    assert_gradients_ok(check)


def test_a_wrong_backward_is_caught(monkeypatch):
    """The checks can fail: a ReLU backward that forgets the mask is flagged."""
    monkeypatch.setitem(layers.ACTIVATIONS, "relu", (layers.relu, layers.identity_backward))
    check = check_activation("relu", 4, 5, torch.Generator().manual_seed(0))
    assert check.max_error("autograd") > 0.5 and check.max_error("numerical") > 0.5
    assert not check.passed


# --------------------------------------------------------------------------- Linear
def test_linear_shapes_and_he_initialisation():
    layer = Linear(400, 300, lr=0.1, generator=torch.Generator().manual_seed(0))
    assert layer.weight.shape == (400, 300) and layer.bias.shape == (300,)
    assert layer.weight.dtype == torch.get_default_dtype()
    assert abs(layer.weight.std().item() / math.sqrt(2 / 400) - 1) < 0.02
    assert abs(layer.weight.mean().item()) < 0.01 * math.sqrt(2 / 400)
    assert 0 < layer.bias.std().item() < 0.05
    assert layer.forward(torch.randn(5, 400)).shape == (5, 300)


def test_linear_forward_is_x_at_w_plus_b():
    generator = torch.Generator().manual_seed(0)
    layer = Linear(3, 2, lr=0.0, dtype=F64, generator=generator)
    x = torch.randn(4, 3, dtype=F64, generator=generator)
    # addmm may round differently from @ then +: equal up to a few ulps of the terms' magnitude
    bound = 4 * torch.finfo(F64).eps * (x.abs() @ layer.weight.abs() + layer.bias.abs())
    assert ((layer.forward(x) - (x @ layer.weight + layer.bias)).abs() <= bound).all()


def test_linear_backward_sums_the_batch_and_applies_sgd():
    g = torch.Generator().manual_seed(1)
    layer = Linear(3, 2, lr=0.25, dtype=F64, generator=g)
    w0, b0 = layer.weight.clone(), layer.bias.clone()
    x, grad = torch.randn(5, 3, dtype=F64, generator=g), torch.randn(5, 2, dtype=F64, generator=g)
    layer.forward(x)
    grad_x = layer.backward(grad)
    per_example = sum(torch.outer(x[i], grad[i]) for i in range(5))  # no 1/batch inside the layer
    torch.testing.assert_close(layer.grad_weight, per_example, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(layer.grad_bias, grad.sum(0), rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(grad_x, grad @ w0.T, rtol=1e-14, atol=1e-14)  # the weight before the step
    torch.testing.assert_close(layer.weight, w0 - 0.25 * layer.grad_weight, rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(layer.bias, b0 - 0.25 * layer.grad_bias, rtol=1e-15, atol=1e-15)


def test_relu_gradient_is_zero_at_the_kink_like_torch():
    x = torch.tensor([[-1.0, 0.0, 2.0]], dtype=F64)
    relu = ReLU()
    relu.forward(x)
    grad = relu.backward(torch.ones_like(x))
    leaf = x.clone().requires_grad_(True)
    torch.relu(leaf).sum().backward()
    assert torch.equal(grad, leaf.grad) and grad.tolist() == [[0.0, 0.0, 1.0]]


@pytest.mark.parametrize("cls, reference", [(ReLU, torch.relu), (Sigmoid, torch.sigmoid), (Tanh, torch.tanh),
                                            (Identity, lambda t: t)])
def test_activation_forward_matches_torch(cls, reference):
    x = torch.linspace(-30, 30, 121, dtype=F64).reshape(11, 11)
    assert torch.equal(cls().forward(x), reference(x))


# --------------------------------------------------------------------------- losses
def test_mse_matches_torch():
    y_hat, y = torch.randn(6, 3, dtype=F64), torch.randn(6, 3, dtype=F64)
    loss = MSELoss()
    torch.testing.assert_close(loss.forward(y_hat, y), F.mse_loss(y_hat, y), rtol=1e-15, atol=0)


def test_bce_saturated_predictions_match_torch_exactly():
    """y_hat exactly 0 and 1 (a saturated sigmoid): log clamped at -100, gradient finite, as torch."""
    y_hat = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.3, 1e-300]], dtype=F64)
    y = torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]], dtype=F64)
    loss = BCELoss()
    value = loss.forward(y_hat, y)
    grad = loss.backward()
    leaf = y_hat.clone().requires_grad_(True)
    reference = F.binary_cross_entropy(leaf, y)
    reference.backward()
    assert torch.equal(value, reference.detach()) and torch.isfinite(value)
    assert math.isclose(value.item(), (100 + 100 + 0 + 0 - math.log(0.3) + 100) / 6, rel_tol=1e-15)
    assert torch.isfinite(grad).all()
    assert torch.equal(grad, leaf.grad)


def test_bce_matches_torch_on_random_probabilities():
    g = torch.Generator().manual_seed(5)
    y_hat, y = torch.rand(7, 4, dtype=F64, generator=g), torch.rand(7, 4, dtype=F64, generator=g)
    torch.testing.assert_close(BCELoss().forward(y_hat, y), F.binary_cross_entropy(y_hat, y), rtol=1e-15, atol=0)


@pytest.mark.parametrize("bad", [torch.tensor([[1.5]]), torch.tensor([[-0.1]]), torch.tensor([[float("nan")]])])
def test_bce_rejects_values_outside_zero_one(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BCELoss().forward(bad, torch.tensor([[1.0]]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BCELoss().forward(torch.tensor([[0.5]]), bad)


# --------------------------------------------------------------------------- MLP
def test_mlp_has_the_course_structure():
    model = MLP(2, 3, 10, lr=0.01)
    assert [type(getattr(model, n)) for n in ("layer1", "act1", "layer2", "act2", "layer3")] == [
        Linear, ReLU, Linear, ReLU, Linear]
    assert (model.layer1.weight.shape, model.layer2.weight.shape, model.layer3.weight.shape) == (
        (2, 10), (10, 10), (10, 3))
    assert model.forward(torch.randn(4, 2)).shape == (4, 3)
    assert model.lr == 0.01
    model.lr = 0.5
    assert {model.layer1.lr, model.layer2.lr, model.layer3.lr} == {0.5}


def test_mlp_snapshot_and_load_parameters_round_trip():
    model = MLP(2, 1, 4, lr=0.1)
    saved = model.snapshot()
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    loss = MSELoss()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    assert not torch.equal(model.layer1.weight, saved["layer1.weight"])
    model.load_parameters(saved)
    assert all(torch.equal(model.parameters()[k], v) for k, v in saved.items())
    with pytest.raises(ValueError, match="parameter names"):
        model.load_parameters({"layer1.weight": saved["layer1.weight"]})


# --------------------------------------------------------------------------- eval mode
@pytest.mark.parametrize("make", [lambda: Linear(3, 2, 0.1), ReLU, Sigmoid, Tanh, lambda: MLP(3, 2, 4, 0.1)])
def test_eval_mode_keeps_nothing_and_backward_raises(make):
    layer = make()
    x = torch.randn(4, 3)
    train_out = layer.forward(x)
    assert layer.eval() is layer and layer.eval_mode
    assert torch.equal(layer.forward(x), train_out)
    with pytest.raises(RuntimeError, match="eval mode"):
        layer.backward(torch.ones_like(train_out))
    layer.train()
    assert not layer.eval_mode
    with pytest.raises(RuntimeError, match="before forward"):  # the eval forward kept nothing
        layer.backward(torch.ones_like(train_out))


def test_loss_in_eval_mode_computes_but_has_no_backward():
    loss = MSELoss().eval()
    assert loss.forward(torch.zeros(2, 1), torch.ones(2, 1)).item() == 1.0
    with pytest.raises(RuntimeError, match="eval mode"):
        loss.backward()


# --------------------------------------------------------------------------- bad input
def test_backward_before_forward_and_twice():
    layer = Linear(3, 2, 0.1)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(torch.ones(1, 2))
    layer.forward(torch.randn(1, 3))
    layer.backward(torch.ones(1, 2))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(torch.ones(1, 2))
    with pytest.raises(RuntimeError, match="before forward"):
        MSELoss().backward()
    with pytest.raises(RuntimeError, match="before forward"):
        MLP(2, 1, 3, 0.1).backward(torch.ones(1, 1))


@pytest.mark.parametrize("x, message", [
    (torch.randn(4, 5), r"expected shape \(any, 3\), got \(4, 5\)"),
    (torch.randn(3), r"expected shape \(any, 3\), got \(3,\)"),
    (torch.randn(4, 3, dtype=F64), "expected dtype torch.float32"),
    (torch.ones(4, 3, dtype=torch.int64), "floating-point"),
    ([[1.0, 2.0, 3.0]], "torch.Tensor"),
])
def test_linear_forward_rejects_bad_input(x, message):
    with pytest.raises(ValueError, match=message):
        Linear(3, 2, 0.1).forward(x)


def test_backward_rejects_gradients_of_the_wrong_shape_or_dtype():
    layer = Linear(3, 2, 0.1)
    layer.forward(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"expected shape \(4, 2\)"):
        layer.backward(torch.ones(4, 3))
    relu = ReLU()
    relu.forward(torch.randn(4, 3))
    with pytest.raises(ValueError, match="dtype"):
        relu.backward(torch.ones(4, 3, dtype=F64))


@pytest.mark.parametrize("loss", [MSELoss, BCELoss])
def test_losses_refuse_to_broadcast(loss):
    with pytest.raises(ValueError, match=r"reshape targets"):
        loss().forward(torch.full((4, 1), 0.5), torch.full((4,), 0.5))
    with pytest.raises(ValueError, match="dtype"):
        loss().forward(torch.full((4, 1), 0.5), torch.full((4, 1), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="empty"):
        loss().forward(torch.zeros(0, 1), torch.zeros(0, 1))


@pytest.mark.parametrize("args, message", [((0, 2, 0.1), "d_in"), ((2, 2.5, 0.1), "d_out"),
                                           ((2, 2, -1.0), "lr"), ((2, 2, float("nan")), "lr")])
def test_linear_rejects_bad_construction(args, message):
    with pytest.raises(ValueError, match=message):
        Linear(*args)


def test_linear_forward_rejects_a_tensor_on_another_device():
    layer = Linear(3, 2, 0.1, device="meta")  # a device without data: enough to see the check
    with pytest.raises(ValueError, match="expected a tensor on meta"):
        layer.forward(torch.randn(4, 3))


# --------------------------------------------------------------------------- dtypes and loading (issue 12)
@pytest.mark.parametrize("dtype, error, message", [
    (torch.int64, ValueError, "dtype must be a real floating-point dtype.*got torch.int64"),
    (torch.complex64, ValueError, "got torch.complex64"),
    (torch.bool, ValueError, "got torch.bool"),
    ("float32", TypeError, "dtype must be a torch.dtype"),
])
def test_linear_and_mlp_refuse_dtypes_they_cannot_run_in(dtype, error, message):
    with pytest.raises(error, match=message):
        Linear(3, 2, 0.1, dtype=dtype)
    with pytest.raises(error, match=message):
        MLP(3, 1, 4, 0.1, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, F64])
def test_linear_runs_in_every_accepted_dtype(dtype):
    layer = Linear(3, 2, 0.1, dtype=dtype)
    out = layer.forward(torch.randn(4, 3).to(dtype))
    assert out.dtype == dtype and layer.backward(torch.ones_like(out)).dtype == dtype


def test_load_parameters_refuses_a_cast_non_finite_values_or_another_device_and_changes_nothing():
    model = MLP(2, 1, 4, lr=0.1, dtype=F64)
    before = model.snapshot()
    shifted = {k: v + 1 for k, v in before.items()}  # valid values: only the one bad entry is refused
    bad_cases = [
        ({k: v.float() for k, v in shifted.items()}, "expected dtype torch.float64"),  # no silent cast
        ({**shifted, "layer3.bias": torch.full((1,), float("nan"), dtype=F64)}, "layer3.bias: expected finite"),
        ({**shifted, "layer2.weight": torch.full_like(before["layer2.weight"], float("inf"))}, "expected finite"),
        ({**shifted, "layer3.bias": before["layer3.bias"].to("meta")}, "expected a tensor on cpu"),
        ({**shifted, "layer3.weight": [[0.0]] * 4}, "torch.Tensor"),
    ]
    for values, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            model.load_parameters(values)
        assert all(torch.equal(p, before[k]) for k, p in model.parameters().items()), message
