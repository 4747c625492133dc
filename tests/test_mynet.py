"""MyNet and the delta rule: structure, agreement with autograd and finite differences, bad input."""
import copy
import random
import types
import warnings

import pytest
import torch
from torch import nn

from helpers.gradcheck import AUTOGRAD_TOLERANCE, autograd_check, autograd_parameter_gradients, finite_difference_check, numerical_gradient, relative_error
from helpers.mynet import ACTIVATION_DERIVATIVES, MyNet, backpropagation, named_gradients

SMOOTH = ("tanh", "sigmoid")


def random_net(seed: int, depth: int, activation, max_width: int = 6) -> MyNet:
    """A float64 MyNet with `depth` layers of random widths 1..max_width, seeded."""
    rng = random.Random(seed)
    n_l = [rng.randint(1, max_width) for _ in range(depth + 1)]
    if activation == "mixed":
        activation = [rng.choice(sorted(ACTIVATION_DERIVATIVES)) for _ in range(depth)]
    torch.manual_seed(seed)
    return MyNet(n_l, activation).double()


def random_batch(model: MyNet, batch_size: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, model.n_l[0], generator=generator, dtype=torch.float64)
    y = torch.randn(batch_size, model.n_l[-1], generator=generator, dtype=torch.float64)
    return x, y


def sse(y_true, y_pred):
    return ((y_true - y_pred) ** 2).sum()


def backpropagated_random_net(seed: int, depth: int, activation, batch_size: int):
    """A random net after one forward pass and backpropagation, and its loss as a closure."""
    model = random_net(seed, depth, activation)
    x, y = random_batch(model, batch_size, seed)
    backpropagation(model, y, model(x))
    return model, lambda: sse(y, model(x))


# --- structure -----------------------------------------------------------------------------------

def test_structure_matches_the_public_api():
    model = MyNet([2, 3, 2])
    assert model.L == 2 and model.n_l == [2, 3, 2]
    assert isinstance(model, nn.Module) and isinstance(model.fc, nn.ModuleDict)
    assert list(model.fc.keys()) == ["1", "2"]
    assert [(m.in_features, m.out_features) for m in model.fc.values()] == [(2, 3), (3, 2)]
    assert set(model.z) == set(model.dL_dw) == set(model.dL_db) == set(model.f) == set(model.df) == {1, 2}
    assert set(model.a) == {0, 1, 2}
    assert all(v is None for d in (model.z, model.a, model.dL_dw, model.dL_db) for v in d.values())
    z = torch.linspace(-3, 3, 7)
    assert all(torch.equal(model.f[l](z), torch.tanh(z)) for l in (1, 2)), "tanh is the default"
    # Only fc holds parameters: what an optimiser and state_dict see.
    assert [name for name, _ in model.named_parameters()] == ["fc.1.weight", "fc.1.bias", "fc.2.weight", "fc.2.bias"]


def test_a_model_after_a_forward_pass_can_be_deep_copied():
    model, _ = backpropagated_random_net(6, 3, "tanh", 4)
    twin = copy.deepcopy(model)
    assert all(torch.equal(twin.z[l], model.z[l]) and not twin.z[l].requires_grad for l in model.z)
    backpropagation(twin, torch.zeros_like(twin.a[3]), twin.a[3])  # works on the copied forward pass
    with torch.no_grad():
        twin.fc["1"].weight.add_(1.0)
    assert not torch.equal(twin.fc["1"].weight, model.fc["1"].weight)  # independent parameters


def test_default_architecture_is_2_3_2():
    assert MyNet().n_l == [2, 3, 2]


def test_forward_flattens_and_fills_z_and_a():
    torch.manual_seed(0)
    model = MyNet([6, 4, 3], ["relu", "sigmoid"]).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    out = model(x)
    flat = x.reshape(5, 6)
    assert torch.equal(model.a[0], flat)
    z1 = flat @ model.fc["1"].weight.T + model.fc["1"].bias
    torch.testing.assert_close(model.z[1], z1, rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(model.a[1], torch.relu(z1), rtol=1e-15, atol=1e-15)
    z2 = model.a[1] @ model.fc["2"].weight.T + model.fc["2"].bias
    torch.testing.assert_close(model.z[2], z2, rtol=1e-15, atol=1e-15)
    assert out is model.a[2] and torch.equal(out, torch.sigmoid(model.z[2]))


@pytest.mark.parametrize("name", sorted(ACTIVATION_DERIVATIVES))
def test_df_is_the_derivative_autograd_uses(name):
    f, df = ACTIVATION_DERIVATIVES[name]
    z = torch.cat([torch.linspace(-30, 30, 601, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])
    z.requires_grad_(True)
    (autograd,) = torch.autograd.grad(f(z).sum(), z)
    assert relative_error(df(z.detach()), autograd) <= AUTOGRAD_TOLERANCE


# --- agreement with autograd and finite differences ----------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "mixed"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("batch_size", [1, 7])
def test_agrees_with_autograd(activation, depth, batch_size):
    model, loss = backpropagated_random_net(100 * depth + batch_size, depth, activation, batch_size)
    rows = autograd_check(model, loss, named_gradients(model))
    assert len(rows) == 2 * depth
    assert all(row.passed for row in rows), rows


def test_agrees_with_torch_mse_loss_with_sum_reduction():
    model = random_net(7, 3, "tanh")
    x, y = random_batch(model, 16, 7)
    backpropagation(model, y, model(x))
    loss = lambda: nn.MSELoss(reduction="sum")(model(x), y)  # noqa: E731
    assert all(row.passed for row in autograd_check(model, loss, named_gradients(model)))


def test_local_gradients_are_the_loss_gradients_wrt_z():
    model = random_net(3, 4, "mixed")
    x, y = random_batch(model, 5, 3)
    y_pred = model(x)
    zs = [model.z[l] for l in range(1, model.L + 1)]
    dloss_dz = torch.autograd.grad(sse(y, y_pred), zs)
    deltas = backpropagation(model, y, y_pred)
    assert sorted(deltas) == list(range(1, model.L + 1))
    for l, expected in zip(range(1, model.L + 1), dloss_dz):
        assert deltas[l].shape == (5, model.n_l[l])
        assert relative_error(deltas[l], expected) <= AUTOGRAD_TOLERANCE


@pytest.mark.parametrize("activation", SMOOTH)
@pytest.mark.parametrize("depth", [1, 3, 5])
@pytest.mark.parametrize("batch_size", [1, 6])
def test_agrees_with_finite_differences_on_smooth_activations(activation, depth, batch_size):
    model, loss = backpropagated_random_net(10 * depth + batch_size, depth, activation, batch_size)
    rows = finite_difference_check(model, loss, named_gradients(model))
    assert all(row.passed for row in rows), rows


def test_relu_agrees_with_finite_differences_away_from_kinks():
    model, loss = backpropagated_random_net(5, 4, "relu", 6)
    # h = 1e-6 moves any z by far less than 1e-3, so no unit crosses its kink during the differences.
    assert min(model.z[l].abs().min().item() for l in range(1, model.L + 1)) > 1e-3
    rows = finite_difference_check(model, loss, named_gradients(model))
    assert all(row.passed for row in rows), rows


def test_relu_at_its_kink_follows_autograd_while_finite_differences_average_the_two_slopes():
    model = MyNet([1, 1], "relu").double()
    with torch.no_grad():
        model.fc["1"].weight.fill_(1.0)
        model.fc["1"].bias.zero_()
    x = torch.zeros(1, 1, dtype=torch.float64)  # z = 0 exactly: the kink
    y = torch.full((1, 1), 0.5, dtype=torch.float64)
    backpropagation(model, y, model(x))
    assert all(row.passed
               for row in autograd_check(model, lambda: sse(y, model(x)), named_gradients(model)))
    assert model.dL_db[1].item() == 0.0  # relu'(0) = 0, autograd's convention
    numeric = numerical_gradient(lambda: sse(y, model(x)), model.fc["1"].bias).item()
    # One-sided slopes of (y - relu(b))² at b = 0: -2y on the right, 0 on the left; their mean is -y.
    assert numeric == pytest.approx(-0.5, abs=1e-6)


# --- side effects: parameters, graph, autograd ---------------------------------------------------

def test_parameters_untouched_still_leaves_and_autograd_still_works():
    model = random_net(11, 3, "tanh")
    x, y = random_batch(model, 4, 11)
    params = list(model.parameters())
    before = [p.detach().clone() for p in params]
    y_pred = model(x)
    backpropagation(model, y, y_pred)
    assert list(model.parameters()) == params  # the same objects: nothing replaced
    assert all(torch.equal(p.detach(), b) for p, b in zip(params, before))
    assert all(p.is_leaf and p.requires_grad and p.grad is None for p in params)
    assert all(not g.requires_grad for g in named_gradients(model).values()), "gradients leaked into a graph"
    sse(y, y_pred).backward()  # the forward graph still reaches every parameter
    for name, g in named_gradients(model).items():
        assert relative_error(dict(model.named_parameters())[name].grad, g) <= AUTOGRAD_TOLERANCE


def test_gradient_shapes_match_the_parameters():
    model = random_net(2, 5, "sigmoid")
    x, y = random_batch(model, 3, 2)
    backpropagation(model, y, model(x))
    for l in range(1, model.L + 1):
        assert model.dL_dw[l].shape == model.fc[str(l)].weight.shape
        assert model.dL_db[l].shape == model.fc[str(l)].bias.shape


def test_an_optimiser_step_with_these_gradients_changes_the_weights():
    model = random_net(4, 3, "tanh")
    x, y = random_batch(model, 8, 4)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    backpropagation(model, y, model(x))
    grads = named_gradients(model)
    for name, p in model.named_parameters():
        p.grad = grads[name].clone()
    optimiser.step()
    for name, p in model.named_parameters():
        assert not torch.equal(p.detach(), before[name]), name
        torch.testing.assert_close(p.detach(), before[name] - 0.1 * grads[name], rtol=1e-15, atol=1e-15)


def test_float32_model_agrees_with_autograd_to_float32_precision():
    torch.manual_seed(0)
    model = MyNet([3, 5, 2])  # float32, as students build it
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    backpropagation(model, y, model(x))
    references = autograd_parameter_gradients(model, lambda: sse(y, model(x)))
    for name, g in named_gradients(model).items():
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, references[name], rtol=1e-5, atol=1e-6)


def test_works_on_any_model_exposing_the_structure():
    """A hand-built stand-in (no MyNet, no forward method): only L, z, a, df and fc are used."""
    torch.manual_seed(1)
    fc = nn.ModuleDict({"1": nn.Linear(3, 4), "2": nn.Linear(4, 2)}).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.randn(5, 2, dtype=torch.float64)
    z1 = fc["1"](x)
    a1 = torch.sigmoid(z1)
    z2 = fc["2"](a1)
    stand_in = types.SimpleNamespace(L=2, fc=fc, z={1: z1, 2: z2}, a={0: x, 1: a1, 2: z2},
                                     df={1: ACTIVATION_DERIVATIVES["sigmoid"][1], 2: ACTIVATION_DERIVATIVES["identity"][1]},
                                     dL_dw={}, dL_db={})
    backpropagation(stand_in, y, z2)
    params = dict(fc.named_parameters())
    refs = torch.autograd.grad(sse(y, z2), list(params.values()))
    ours = [stand_in.dL_dw[1], stand_in.dL_db[1], stand_in.dL_dw[2], stand_in.dL_db[2]]
    assert all(relative_error(g, r) <= AUTOGRAD_TOLERANCE for g, r in zip(ours, refs))


def test_vectorised_one_derivative_call_per_layer_whatever_the_batch():
    model = random_net(8, 3, "tanh")
    calls = {l: 0 for l in model.df}
    for l, df in list(model.df.items()):
        def counting(z, l=l, df=df):
            calls[l] += 1
            return df(z)
        model.df[l] = counting
    x, y = random_batch(model, 1000, 8)
    backpropagation(model, y, model(x))
    assert calls == {l: 1 for l in model.df}


# --- bad input -----------------------------------------------------------------------------------

def test_no_forward_pass_yet_is_a_clear_error():
    model = MyNet([2, 3, 2]).double()
    y = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"call y_pred = model\(x\) before backpropagation"):
        backpropagation(model, y, y)


@pytest.mark.parametrize("bad_shape", [(4,), (2, 2), (4, 2, 1), (1, 4, 2), (3, 1, 1), (3,)])
def test_mismatched_y_true_shape_is_a_clear_error(bad_shape):
    """Shapes MSELoss refuses, or would broadcast to a larger shape than the output's (4, 2)."""
    model = MyNet([3, 2]).double()
    y_pred = model(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"y_true has shape .* expected \(4, 2\)"):
        backpropagation(model, torch.zeros(bad_shape, dtype=torch.float64), y_pred)


def test_single_output_targets_without_the_output_axis_are_rejected_not_broadcast():
    model = MyNet([3, 1]).double()
    y_pred = model(torch.randn(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"y_true has shape \(5,\), expected \(5, 1\)"):
        backpropagation(model, torch.zeros(5, dtype=torch.float64), y_pred)


def test_mismatched_or_stale_y_pred_is_a_clear_error():
    model = MyNet([3, 2]).double()
    y_pred = model(torch.randn(4, 3, dtype=torch.float64))
    y = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"y_pred has shape \(3, 2\), expected \(4, 2\)"):
        backpropagation(model, y, y_pred[:3])
    model(torch.randn(4, 3, dtype=torch.float64))  # a newer forward pass overwrites z and a
    with pytest.raises(ValueError, match="latest model"):
        backpropagation(model, y, y_pred)


def test_non_tensor_targets_and_diverged_predictions_are_reported():
    model = MyNet([3, 2]).double()
    y_pred = model(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="y_true must be a torch.Tensor"):
        backpropagation(model, [[0.0, 0.0]] * 4, y_pred)
    with torch.no_grad():
        model.fc["1"].weight.fill_(float("nan"))
    y_pred = model(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(FloatingPointError, match="diverged"):
        backpropagation(model, torch.zeros(4, 2, dtype=torch.float64), y_pred)


def test_integer_targets_are_used_as_floats():
    model = random_net(9, 2, "sigmoid")
    x, _ = random_batch(model, 4, 9)
    y = torch.randint(0, 2, (4, model.n_l[-1]))
    backpropagation(model, y, model(x))
    rows = autograd_check(model, lambda: sse(y.double(), model(x)), named_gradients(model))
    assert all(row.passed for row in rows)


def test_bad_forward_input_is_a_clear_error():
    model = MyNet([2, 3, 2])
    with pytest.raises(ValueError, match=r"batch of shape \(N, 2\).*x.unsqueeze\(0\)"):
        model(torch.zeros(2))
    with pytest.raises(ValueError, match="expects 2 input features per sample, got 3"):
        model(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="torch.float64 .* the model is torch.float32"):
        model(torch.zeros(4, 2, dtype=torch.float64))


@pytest.mark.parametrize("n_l", [[], [2], [2, 0], [2, 3.0], [True, 2]])
def test_bad_architecture_is_a_clear_error(n_l):
    with pytest.raises(ValueError, match="at least two positive ints"):
        MyNet(n_l)


def test_bad_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown activation 'softplus'; choose from"):
        MyNet([2, 2], "softplus")
    with pytest.raises(ValueError, match="one name or 2 names"):
        MyNet([2, 3, 2], ["tanh"])


# --- target dtypes (issue 12): what torch.nn.MSELoss takes, minus bool ---------------------------

@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128, torch.bool])
def test_complex_and_bool_targets_are_refused_not_cast(dtype, recwarn):
    model = MyNet([3, 2]).double()
    y_pred = model(torch.randn(4, 3, dtype=torch.float64))
    y_true = torch.ones(4, 2, dtype=dtype)
    with pytest.raises(TypeError, match=f"y_true is {dtype}: expected real numbers"):
        backpropagation(model, y_true, y_pred)
    assert model.dL_dw[1] is None and not recwarn.list  # no gradient, no "discards the imaginary part" warning


@pytest.mark.parametrize("target_dtype", [torch.int64, torch.int32, torch.uint8, torch.float32, torch.float16])
def test_integer_and_other_float_targets_match_torch_mse_loss(target_dtype):
    """torch.nn.MSELoss(reduction='sum') accepts integer and float targets against a float output: so do we."""
    model = random_net(12, 2, "tanh")
    x, _ = random_batch(model, 5, 12)
    y_true = torch.randint(0, 3, (5, model.n_l[-1])).to(target_dtype)
    backpropagation(model, y_true, model(x))
    loss = lambda: nn.MSELoss(reduction="sum")(model(x), y_true)  # noqa: E731
    assert all(row.passed for row in autograd_check(model, loss, named_gradients(model)))


def test_y_pred_of_another_dtype_than_the_forward_pass_is_refused():
    model = MyNet([3, 2]).double()
    y_pred = model(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="y_pred is torch.float32 but a\\[L\\] .* is torch.float64"):
        backpropagation(model, torch.zeros(4, 2), y_pred.float())


# --- targets broadcast as torch.nn.MSELoss broadcasts them (issue 13) ------------------------------

def mse_none_sum(y_pred, y_true):
    """The INF265 procedure's loss, MSELoss(reduction="none")(...).sum(), without torch's size warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using a target size", category=UserWarning)
        return nn.MSELoss(reduction="none")(y_pred, y_true).sum()


def test_the_mnist_cells_float32_label_against_ten_float64_outputs():
    """The course's MNIST cell: MyNet([576, 16, 10]), a (1, 1, 24, 24) double image, torch.Tensor([[label]])."""
    torch.manual_seed(3)
    model = MyNet([576, 16, 10]).double()
    image = torch.rand(1, 1, 24, 24, dtype=torch.float64)
    label = torch.Tensor([[7]])
    assert label.dtype == torch.float32 and label.shape == (1, 1)
    y_pred = model(image)
    mse_none_sum(y_pred, label).backward()
    backpropagation(model, label, y_pred)
    for name, grad in named_gradients(model).items():
        reference = dict(model.named_parameters())[name].grad
        assert grad.dtype == torch.float64 and grad.shape == reference.shape
        assert relative_error(grad, reference) <= AUTOGRAD_TOLERANCE
    # the label is compared with every output: dL/db[2] = 2 (a[2] - 7) ⊙ f'(z[2])
    expected = 2 * (y_pred.detach() - 7) * (1 - torch.tanh(model.z[2].detach()) ** 2)
    assert torch.allclose(model.dL_db[2], expected[0], rtol=1e-12, atol=0)


@pytest.mark.parametrize("shape", [(4, 2), (4, 1), (1, 2), (1, 1), (2,), (1,), ()])
@pytest.mark.parametrize("target_dtype", [torch.float64, torch.float32, torch.int64])
def test_targets_that_broadcast_without_enlarging_match_autograd_of_mse_loss(shape, target_dtype):
    torch.manual_seed(21)
    model = MyNet([3, 3, 2]).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    y_true = torch.randint(-2, 3, shape).to(target_dtype)
    backpropagation(model, y_true, model(x))
    rows = autograd_check(model, lambda: mse_none_sum(model(x), y_true), named_gradients(model))
    assert len(rows) == 4 and all(row.passed for row in rows)


def test_a_float64_target_against_a_float32_network_is_promoted_like_mse_loss():
    torch.manual_seed(5)
    model = MyNet([3, 4, 2])
    x = torch.randn(6, 3)
    y_true = torch.randn(6, 1, dtype=torch.float64)
    assert mse_none_sum(model(x), y_true).dtype == torch.float64  # what torch does
    backpropagation(model, y_true, model(x))
    reference = autograd_parameter_gradients(model, lambda: mse_none_sum(model(x), y_true))
    for name, grad in named_gradients(model).items():
        assert grad.dtype == torch.float32
        assert torch.allclose(grad, reference[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(5,), (1, 5, 1), (5, 5)])
def test_targets_that_would_enlarge_the_output_are_refused(shape):
    """MSELoss would turn (5, 1) against these into (5, 5) or (1, 5, 1)...: the course's (N,) pitfall."""
    model = MyNet([3, 1]).double()
    y_pred = model(torch.randn(5, 3, dtype=torch.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        enlarged = nn.MSELoss(reduction="none")(y_pred, torch.zeros(shape, dtype=torch.float64)).shape
    assert enlarged != y_pred.shape  # torch accepts it, comparing every target with every sample
    with pytest.raises(ValueError, match=r"without enlarging it .* would broadcast to \(N, N\)"):
        backpropagation(model, torch.zeros(shape, dtype=torch.float64), y_pred)
    assert model.dL_dw[1] is None
