"""NYU HW1 1.4 (d) measured: dead ReLU units, and what leaky ReLU and softplus change.

A hidden unit is **never active** on a data set when its pre-activation is ≤ 0 for every sample. Under
ReLU such a unit outputs 0 and has derivative 0 on every sample, so the gradient of its incoming weights
and bias is exactly zero: gradient descent can never revive it (it is **stuck**). Leaky ReLU (slope 0.01
below 0) and softplus (derivative σ(z) > 0) still pass a gradient, so their never-active units are not stuck.

:func:`dead_unit_run` trains ``2 -> width -> width -> 1`` on ``toy_regression`` by full-batch
``torch.optim.SGD`` in float64 and counts both kinds of unit at initialisation and after training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from helpers.experiments.delta_norms import toy_regression
from helpers.runtime import edition

HIDDEN = ("*Your conclusions: what do these counts say about ReLU, leaky ReLU and softplus? Write them in the "
          "answer cell below.*")

ACTIVATIONS = {"relu": nn.ReLU, "leaky relu": lambda: nn.LeakyReLU(0.01), "softplus": nn.Softplus}


@dataclass(frozen=True)
class UnitCounts:
    """Hidden units (of all hidden layers together) never active / stuck (zero gradient) on the data."""
    never_active: int
    stuck: int
    total: int


@dataclass(frozen=True)
class DeadUnitRun:
    """One training run: counts at initialisation and after ``steps`` steps, and the final MSE."""
    activation: str
    scenario: str
    before: UnitCounts
    after: UnitCounts
    final_mse: float


def make_net(activation: str, width: int, bias_init: float, seed: int) -> nn.Sequential:
    """``Linear(2, width) -> act -> Linear(width, width) -> act -> Linear(width, 1)`` in float64, He-normal
    weights drawn from ``seed``, hidden biases all ``bias_init`` (a negative value is a bad initialisation)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    generator = torch.Generator().manual_seed(seed)
    layers = [nn.Linear(2, width), ACTIVATIONS[activation](), nn.Linear(width, width), ACTIVATIONS[activation](),
              nn.Linear(width, 1)]
    net = nn.Sequential(*layers).double()
    with torch.no_grad():
        for index, layer in enumerate(net[::2]):
            layer.weight.copy_(torch.randn(layer.weight.shape, dtype=torch.float64, generator=generator)
                               * math.sqrt(2.0 / layer.in_features))
            layer.bias.fill_(bias_init if index < 2 else 0.0)
    return net


def count_units(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> UnitCounts:
    """Never-active and stuck units of the two hidden layers on the whole set x (N, 2), y (N, 1)."""
    net.zero_grad()
    pre_activations, h = [], x
    for index, module in enumerate(net):
        h = module(h)
        if index in (0, 2):  # the hidden Linear layers' outputs, before their activation
            pre_activations.append(h)
    nn.functional.mse_loss(h, y).backward()
    never, stuck = 0, 0
    for z, layer in zip(pre_activations, (net[0], net[2])):
        never += int((z <= 0).all(dim=0).sum())
        incoming = torch.cat([layer.weight.grad, layer.bias.grad[:, None]], dim=1)  # (width, in + 1)
        stuck += int((incoming == 0).all(dim=1).sum())
    net.zero_grad()
    return UnitCounts(never, stuck, sum(z.shape[1] for z in pre_activations))


def dead_unit_run(activation: str, scenario: str, lr: float, bias_init: float = 0.0, steps: int = 200,
                  width: int = 32, n_samples: int = 256, seed: int = 0) -> DeadUnitRun:
    """Train one net by full-batch SGD at ``lr`` for ``steps`` steps on ``toy_regression(n_samples, 2, 1)``
    (x (n_samples, 2), y (n_samples, 1)); count its 2 × ``width`` hidden units before and after."""
    x, y = toy_regression(n_samples, 2, 1, seed=seed)
    net = make_net(activation, width, bias_init, seed)
    before = count_units(net, x, y)
    optimiser = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        optimiser.step()
    with torch.no_grad():
        final = nn.functional.mse_loss(net(x), y).item()
    return DeadUnitRun(activation, scenario, before, count_units(net, x, y), final)


SCENARIOS = {  # name -> keyword arguments of dead_unit_run (lr 0.2 already diverges for ReLU)
    "good init, lr 0.05": dict(lr=0.05),
    "good init, large lr 0.1": dict(lr=0.1),
    "bad init (biases -3), lr 0.05": dict(lr=0.05, bias_init=-3.0),
}


def dead_unit_table(runs: list[DeadUnitRun]) -> str:
    """One line per run: never-active and stuck units before and after training, and the final MSE."""
    lines = [f"{'scenario':<30} {'activation':<11} {'z ≤ 0 always':>14} {'zero gradient':>14} {'final MSE':>10}",
             f"{'':<30} {'':<11} {'init -> end':>14} {'init -> end':>14}"]
    for run in runs:
        total = run.before.total
        never = f"{run.before.never_active}->{run.after.never_active}/{total}"
        stuck = f"{run.before.stuck}->{run.after.stuck}/{total}"
        final = f"{run.final_mse:.4g}" if math.isfinite(run.final_mse) else "diverged"
        lines.append(f"{run.scenario:<30} {run.activation:<11} {never:>14} {stuck:>14} {final:>10}")
    return "\n".join(lines)


def observations(runs: list[DeadUnitRun]) -> str:
    """The dead-unit findings as Markdown bullets, every number taken from ``runs`` (:data:`SCENARIOS` ×
    :data:`ACTIVATIONS`, as the notebook runs them): part of the answer to NYU 1.4 (d), so the student edition
    (``edition.SHOWS_ANSWERS`` False) gets :data:`HIDDEN`, a prompt, instead."""
    if not edition.SHOWS_ANSWERS:
        return HIDDEN
    run = {(r.scenario, r.activation): r for r in runs}
    large, bad = "good init, large lr 0.1", "bad init (biases -3), lr 0.05"
    relu_large, leaky_large = run[large, "relu"], run[large, "leaky relu"]
    relu_bad = run[bad, "relu"]
    stuck_elsewhere = sum(r.after.stuck for r in runs if r.activation != "relu")
    ### BEGIN SOLUTION
    return (
        f"- ReLU at lr 0.1: {relu_large.after.stuck} of {relu_large.after.total} hidden units end with exactly zero "
        f"gradient (dead), against {relu_large.before.stuck} at initialisation; final MSE "
        f"{relu_large.final_mse:.3g}, against {leaky_large.final_mse:.3g} with leaky ReLU and "
        f"{run[large, 'softplus'].final_mse:.3g} with softplus.\n"
        f"- With biases started at -3, ReLU has {relu_bad.before.stuck} stuck units at the start and "
        f"{relu_bad.after.stuck} after training"
        f"{': none revived, as the zero gradient predicts' if relu_bad.after.stuck >= relu_bad.before.stuck else ''}.\n"
        f"- Leaky ReLU and softplus end every run with {stuck_elsewhere} stuck units: units that are never active "
        f"(leaky ReLU: {leaky_large.after.never_active} at lr 0.1) still get a gradient.\n"
        f"- A gradient is not yet a fast recovery: with biases at -3 the final MSE is "
        f"{relu_bad.final_mse:.3g} (ReLU), {run[bad, 'leaky relu'].final_mse:.3g} (leaky ReLU) and "
        f"{run[bad, 'softplus'].final_mse:.3g} (softplus), against {run['good init, lr 0.05', 'relu'].final_mse:.3g} "
        f"for ReLU from a good start: the slopes below zero (0.01, σ(z)) are small, so the initialisation "
        f"matters with every activation.\n")
    ### END SOLUTION
