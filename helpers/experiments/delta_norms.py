"""Experiments on top of the delta rule (notebook 03): toy data, δ norms per layer, training by hand, and
the notebook's findings written from its numbers.

Everything here uses only :func:`helpers.mynet.backpropagation` for gradients, never autograd.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from helpers.checks.nb03_delta_rule import CHECKS, checks_passed, worst_error
from helpers.gradcheck import AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, verdict
from helpers.mynet import MyNet, backpropagation, manual_sgd_step
from helpers.runtime import edition
from helpers.runtime.exercises import HIDDEN_OBSERVATIONS

# Gain of each activation for variance-preserving initialisation (as torch.nn.init.calculate_gain).
INIT_GAINS = {"tanh": 5 / 3, "sigmoid": 1.0, "relu": math.sqrt(2.0), "identity": 1.0}


def toy_regression(n_samples: int, n_in: int, n_out: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth float64 regression task: x ~ N(0, 1), y = 0.8 sin(x A + c), inside tanh's range.

    Returns x: (n_samples, n_in) and y: (n_samples, n_out); the same seed gives the same data.
    """
    if min(n_samples, n_in, n_out) < 1:
        raise ValueError(f"n_samples, n_in and n_out must be >= 1, got {n_samples}, {n_in}, {n_out}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, n_in, generator=generator, dtype=torch.float64)
    mixing = torch.randn(n_in, n_out, generator=generator, dtype=torch.float64) / math.sqrt(n_in)
    phase = torch.rand(n_out, generator=generator, dtype=torch.float64) * math.pi
    return x, 0.8 * torch.sin(x @ mixing + phase)


def _init_xavier(model: MyNet, gain_of) -> MyNet:
    """Xavier-normal weights times ``gain_of(activation)`` of each layer's activation, zero biases."""
    with torch.no_grad():
        for l in range(1, model.L + 1):
            layer = model.fc[str(l)]
            nn.init.xavier_normal_(layer.weight, gain=gain_of(model.activations[l - 1]))
            layer.bias.zero_()
    return model


def init_variance_preserving(model: MyNet) -> MyNet:
    """Xavier-normal weights scaled by each layer's activation gain (He-like for ReLU), zero biases."""
    return _init_xavier(model, INIT_GAINS.__getitem__)


def _deep_net(depth: int, width: int, activation: str, seed: int) -> MyNet:
    """``MyNet([4] + [width] * depth + [2])`` in float64, ``activation`` in its hidden layers, an identity
    output (a ReLU output would often be dead), PyTorch's default init drawn after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return MyNet([4] + [width] * depth + [2], [activation] * depth + ["identity"]).double()


def delta_norms(model: MyNet, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """``‖δ[l]‖`` (Frobenius norm over the batch) for l = 1..L, for the loss Σ (y - ŷ)²."""
    deltas = backpropagation(model, y, model(x))
    return [deltas[l].norm().item() for l in range(1, model.L + 1)]


INITS = ("default", "variance-preserving")


def delta_norm_profiles(depth: int, width: int, activations=("sigmoid", "tanh", "relu"), inits=INITS,
                        n_samples: int = 128, seed: int = 0) -> dict[tuple[str, str], list[float]]:
    """δ norms per layer of deep nets, one profile per (activation, init).

    Each net is ``MyNet([4] + [width] * depth + [2])`` with ``activation`` in its ``depth`` hidden layers
    and an identity output (a ReLU output would often be dead), on ``toy_regression(n_samples, 4, 2)``.
    ``init`` is ``'default'`` (PyTorch's ``nn.Linear`` init) or ``'variance-preserving'``
    (:func:`init_variance_preserving`). Returns ``{(activation, init): [‖δ[1]‖, ..., ‖δ[L]‖]}``.
    """
    unknown = set(inits) - set(INITS)
    if unknown or depth < 1 or width < 1:
        raise ValueError(f"need depth, width >= 1 and inits from {INITS}, got {depth}, {width}, {sorted(unknown)}")
    x, y = toy_regression(n_samples, 4, 2, seed=seed)
    profiles = {}
    for activation in activations:
        for init in inits:
            model = _deep_net(depth, width, activation, seed)
            if init == "variance-preserving":
                init_variance_preserving(model)
            profiles[activation, init] = delta_norms(model, x, y)
    return profiles


def init_scaled_xavier(model: MyNet, gain: float) -> MyNet:
    """Xavier-normal weights times ``gain`` in every layer (std ``gain·sqrt(2 / (n_(l-1) + n_l))`` for the
    (n_l, n_(l-1)) weight of layer l), zero biases. ``gain = 1`` is plain Xavier, the variance-preserving
    choice for sigmoid."""
    if not gain > 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    return _init_xavier(model, lambda activation: gain)


# f'(0), the largest slope of each: a unit counts as saturated where its slope is below a tenth of it.
MAX_SLOPES = {"sigmoid": 0.25, "tanh": 1.0}


def shrink_per_layer(gains=(1.0, 4.0, 6.0), depth: int = 12, width: int = 32, activation: str = "sigmoid",
                     n_samples: int = 128, seed: int = 0) -> dict[float, dict[str, float]]:
    """How fast δ shrinks on the way back through a deep net initialised by :func:`init_scaled_xavier`.

    For each gain, the net of :func:`delta_norm_profiles` (``MyNet([4] + [width] * depth + [2])``,
    ``activation`` in its ``depth`` hidden layers, identity output, seeded with ``seed``) gets Xavier-normal
    weights times the gain and one delta-rule pass on ``toy_regression(n_samples, 4, 2)``: x (n_samples, 4),
    y (n_samples, 2), each hidden δ[l] (n_samples, width). Returns ``{gain: row}`` with

    * ``"overall"``: ‖δ[L]‖ / ‖δ[1]‖, from the output layer L = depth + 1 back to the first;
    * ``"per layer"``: its geometric mean over the ``depth`` backward steps, ``overall ** (1 / depth)``
      (above 1: δ shrinks towards the input; below 1: it grows);
    * ``"saturated"``: the share of the n_samples · depth · width hidden pre-activations where the slope
      f'(z) is below a tenth of its maximum f'(0) (1/4 for sigmoid: |z| > 3.6).
    """
    if activation not in MAX_SLOPES or depth < 1 or width < 1:
        raise ValueError(f"need depth, width >= 1 and an activation from {sorted(MAX_SLOPES)}, "
                         f"got {depth}, {width}, {activation!r}")
    x, y = toy_regression(n_samples, 4, 2, seed=seed)
    table = {}
    for gain in gains:
        model = init_scaled_xavier(_deep_net(depth, width, activation, seed), gain)
        norms = delta_norms(model, x, y)
        slopes = torch.cat([model.df[l](model.z[l]).flatten() for l in range(1, depth + 1)])
        overall = norms[-1] / norms[0]
        table[gain] = {"overall": overall, "per layer": overall ** (1 / depth),
                       "saturated": (slopes < MAX_SLOPES[activation] / 10).double().mean().item()}
    return table


def _slope(function, z: torch.Tensor) -> torch.Tensor:
    """The element-wise derivative of ``function`` at every entry of ``z`` (any shape), by autograd."""
    point = z.detach().clone().requires_grad_()
    (slope,) = torch.autograd.grad(function(point).sum(), point)
    return slope


def activation_slopes(scales=(0.5, 1.0, 2.0, 4.0)) -> dict[float, dict[str, float]]:
    """For pre-activations z ~ N(0, s²), s in ``scales``: the mean slope E[f'(z)] of sigmoid, tanh and ReLU,
    and the share of tanh units that are saturated (tanh'(z) < 0.1). ReLU's mean slope comes out 1/2
    at every scale.

    Computed by quadrature on a fixed grid (no sampling), so the numbers are the same on every run.
    """
    unit = torch.linspace(-10, 10, 20000, dtype=torch.float64)  # symmetric, no point at the kink
    weights = torch.exp(-unit ** 2 / 2)
    weights /= weights.sum()  # standard normal weights on the grid
    table = {}
    for scale in scales:
        z = scale * unit
        # f'(z) by autograd: writing the derivatives out would print exercises 2.2 and 2.7's answers
        sigmoid_slope, tanh_slope, relu_slope = (_slope(f, z) for f in (torch.sigmoid, torch.tanh, torch.relu))
        table[scale] = {"sigmoid": (sigmoid_slope * weights).sum().item(),
                        "tanh": (tanh_slope * weights).sum().item(),
                        "tanh saturated": weights[tanh_slope < 0.1].sum().item(),
                        "relu": (relu_slope * weights).sum().item()}
    return table


def train_with_delta_rule(model: MyNet, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> list[float]:
    """Full-batch gradient descent on Σ (y - ŷ)² with delta-rule gradients and a manual update.

    Returns the loss before each step and after the last one (``steps + 1`` values). Raises
    ``FloatingPointError`` when the loss stops being finite (diverged: lower ``lr``).
    """
    if lr <= 0 or steps < 0:
        raise ValueError(f"lr must be > 0 and steps >= 0, got lr={lr}, steps={steps}")
    losses = []
    for step in range(steps + 1):
        with torch.no_grad():  # backpropagation needs the stored z and a, not autograd's graph
            y_pred = model(x)
        loss = ((y - y_pred) ** 2).sum().item()
        if not math.isfinite(loss):
            raise FloatingPointError(f"loss is {loss} at step {step}: training diverged, lower lr (now {lr})")
        losses.append(loss)
        if step < steps:
            backpropagation(model, y, y_pred)
            manual_sgd_step(model, lr)
    return losses


def observations(report: dict, deep_reports: list[dict], broken: dict,
                 kink: tuple[float, float], shrinkage: dict[tuple[str, str], float], losses: list[float],
                 gains: dict[float, dict[str, float]] | None = None) -> str:
    """Notebook 03's findings as Markdown bullets, every number taken from its results.

    ``report``/``deep_reports``: what the grader (:func:`helpers.checks.nb03_delta_rule.grade_backpropagation`)
    returned on the course network and on deeper ones; ``broken``: the grader's on a variant that forgets the
    factor 2; ``kink``: (delta rule, central difference) of dL/db at ReLU's kink;
    ``shrinkage``: ‖δ[1]‖ / ‖δ[L]‖ per (activation, init); ``losses``: :func:`train_with_delta_rule`'s;
    ``gains`` (optional): :func:`shrink_per_layer`'s table for the sigmoid, every gain above 1 reported.
    In the student edition, :data:`helpers.runtime.exercises.HIDDEN_OBSERVATIONS` instead: the student's answer.
    """
    if not edition.SHOWS_ANSWERS:
        return HIDDEN_OBSERVATIONS
    ### BEGIN SOLUTION
    every = [report, *deep_reports]
    worst_autograd = max(worst_error(r["autograd"]) for r in every)
    worst_fd = max(worst_error(r["finite differences"]) for r in every)
    factor = {key: f"{1 / value:.3g}" for key, value in shrinkage.items()}
    return (
        f"- The grader's six checks passed on every step for the course network ({checks_passed(report)}/"
        f"{len(CHECKS)} over {len(report['steps'])} steps) and for "
        f"{sum(checks_passed(r) == len(CHECKS) for r in deep_reports)} of "
        f"{len(deep_reports)} deeper or different networks; a variant that forgets the factor 2 fails "
        f"{len(CHECKS) - checks_passed(broken)} of them.\n"
        f"- Worst relative error over all runs: {verdict(worst_autograd, AUTOGRAD_TOLERANCE)} against autograd, "
        f"{verdict(worst_fd, FINITE_DIFFERENCE_TOLERANCE)} against central finite differences.\n"
        f"- At ReLU's kink the delta rule gives {kink[0]:.4g} (as autograd) and a central difference "
        f"{kink[1]:.4g}, the mean of the two one-sided slopes.\n"
        f"- Over 12 hidden layers with PyTorch's default initialisation, ‖δ‖ shrinks by a factor "
        f"{factor['sigmoid', 'default']} (sigmoid), {factor['tanh', 'default']} (tanh), "
        f"{factor['relu', 'default']} (ReLU) from the output back to the first layer; with a variance-preserving "
        f"initialisation still {factor['sigmoid', 'variance-preserving']} for sigmoid.\n"
        + _gain_bullet(gains) +
        f"- Trained with these gradients and a manual update only, the loss fell from {losses[0]:.4g} to "
        f"{losses[-1]:.4g} in {len(losses) - 1} steps.")
    ### END SOLUTION


def _gain_bullet(gains: dict[float, dict[str, float]] | None) -> str:
    """The bullet on Xavier gains above 1 for the sigmoid net (empty without ``gains``)."""
    ### BEGIN SOLUTION
    larger = {gain: row for gain, row in (gains or {}).items() if gain > 1}
    if not larger:
        return ""
    effects = ", ".join(f"{'shrinks' if row['per layer'] >= 1 else 'grows'} "
                        f"{max(row['per layer'], 1 / row['per layer']):.3g}× per layer with "
                        f"{row['saturated']:.0%} of its units saturated (gain {gain:g})"
                        for gain, row in larger.items())
    return (f"- Larger weights can offset sigmoid′ ≤ 1/4, at the price of saturated units: with Xavier weights times "
            f"a gain, the sigmoid net's ‖δ‖ {effects}.\n")
    ### END SOLUTION
