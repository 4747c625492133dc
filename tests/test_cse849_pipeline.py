"""CSE 849 Project 1 §2.2–2.3, item 2 of issue 13: the course's own training loop and names work on our classes.

The course trains its three-layer MLP with a loop of four statements: the model's forward pass, the loss
called like a function, the loss's backward (no argument: the gradient starts there), the model's backward
(which also takes each Linear's SGD step). Its base class takes the learning rate first and names the
weight, the learning rate, the train/eval flag, the weight gradient and the forward pass's keepsakes
``weight``, ``lr``, ``eval_mode``, ``grad`` and ``grad_comps``. The tests below state that contract in our
words; they also check the course's tips as the notebook shows them (loops first, a known gradient).
"""
import pytest
import torch
import torch.nn.functional as F

from helpers import layers
from helpers.layers import linear_backward, linear_backward_loops
from helpers.gradcheck import AUTOGRAD_TOLERANCE, compare
from helpers.layers import BCELoss, Layer, Linear, MLP, MSELoss, ReLU, Sequential, Sigmoid

F64 = torch.float64


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
