"""helpers.layers: shapes, gradients (autograd and central differences, float64), SGD inside backward,
eval mode, numerically safe BCE, clear errors for bad input; and CSE 849 Project 1 §2.2–2.3 (issue 13): the
course's own training loop and names work on these classes.

The course trains its three-layer MLP with a loop of four statements: the model's forward pass, the loss
called like a function, the loss's backward (no argument: the gradient starts there), the model's backward
(which also takes each Linear's SGD step). Its base class takes the learning rate first and names the
weight, the learning rate, the train/eval flag, the weight gradient and the forward pass's keepsakes
``weight``, ``lr``, ``eval_mode``, ``grad`` and ``grad_comps``. The tests below state that contract in our
words; they also check the course's tips as the notebook shows them (loops first, a known gradient).
"""
import math

import pytest
import torch
import torch.nn.functional as F

from helpers import layers
from helpers.checks.nb02_mlp import all_pass, check_activation, check_layers_mlp, check_linear, check_loss, max_error
from helpers.gradcheck import AUTOGRAD_TOLERANCE, compare
from helpers.layers import (BCELoss, Identity, Layer, Linear, MLP, MSELoss, ReLU, Sequential, Sigmoid, Tanh,
                            linear_backward, linear_backward_loops)

F64 = torch.float64


def random_sizes(count, seed, max_size=7):
    """``count`` random (batch, d_in, hidden, d_out) tuples, batch 1 always among them."""
    g = torch.Generator().manual_seed(seed)
    sizes = [tuple(int(v) for v in torch.randint(1, max_size + 1, (4,), generator=g)) for _ in range(count)]
    return [(1,) + sizes[0][1:]] + sizes[1:]


SIZES = random_sizes(8, seed=3)


def assert_gradients_ok(check):
    auto, num = max_error([check], "autograd"), max_error([check], "numerical")
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
    assert max_error([check], "autograd") > 0.5 and max_error([check], "numerical") > 0.5
    assert not all_pass([check])


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


# =========================================================================== the CSE 849 course's pipeline

def regression_batches(seed=0, n=48, batch=16):
    """A small smooth 2-D regression, y = sin(x1) + x1 x2 / 2, cut into mini-batches like a data loader."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, dtype=F64, generator=g) * 4 - 2
    y = (torch.sin(x[:, :1]) + x[:, :1] * x[:, 1:] / 2)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)], x, y


def autograd_weight_gradients(model, x, y):
    """dL/d(weight), dL/d(bias) of the MSE for every Linear of ``model``, by autograd on copies of its parameters."""
    params = {name: p.detach().clone().requires_grad_(True) for name, p in model.parameters().items()}
    h = x
    for i in (1, 2, 3):
        h = h @ params[f"layer{i}.weight"] + params[f"layer{i}.bias"]
        h = torch.relu(h) if i < 3 else h
    F.mse_loss(h, y).backward()
    return {name: p.grad for name, p in params.items()}


# --------------------------------------------------------------------------- the course's loop
def test_the_course_loop_trains_the_three_layer_mlp_with_exactly_the_manual_sgd_rule():
    lr = 0.05
    model = MLP(2, 1, 16, lr, dtype=F64, generator=torch.Generator().manual_seed(1))
    loss_fn = MSELoss()
    batches, x_all, y_all = regression_batches()
    first_loss = loss_fn(model(x_all), y_all).item()
    for epoch in range(4):
        for X, y in batches:
            before = {name: p.clone() for name, p in model.parameters().items()}
            expected = autograd_weight_gradients(model, X, y)
            # the course's four statements, as written
            out = model.forward(X)
            loss = loss_fn(out, y)
            grad = loss_fn.backward()
            model.backward(grad)
            assert loss.ndim == 0 and torch.isfinite(loss)
            for i in (1, 2, 3):
                layer = getattr(model, f"layer{i}")
                for key, gradient in (("weight", layer.grad), ("bias", layer.grad_bias)):
                    name = f"layer{i}.{key}"
                    torch.testing.assert_close(gradient, expected[name], rtol=1e-12, atol=1e-14)
                    # the step is param <- param - lr * gradient, up to the rounding of one multiply-add
                    step = before[name] - lr * gradient
                    bound = 2 * torch.finfo(F64).eps * (before[name].abs() + lr * gradient.abs())
                    assert ((model.parameters()[name] - step).abs() <= bound).all(), name
                    assert not torch.equal(model.parameters()[name], before[name]), f"{name} did not move"
    final_loss = loss_fn(model(x_all), y_all).item()
    assert final_loss < 0.1 * first_loss, (first_loss, final_loss)


def test_the_course_loop_runs_with_a_sequential_built_like_the_course_mlp():
    """The loop knows nothing of MLP: any Sequential of our layers (here with a sigmoid and BCE) runs it."""
    g = torch.Generator().manual_seed(3)
    model = Sequential(layer1=Linear(2, 4, 0.5, dtype=F64, generator=g), act1=ReLU(),
                       layer2=Linear(4, 1, 0.5, dtype=F64, generator=g), act2=Sigmoid())
    loss_fn = BCELoss()
    x = torch.randn(32, 2, dtype=F64, generator=g)
    y = (x[:, :1] > 0).to(F64)
    values = []
    for _ in range(30):
        out = model.forward(x)
        values.append(loss_fn(out, y).item())
        grad = loss_fn.backward()
        model.backward(grad)
    assert values[-1] < 0.7 * values[0]


# --------------------------------------------------------------------------- callables
def test_layers_losses_and_the_mlp_are_callable_and_calling_is_forward():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, dtype=F64, generator=g)
    for layer in (Linear(3, 2, 0.1, dtype=F64, generator=g), ReLU(), MLP(3, 2, 4, 0.1, dtype=F64)):
        assert torch.equal(layer(x), layer.forward(x))
        assert layer.backward(torch.ones(5, 2 if not isinstance(layer, ReLU) else 3, dtype=F64)).shape == x.shape
    y = torch.zeros(5, 3, dtype=F64)
    loss_fn = MSELoss()
    assert loss_fn(x, y).item() == pytest.approx((x ** 2).mean().item(), rel=1e-15)
    torch.testing.assert_close(loss_fn.backward(), 2 * x / x.numel(), rtol=1e-15, atol=0)


def test_calling_keeps_the_stale_state_checks():
    layer = Linear(2, 1, 0.1, dtype=F64)
    x = torch.ones(3, 2, dtype=F64)
    layer(x)
    x.mul_(2)
    with pytest.raises(RuntimeError, match="its input x was modified in place"):
        layer.backward(torch.ones(3, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"expected shape \(any, 2\)"):
        layer(torch.ones(3, 5, dtype=F64))  # the same input checks as forward


# --------------------------------------------------------------------------- Layer(lr)
def test_the_base_class_takes_the_learning_rate_first():
    assert Layer(0.25).lr == 0.25 and Layer(lr=0.5).lr == 0.5
    assert Layer().lr is None and ReLU().lr is None  # parameter-free layers need none
    assert Linear(3, 2, 0.1).lr == 0.1 and Linear(3, 2, lr=0.2).lr == 0.2  # the existing signature stays
    with pytest.raises(ValueError, match="lr"):
        Layer(-1.0)
    with pytest.raises(NotImplementedError, match="Layer does not define forward"):
        Layer(0.1)(torch.ones(1))


def test_a_layer_written_the_course_way_on_our_base_class():
    """A student's layer: Layer(lr) in __init__, weight from a normal draw, grad set in backward, SGD by hand."""
    class Scale(Layer):
        _saved_names = ("its input x",)

        def __init__(self, lr):
            super().__init__(lr)
            self.weight = torch.randn(1, dtype=F64, generator=torch.Generator().manual_seed(0))

        def forward(self, x):
            self._save(x)
            return x * self.weight

        def backward(self, grad):
            (x,) = self._take_saved()
            self.grad = (grad * x).sum().reshape(1)
            grad_for_next = grad * self.weight
            self.weight -= self.lr * self.grad
            return grad_for_next

    layer, x = Scale(0.1), torch.arange(1.0, 4.0, dtype=F64)
    w0 = layer.weight.clone()
    layer(x)
    assert torch.equal(layer.grad_comps["x"], x)
    layer.backward(torch.ones(3, dtype=F64))
    assert layer.grad.item() == 6.0 and layer.grad is layer.grad_weight
    assert torch.equal(layer.weight, w0 - 0.1 * 6.0)


# --------------------------------------------------------------------------- the course's names
def test_weight_is_the_d_in_by_d_out_matrix_and_parameter_free_layers_have_none():
    layer = Linear(3, 2, 0.1)
    assert layer.weight.shape == (3, 2) and layer.parameters()["weight"] is layer.weight
    assert ReLU().weight is None and MSELoss().weight is None and MLP(2, 1, 3, 0.1).weight is None


def test_eval_mode_is_the_flag_train_and_eval_set():
    for layer in (Linear(3, 2, 0.1), ReLU(), MSELoss(), MLP(2, 1, 3, 0.1)):
        assert layer.eval_mode is False
        assert layer.eval().eval_mode is True
        assert layer.train().eval_mode is False


def test_grad_is_the_weight_gradient_of_the_last_backward():
    g = torch.Generator().manual_seed(2)
    layer = Linear(3, 2, 0.0, dtype=F64, generator=g)
    assert layer.grad is None  # no backward yet
    x, upstream = torch.randn(4, 3, dtype=F64, generator=g), torch.randn(4, 2, dtype=F64, generator=g)
    layer(x)
    layer.backward(upstream)
    assert layer.grad is layer.grad_weight and layer.grad.shape == layer.weight.shape
    torch.testing.assert_close(layer.grad, x.T @ upstream, rtol=1e-14, atol=1e-14)
    assert ReLU().grad is None and MLP(2, 1, 3, 0.1).grad is None


def test_grad_comps_is_what_forward_kept_until_backward_uses_it():
    g = torch.Generator().manual_seed(4)
    layer = Linear(3, 2, 0.1, dtype=F64, generator=g)
    assert layer.grad_comps is None
    x = torch.randn(4, 3, dtype=F64, generator=g)
    layer(x)
    comps = layer.grad_comps
    assert list(comps) == ["x", "weight", "bias"]
    assert comps["x"] is x and comps["weight"] is layer.weight and comps["bias"] is layer.bias
    layer.backward(torch.ones(4, 2, dtype=F64))
    assert layer.grad_comps is None  # consumed
    relu = ReLU()
    y = relu(x)
    assert list(relu.grad_comps) == ["y"] and relu.grad_comps["y"] is y
    loss_fn, target = MSELoss(), torch.zeros(4, 3, dtype=F64)
    loss_fn(x, target)
    assert loss_fn.grad_comps["y_hat"] is x and loss_fn.grad_comps["y"] is target
    relu.eval()
    relu(x)
    assert relu.grad_comps is None  # eval mode keeps nothing
    with pytest.raises(AttributeError):
        relu.grad_comps = {"y": y}  # a read-only view of the saved tensors


def test_grad_comps_edited_in_place_is_refused_by_backward():
    layer = Linear(2, 2, 0.1, dtype=F64)
    layer(torch.ones(3, 2, dtype=F64))
    layer.grad_comps["x"].add_(1.0)
    with pytest.raises(RuntimeError, match="its input x was modified in place"):
        layer.backward(torch.ones(3, 2, dtype=F64))


def test_every_public_name_stays_importable_from_helpers_layers():
    for name in ("Layer", "Linear", "Activation", "ReLU", "Sigmoid", "Tanh", "Identity", "Loss", "MSELoss",
                 "BCELoss", "Sequential", "MLP", "mse", "bce", "linear_forward", "linear_backward", "check_pair",
                 "check_probabilities"):
        assert hasattr(layers, name), name
    assert layers.Layer.__module__ == layers.MSELoss.__module__ == "helpers.layers"


# --------------------------------------------------------------------------- the course's tips
def test_the_loop_version_of_the_linear_backward_equals_the_vectorised_one():
    g = torch.Generator().manual_seed(5)
    x, w = torch.randn(4, 3, dtype=F64, generator=g), torch.randn(3, 2, dtype=F64, generator=g)
    upstream = torch.randn(4, 2, dtype=F64, generator=g)
    for name, slow, fast in zip(("x", "weight", "bias"), linear_backward_loops(upstream, x, w),
                                linear_backward(upstream, x, w)):
        assert compare(name, slow, fast, AUTOGRAD_TOLERANCE).passed, name
    # a single entry by hand: dL/dW[1, 0] = sum_n x[n, 1] G[n, 0]
    assert linear_backward_loops(upstream, x, w)[1][1, 0].item() == pytest.approx(
        sum(x[n, 1].item() * upstream[n, 0].item() for n in range(4)), rel=1e-14)


@pytest.mark.parametrize("args, message", [
    ((torch.ones(2, 2), torch.ones(3), torch.ones(3, 2)), r"x: expected shape \(any, any\)"),
    ((torch.ones(2, 2), torch.ones(2, 3), torch.ones(4, 2)), r"weight: expected shape \(3, any\)"),
    ((torch.ones(5, 2), torch.ones(2, 3), torch.ones(3, 2)), r"grad_out: expected shape \(2, 2\)"),
    ((torch.ones(2, 2), torch.ones(2, 3), torch.ones(3, 2, dtype=F64)), "weight: expected dtype torch.float32"),
])
def test_the_loop_version_rejects_mismatched_shapes(args, message):
    with pytest.raises(ValueError, match=message):
        linear_backward_loops(*args)


def test_minimising_half_the_squared_norm_of_the_output_pulls_it_to_the_origin():
    """The course's known-gradient check: for L = ½‖out‖², dL/d(out) = out, and SGD shrinks ‖out‖."""
    g = torch.Generator().manual_seed(6)
    layer = Linear(3, 2, 0.05, dtype=F64, generator=g)
    x = torch.randn(5, 3, dtype=F64, generator=g)
    out = layer(x)
    norm_loss = MSELoss()  # mean of out² against zero: ½‖out‖² is numel/2 times it
    norm_loss(out, torch.zeros_like(out))
    assert compare("dL/dout", norm_loss.backward() * (out.numel() / 2), out, AUTOGRAD_TOLERANCE).passed
    norms = []
    for _ in range(15):
        out = layer(x)
        norms.append(out.norm().item())
        layer.backward(out)  # the known gradient
    assert all(b < a for a, b in zip(norms, norms[1:])) and norms[-1] < 0.2 * norms[0]


@pytest.mark.parametrize("module", [layers])
def test_the_split_out_modules_use_no_autograd_either(module):
    import inspect

    from test_mlp import autograd_uses  # the detector test_mlp.py applies to helpers.layers
    assert autograd_uses(inspect.getsource(module)) == []
