"""helpers.experiments.dead_units: a ReLU unit that is never active gets exactly no gradient and stays as it
is; leaky ReLU and softplus units in the same place still get one."""
import pytest
import torch

from helpers.experiments.dead_units import ACTIVATIONS, count_units, dead_unit_run, make_net
from helpers.experiments.delta_norms import toy_regression


def killed_net(activation):
    """A small net whose first hidden unit has a bias far below any pre-activation: never active."""
    net = make_net(activation, width=6, bias_init=0.0, seed=0)
    with torch.no_grad():
        net[0].bias[0] = -100.0
    return net


@pytest.mark.parametrize("activation, stuck", [("relu", True), ("leaky relu", False), ("softplus", False)])
def test_a_never_active_unit_is_stuck_only_under_relu(activation, stuck):
    x, y = toy_regression(64, 2, 1, seed=0)
    net = killed_net(activation)
    net.zero_grad()
    torch.nn.functional.mse_loss(net(x), y).backward()
    incoming = torch.cat([net[0].weight.grad[0], net[0].bias.grad[:1]])
    assert bool((incoming == 0).all()) is stuck
    counts = count_units(net, x, y)
    assert counts.never_active >= 1 and counts.total == 12
    assert (counts.stuck >= 1) is stuck


def test_gradient_descent_never_revives_a_dead_relu_unit():
    x, y = toy_regression(64, 2, 1, seed=0)
    net = killed_net("relu")
    before = net[0].weight[0].detach().clone(), net[0].bias[0].item()
    optimiser = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(20):
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        optimiser.step()
    assert torch.equal(net[0].weight[0], before[0]) and net[0].bias[0].item() == before[1]


def test_a_run_counts_before_and_after_and_relu_stuck_units_include_the_never_active():
    runs = {a: dead_unit_run(a, "bad init", lr=0.05, bias_init=-3.0, steps=10, width=8, n_samples=64)
            for a in ACTIVATIONS}
    relu = runs["relu"]
    assert relu.before.never_active > 0 and relu.after.stuck >= relu.after.never_active
    assert runs["leaky relu"].after.stuck == 0 and runs["softplus"].after.stuck == 0
    assert all(run.before.total == 16 for run in runs.values())


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation must be one of"):
        make_net("gelu", 4, 0.0, 0)


def test_the_student_edition_gets_a_prompt_instead_of_the_conclusions(monkeypatch):
    from helpers.experiments import dead_units
    from helpers.runtime import edition
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)
    assert dead_units.observations([]) == dead_units.HIDDEN  # no run is even read: nothing of the answer is built
    assert "answer cell" in dead_units.HIDDEN
