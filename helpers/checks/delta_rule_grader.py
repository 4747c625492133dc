"""The grader's procedure for ``backpropagation(model, y_true, y_pred)``, re-implemented (notebook 03).

For several epochs of mini-batches of a toy data set, every step runs the candidate backpropagation and
checks that

1. every ``dL_dw[l]`` / ``dL_db[l]`` has the shape of ``fc[str(l)].weight`` / ``.bias``;
2. no parameter changed (bit for bit) during backpropagation;
3. every parameter is still the same leaf tensor, requiring grad (nothing detached or replaced);
4. the gradients agree with autograd (relative error ≤ 1e-10 per tensor);
5. they agree with central finite differences (relative error ≤ 1e-6);
6. an optimiser (``torch.optim.SGD``) stepping with them moves the weights by ``-lr * grad`` (up to
   round-off).

The optimiser steps also train the model, so later steps check other weights than the first.
An exception raised by the candidate fails every check of that step and is kept in ``errors``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, GradientComparison, autograd_check,
                               finite_difference_check, format_report, format_tolerance)
from helpers.mynet import named_gradients

CHECKS = (
    "gradient shapes match the parameters",
    "parameters unchanged by backpropagation",
    "parameters still the same leaves requiring grad",
    f"autograd agrees (rel. error ≤ {format_tolerance(AUTOGRAD_TOLERANCE)})",
    f"finite differences agree (rel. error ≤ {format_tolerance(FINITE_DIFFERENCE_TOLERANCE)})",
    "an SGD step moves the weights by -lr grad",
)
Backpropagation = Callable[[nn.Module, torch.Tensor, torch.Tensor], object]


def sum_squared_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """The loss of the course, Σ over samples and outputs of (y - ŷ)²."""
    return ((y_true - y_pred) ** 2).sum()


def _max_keeping_nan(values) -> float:
    """max(), except that a NaN anywhere (a gradient that went NaN) is the answer, not skipped."""
    values = list(values)
    if not values or any(math.isnan(v) for v in values):
        return float("nan")
    return max(values)


@dataclass
class GradingReport:
    """Outcome of :func:`grade_backpropagation`: passes per check and worst errors per tensor."""
    steps: int = 0
    runs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    passes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    worst_autograd: dict[str, GradientComparison] = field(default_factory=dict)  # per tensor, over all steps
    worst_finite_difference: dict[str, GradientComparison] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # exceptions the candidate raised, one per step

    @property
    def passed(self) -> bool:
        return self.checks_passed == len(CHECKS)

    @property
    def checks_passed(self) -> int:
        """How many checks passed every time they ran (and ran at least once)."""
        return sum(0 < self.passes[check] == self.runs[check] for check in CHECKS)

    def _record(self, check: str, ok: bool) -> None:
        self.runs[check] += 1
        self.passes[check] += bool(ok)

    @staticmethod
    def _record_worst(worst: dict[str, GradientComparison], rows: list[GradientComparison]) -> None:
        for row in rows:
            kept = worst.get(row.name)
            # A NaN error replaces any number and is never replaced (a gradient that went NaN stays reported).
            if kept is None or math.isnan(row.max_relative_error) or row.max_relative_error > kept.max_relative_error:
                worst[row.name] = row

    def max_autograd_error(self) -> float:
        """Worst relative error against autograd over every tensor and step (NaN if never run)."""
        return _max_keeping_nan(row.max_relative_error for row in self.worst_autograd.values())

    def max_finite_difference_error(self) -> float:
        """Worst relative error against finite differences over every tensor and step (NaN if never run)."""
        return _max_keeping_nan(row.max_relative_error for row in self.worst_finite_difference.values())

    def summary(self, title: str = "") -> str:
        """The pass/fail table; errors as verdicts against the tolerances (stable across machines)."""
        width = max(len(check) for check in CHECKS)
        lines = [title] if title else []
        lines.append(f"{'check':<{width}}  {'passed':>7}  result")
        for check in CHECKS:
            verdict = "PASS" if 0 < self.passes[check] == self.runs[check] else "FAIL"
            lines.append(f"{check:<{width}}  {f'{self.passes[check]}/{self.runs[check]}':>7}  {verdict}")
        lines.append(f"{'ALL CHECKS PASSED' if self.passed else 'SOME CHECKS FAILED'}: {self.checks_passed}/"
                     f"{len(CHECKS)} checks passed every time, over {self.steps} steps")
        if self.errors:
            lines.append(f"the candidate raised an exception on {len(self.errors)} steps, first on {self.errors[0]}")
        return "\n".join(lines)

    def error_tables(self) -> str:
        """Worst relative error per parameter tensor over all steps, against autograd and finite differences."""
        return "\n\n".join([
            format_report(list(self.worst_autograd.values()), "against autograd:", stable=True),
            format_report(list(self.worst_finite_difference.values()), "against finite differences:", stable=True)])


def _shapes_match(model: nn.Module) -> bool:
    for l in range(1, model.L + 1):
        layer = model.fc[str(l)]
        for grad, param in ((model.dL_dw.get(l), layer.weight), (model.dL_db.get(l), layer.bias)):
            if not isinstance(grad, torch.Tensor) or grad.shape != param.shape:
                return False
    return True


def _moved_by(after: torch.Tensor, before: torch.Tensor, step: torch.Tensor) -> bool:
    """``after == before + step`` up to round-off, and ``after != before`` unless the step is zero."""
    round_off = 4 * torch.finfo(after.dtype).eps * (before.abs() + step.abs())
    exact = bool(((after - (before + step)).abs() <= round_off).all())
    return exact and (not step.any() or not torch.equal(after, before))


def _grade_step(report: GradingReport, backprop: Backpropagation, model: nn.Module,
                x: torch.Tensor, y: torch.Tensor, optimiser: torch.optim.Optimizer,
                finite_differences: bool) -> None:
    originals = dict(model.named_parameters())
    before = {name: p.detach().clone() for name, p in originals.items()}
    for l in range(1, model.L + 1):  # stale gradients from the previous step must not pass the checks
        model.dL_dw[l] = model.dL_db[l] = None

    try:
        backprop(model, y, model(x))
    except Exception as error:  # noqa: BLE001 - a grader reports a crash as a failed step, with its message
        report.errors.append(f"step {report.steps + 1}: {type(error).__name__}: {error}")
        for check in CHECKS:
            report._record(check, False)
        return

    params = dict(model.named_parameters())
    report._record(CHECKS[1], params.keys() == before.keys() and all(
        torch.equal(p.detach(), before[name]) for name, p in params.items()))
    # The same Parameter objects (the optimiser holds those), still leaves that require grad.
    same_leaves = params.keys() == originals.keys() and all(
        p is originals[name] and p.is_leaf and p.requires_grad for name, p in params.items())
    report._record(CHECKS[2], same_leaves)
    shapes_ok = _shapes_match(model)
    report._record(CHECKS[0], shapes_ok)
    if not (shapes_ok and same_leaves):  # the gradient checks need well-formed gradients and parameters
        for check in CHECKS[3:]:
            report._record(check, False)
        return
    grads = {name: g.detach().clone() for name, g in named_gradients(model).items()}
    loss = lambda: sum_squared_error(y, model(x))  # noqa: E731 - re-evaluated at perturbed parameters

    autograd_rows = autograd_check(model, loss, grads)
    report._record_worst(report.worst_autograd, autograd_rows)
    report._record(CHECKS[3], all(row.passed for row in autograd_rows))
    if finite_differences:
        fd_rows = finite_difference_check(model, loss, grads)
        report._record_worst(report.worst_finite_difference, fd_rows)
        report._record(CHECKS[4], all(row.passed for row in fd_rows))

    optimiser.zero_grad(set_to_none=True)
    before_step = {name: p.detach().clone() for name, p in params.items()}
    for name, p in params.items():
        p.grad = grads[name].clone()
    optimiser.step()
    lr = optimiser.param_groups[0]["lr"]
    report._record(CHECKS[5], all(_moved_by(p.detach(), before_step[name], -lr * grads[name])
                                  for name, p in params.items()))
    optimiser.zero_grad(set_to_none=True)


def grade_backpropagation(backprop: Backpropagation, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                          epochs: int = 3, batch_size: int = 8, lr: float = 0.05, seed: int = 0,
                          finite_difference_every: int = 1) -> GradingReport:
    """Run the six checks on every mini-batch step of ``epochs`` passes over ``(x, y)``.

    Args:
        backprop: the candidate, called as ``backprop(model, y_true, y_pred)``; it fills
            ``model.dL_dw`` / ``model.dL_db``.
        model: a float64 model exposing ``L``, ``z``, ``a``, ``dL_dw``, ``dL_db``, ``df``, ``fc``
            (e.g. :class:`helpers.mynet.MyNet`); it is trained by the optimiser steps.
        x: (N, n_0) inputs; y: (N, n_L) targets, float64.
        batch_size: samples per step (the last batch of an epoch may be smaller); seed: shuffling.
        finite_difference_every: run the (slow: two forward passes per parameter) finite-difference
            check on every k-th step only, starting with the first; the other checks run on every step.
    """
    dtypes = {x.dtype, y.dtype} | {p.dtype for p in model.parameters()}
    if dtypes != {torch.float64}:
        raise ValueError(f"grading needs float64 data and model (call model.double()), got {sorted(map(str, dtypes))}")
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x and y need the same, non-zero number of samples, got {x.shape[0]} and {y.shape[0]}")
    if min(epochs, batch_size, finite_difference_every) < 1:
        raise ValueError(f"epochs, batch_size and finite_difference_every must be >= 1, "
                         f"got {epochs}, {batch_size} and {finite_difference_every}")
    report = GradingReport()
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(x.shape[0], generator=generator).split(batch_size):
            _grade_step(report, backprop, model, x[batch], y[batch], optimiser,
                        finite_differences=report.steps % finite_difference_every == 0)
            report.steps += 1
    return report
