"""helpers.experiments.delta_norms: toy data, δ norms, the manual update and training with delta-rule gradients
only; the mean activation slopes behind NYU 1.3 (c), against bounds and values computed another way (numpy's
trapezoid rule on the normal density)."""
import math

import numpy as np
import pytest
import torch

from helpers.mynet import MyNet, backpropagation, manual_sgd_step
from helpers.experiments.delta_norms import (INIT_GAINS, INITS, activation_slopes, delta_norm_profiles, delta_norms,
                                             init_scaled_xavier, init_variance_preserving, shrink_per_layer,
                                             toy_regression, train_with_delta_rule)


def test_toy_regression_is_seeded_smooth_and_shaped():
    x, y = toy_regression(50, 3, 2, seed=4)
    assert x.shape == (50, 3) and y.shape == (50, 2) and x.dtype == y.dtype == torch.float64
    assert y.abs().max() <= 0.8  # inside tanh's range
    x2, y2 = toy_regression(50, 3, 2, seed=4)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, toy_regression(50, 3, 2, seed=5)[0])
    with pytest.raises(ValueError, match="must be >= 1"):
        toy_regression(0, 3, 2)


def test_variance_preserving_init_has_the_xavier_spread_times_the_gain():
    torch.manual_seed(0)
    model = init_variance_preserving(MyNet([300, 200, 100], ["relu", "sigmoid"]).double())
    for l, name in ((1, "relu"), (2, "sigmoid")):
        layer = model.fc[str(l)]
        expected_std = INIT_GAINS[name] * math.sqrt(2.0 / (layer.in_features + layer.out_features))
        assert layer.weight.std().item() == pytest.approx(expected_std, rel=0.02)
        assert not layer.bias.any()


def test_delta_norms_are_the_norms_of_the_loss_gradient_wrt_z():
    torch.manual_seed(1)
    model = MyNet([3, 4, 4, 4, 2], "sigmoid").double()
    x, y = toy_regression(10, 3, 2)
    norms = delta_norms(model, x, y)
    model(x)
    zs = [model.z[l] for l in range(1, model.L + 1)]
    expected = [g.norm().item() for g in torch.autograd.grad(((y - model.a[model.L]) ** 2).sum(), zs)]
    assert norms == pytest.approx(expected, rel=1e-12)


def test_delta_norm_profiles_show_sigmoid_vanishing_and_match_delta_norms():
    profiles = delta_norm_profiles(depth=8, width=16, n_samples=32)
    assert set(profiles) == {(a, i) for a in ("sigmoid", "tanh", "relu") for i in INITS}
    assert all(len(norms) == 9 for norms in profiles.values())
    shrink = {key: norms[0] / norms[-1] for key, norms in profiles.items()}
    # sigmoid' <= 1/4: δ vanishes towards the input even with a variance-preserving init (gain 1) ...
    assert shrink["sigmoid", "variance-preserving"] < 1e-3
    assert shrink["sigmoid", "default"] < shrink["tanh", "default"]
    # ... which keeps tanh and ReLU within an order of magnitude over 9 layers.
    assert all(0.1 < shrink[a, "variance-preserving"] < 10 for a in ("tanh", "relu"))
    torch.manual_seed(0)
    model = MyNet([4] + [16] * 8 + [2], ["tanh"] * 8 + ["identity"]).double()
    assert profiles["tanh", "default"] == delta_norms(model, *toy_regression(32, 4, 2))
    with pytest.raises(ValueError, match="inits from"):
        delta_norm_profiles(3, 4, inits=("he",))


def test_scaled_xavier_init_has_the_xavier_spread_times_the_gain():
    torch.manual_seed(0)
    model = init_scaled_xavier(MyNet([300, 200, 100], ["sigmoid", "tanh"]).double(), gain=4.0)
    for l in (1, 2):
        layer = model.fc[str(l)]
        expected_std = 4.0 * math.sqrt(2.0 / (layer.in_features + layer.out_features))
        assert layer.weight.std().item() == pytest.approx(expected_std, rel=0.02)
        assert not layer.bias.any()
    with pytest.raises(ValueError, match="gain must be > 0"):
        init_scaled_xavier(model, 0.0)


def test_shrink_per_layer_is_measured_independently_and_large_gains_offset_the_quarter():
    table = shrink_per_layer(gains=(1.0, 4.0, 6.0, 32.0), depth=12, width=32)
    # recomputed without delta_norms or MyNet's df: autograd on the same seeded net, and sigmoid' written out
    x, y = toy_regression(128, 4, 2, seed=0)
    for gain, row in table.items():
        torch.manual_seed(0)
        model = init_scaled_xavier(MyNet([4] + [32] * 12 + [2], ["sigmoid"] * 12 + ["identity"]).double(), gain)
        model(x)
        zs = [model.z[l] for l in range(1, 14)]
        grads = torch.autograd.grad(((y - model.a[13]) ** 2).sum(), zs)
        overall = grads[-1].norm().item() / grads[0].norm().item()
        assert row["overall"] == pytest.approx(overall, rel=1e-10)
        assert row["per layer"] == pytest.approx(overall ** (1 / 12), rel=1e-10)
        hidden = torch.cat([z.detach().flatten() for z in zs[:-1]])
        slope = torch.sigmoid(hidden) * (1 - torch.sigmoid(hidden))
        assert row["saturated"] == pytest.approx((slope < 0.025).double().mean().item(), abs=1e-12)
    # plain Xavier: about the factor 4 of sigmoid' <= 1/4, and no saturated unit ...
    assert 3.5 < table[1.0]["per layer"] < 5 and table[1.0]["saturated"] == 0.0
    # ... gains 4 and 6: far less shrinking, paid for with saturated units (the notebook's 1.65, 1.34) ...
    assert table[4.0]["per layer"] == pytest.approx(1.65, abs=0.01)
    assert table[6.0]["per layer"] == pytest.approx(1.34, abs=0.01)
    assert 0.05 < table[4.0]["saturated"] < table[6.0]["saturated"] < table[32.0]["saturated"]
    # ... and at gain 32 δ grows towards the input instead (exploding).
    assert table[32.0]["per layer"] < 0.6
    with pytest.raises(ValueError, match="activation from"):
        shrink_per_layer(activation="relu")


def twins(n_l, activation="tanh", seed=2):
    torch.manual_seed(seed)
    ours, theirs = MyNet(n_l, activation).double(), MyNet(n_l, activation).double()
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def test_manual_sgd_step_equals_torch_sgd_bit_for_bit():
    ours, theirs = twins([3, 5, 2])
    optimiser = torch.optim.SGD(theirs.parameters(), lr=0.037)
    x, y = toy_regression(16, 3, 2)
    for _ in range(5):
        backpropagation(ours, y, ours(x))
        gradients = {"weight": ours.dL_dw, "bias": ours.dL_db}
        for name, p in theirs.named_parameters():  # SGD gets exactly our gradients: the update rule is compared
            _, l, kind = name.split(".")
            p.grad = gradients[kind][int(l)].clone()
        optimiser.step()
        manual_sgd_step(ours, lr=0.037)
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert torch.equal(p, q), name


def test_training_follows_autograd_gradient_descent():
    ours, theirs = twins([2, 6, 6, 1], ["tanh", "tanh", "identity"])
    x, y = toy_regression(20, 2, 1)
    losses = train_with_delta_rule(ours, x, y, lr=0.01, steps=30)
    optimiser = torch.optim.SGD(theirs.parameters(), lr=0.01)
    reference = []
    for _ in range(31):
        optimiser.zero_grad()
        loss = ((y - theirs(x)) ** 2).sum()
        reference.append(loss.item())
        loss.backward()
        optimiser.step()
    assert len(losses) == 31
    assert losses == pytest.approx(reference, rel=1e-10)


def test_training_on_a_curve_reaches_a_low_loss():
    torch.manual_seed(0)
    model = MyNet([1, 12, 12, 1], ["tanh", "tanh", "identity"]).double()
    x = torch.linspace(-2, 2, 32, dtype=torch.float64)[:, None]
    losses = train_with_delta_rule(model, x, 0.8 * torch.sin(2 * x), lr=0.005, steps=400)
    assert losses[-1] < 0.02 * losses[0]


def test_divergence_is_reported():
    torch.manual_seed(0)
    model = MyNet([1, 8, 1], ["tanh", "identity"]).double()
    x = torch.linspace(-2, 2, 16, dtype=torch.float64)[:, None]
    with pytest.raises(FloatingPointError, match="diverged, lower lr"):
        train_with_delta_rule(model, x, torch.sin(x), lr=10.0, steps=200)


def test_bad_training_arguments_are_errors():
    model = MyNet([1, 1]).double()
    x = torch.zeros(2, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="lr must be > 0"):
        train_with_delta_rule(model, x, x, lr=0.0, steps=3)


def test_observations_are_written_from_the_grader_reports_and_the_measurements():
    from helpers.checks.nb03_delta_rule import grade_backpropagation
    from helpers.experiments.delta_norms import observations
    from planted_bugs import halved

    x, y = toy_regression(8, 2, 2, seed=1)
    torch.manual_seed(0)
    good = grade_backpropagation(backpropagation, MyNet([2, 3, 2]).double(), x, y, epochs=1, batch_size=4)
    torch.manual_seed(0)
    broken = grade_backpropagation(halved, MyNet([2, 3, 2]).double(), x, y, epochs=1, batch_size=4)
    shrinkage = {("sigmoid", "default"): 1e-10, ("tanh", "default"): 1e-3, ("relu", "default"): 2.5e-5,
                 ("sigmoid", "variance-preserving"): 4e-8}
    text = observations(good, [good], broken, (0.0, -0.5), shrinkage, [13.32, 0.5, 0.002055])
    assert "(6/6 over 2 steps)" in text and "1 of 1 deeper" in text and "fails 2 of them" in text
    assert "≤ 1e-10: ok against autograd" in text
    assert "factor 1e+10 (sigmoid), 1e+03 (tanh), 4e+04 (ReLU)" in text and "still 2.5e+07 for sigmoid" in text
    assert "from 13.32 to 0.002055 in 2 steps" in text
    assert "Larger weights" not in text  # no gains given: no bullet on them
    gains = {1.0: {"overall": 3e7, "per layer": 4.2, "saturated": 0.0},
             4.0: {"overall": 420.0, "per layer": 1.654, "saturated": 0.117},
             32.0: {"overall": 1e-3, "per layer": 0.5, "saturated": 0.858}}
    text = observations(good, [good], broken, (0.0, -0.5), shrinkage, [13.32, 0.5, 0.002055], gains=gains)
    assert ("‖δ‖ shrinks 1.65× per layer with 12% of its units saturated (gain 4), grows 2× per layer with 86% "
            "of its units saturated (gain 32).\n- Trained") in text
    assert "gain 1)" not in text


# --- activation_slopes ---------------------------------------------------------------------------------

def reference_mean(slope, scale):
    z = np.linspace(-12 * scale, 12 * scale, 200_001)
    density = np.exp(-z ** 2 / (2 * scale ** 2)) / (scale * math.sqrt(2 * math.pi))
    return np.trapezoid(slope(z) * density, z)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_means_match_an_independent_quadrature(scale):
    row = activation_slopes((scale,))[scale]
    assert math.isclose(row["sigmoid"], reference_mean(lambda z: sigmoid(z) * (1 - sigmoid(z)), scale), rel_tol=1e-6)
    assert math.isclose(row["tanh"], reference_mean(lambda z: 1 - np.tanh(z) ** 2, scale), rel_tol=1e-6)
    assert math.isclose(row["relu"], 0.5, rel_tol=1e-9)  # slope 1 on the active half, 0 on the other


def test_sigmoid_never_exceeds_a_quarter_and_tanh_saturates_as_inputs_spread():
    table = activation_slopes((0.01, 1.0, 4.0, 16.0))
    assert all(row["sigmoid"] <= 0.25 for row in table.values())
    assert table[0.01]["tanh"] > 0.999 and table[0.01]["tanh saturated"] == 0.0
    tanh_means = [row["tanh"] for row in table.values()]
    saturated = [row["tanh saturated"] for row in table.values()]
    assert tanh_means == sorted(tanh_means, reverse=True) and saturated == sorted(saturated)
    assert table[16.0]["tanh saturated"] > 0.9
