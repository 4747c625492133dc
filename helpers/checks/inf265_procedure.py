"""The INF265 test procedure for ``backpropagation(model, y_true, y_pred)``, restated in our own words.

The course checks a student's function one sample at a time, on the model it trains meanwhile:

1. forward pass ``y_pred = model(x)``;
2. autograd's gradients: ``MSELoss(reduction="none")(y_pred, y).sum().backward()`` fills every ``p.grad``;
3. the candidate: ``backpropagation(model, y, y_pred)`` fills ``model.dL_dw`` and ``model.dL_db``;
4. the candidate's gradients against autograd's, then against central differences of the same loss
   (tolerances and error measure: the one policy of :mod:`helpers.gradcheck`);
5. an optimiser step (``torch.optim.SGD``, with autograd's gradients), so later samples meet other weights.

The targets are used as the course passes them: ``torch.nn.MSELoss`` broadcasts a (1, 1) label against a
(1, 10) output, so the loss compares every output with that label. torch warns about the size difference;
that broadcast is the one intended here, so :func:`run_procedure` silences exactly that warning.

A wrong candidate is reported, never raised: an exception it throws, or gradients of the wrong shape, fail
that sample with a message; :attr:`SampleResult.autograd` and ``.finite_differences`` hold one
:class:`~helpers.gradcheck.GradientComparison` per parameter tensor.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, GradientComparison,
                               compare_gradients, finite_difference_check, format_tolerance)
from helpers.mynet import MyNet, named_gradients

Backpropagation = Callable[[nn.Module, torch.Tensor, torch.Tensor], object]
CHECKS = (
    "backpropagation ran, gradients shaped like the parameters",
    f"autograd agrees (rel. error ≤ {format_tolerance(AUTOGRAD_TOLERANCE)})",
    f"finite differences agree (rel. error ≤ {format_tolerance(FINITE_DIFFERENCE_TOLERANCE)})",
)
_BROADCAST_WARNING = "Using a target size .* that is different to the input size"


def course_loss(y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The course's loss: ``MSELoss(reduction="none")(y_pred, y).sum()`` (torch's broadcasting warning muted)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_BROADCAST_WARNING, category=UserWarning)
        return nn.MSELoss(reduction="none")(y_pred, y).sum()


@dataclass(frozen=True)
class SampleResult:
    """One sample's checks: the comparisons per parameter tensor, or why there are none."""
    sample: int
    autograd: tuple[GradientComparison, ...] = ()
    finite_differences: tuple[GradientComparison, ...] = ()
    problem: str | None = None  # an exception the candidate raised, or gradients of the wrong shape
    finite_differences_due: bool = True  # False on the samples run_procedure spares that slow check

    @property
    def ran(self) -> bool:
        return self.problem is None

    @property
    def autograd_passed(self) -> bool:
        return self.ran and bool(self.autograd) and all(row.passed for row in self.autograd)

    @property
    def finite_differences_passed(self) -> bool:
        return self.ran and bool(self.finite_differences) and all(row.passed for row in self.finite_differences)

    @property
    def passed(self) -> bool:
        return self.autograd_passed and (self.finite_differences_passed or not self.finite_differences_due)

    @property
    def failure(self) -> str | None:
        """Why this sample failed (its problem, or the first comparison that failed); None if it passed."""
        return None if self.passed else _first_failure(self)


@dataclass
class ProcedureReport:
    """Every sample's :class:`SampleResult`, and a compact pass/fail table of them."""
    samples: list[SampleResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.samples) and all(s.passed for s in self.samples)

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per check: (samples that passed it, samples it was due on)."""
        due = [s for s in self.samples if s.finite_differences_due]
        return {CHECKS[0]: (sum(s.ran for s in self.samples), len(self.samples)),
                CHECKS[1]: (sum(s.autograd_passed for s in self.samples), len(self.samples)),
                CHECKS[2]: (sum(s.finite_differences_passed for s in due), len(due))}

    def summary(self, title: str = "") -> str:
        """Check, samples passed, PASS/FAIL; then the first problem, if any (verdicts only, no round-off)."""
        n, width = len(self.samples), max(len(check) for check in CHECKS)
        lines = [title] if title else []
        lines.append(f"{'check':<{width}}  {'passed':>7}  result")
        for check, (count, due) in self.counts().items():
            lines.append(f"{check:<{width}}  {f'{count}/{due}':>7}  {'PASS' if due and count == due else 'FAIL'}")
        lines.append(f"{'PASSED' if self.passed else 'FAILED'}: {sum(s.passed for s in self.samples)}/{n} "
                     "samples passed every check")
        failed = next((s for s in self.samples if not s.passed), None)
        if failed is not None:
            lines.append(f"first failure, sample {failed.sample}: {failed.failure}")
        return "\n".join(lines)


def _first_failure(result: SampleResult) -> str:
    if result.problem is not None:
        return result.problem
    for reference, rows in (("autograd", result.autograd), ("finite differences", result.finite_differences)):
        for row in rows:
            if not row.passed:
                return f"{row.name} against {reference}: {row.verdict}"
    return "no comparison ran"


def _shape_problem(model: nn.Module, grads: dict[str, object]) -> str | None:
    params = dict(model.named_parameters())
    for name, param in params.items():
        grad = grads.get(name)
        if not isinstance(grad, torch.Tensor):
            return f"{name}: no gradient stored (got {type(grad).__name__})"
        if grad.shape != param.shape:
            return f"{name}: gradient of shape {tuple(grad.shape)}, expected {tuple(param.shape)}"
    return None


def _repeated_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, y_pred: torch.Tensor):
    """The course's loss as a function of the parameters, for finite differences (thousands of calls).

    The same numbers as ``course_loss(model(x), y)``: the target broadcast once, beforehand, spares every
    call torch's size check and its warning."""
    if torch.broadcast_shapes(y.shape, y_pred.shape) != y_pred.shape:  # MSELoss enlarges: keep its own way
        return lambda: course_loss(model(x), y)
    target = y.expand_as(y_pred)
    return lambda: nn.functional.mse_loss(model(x), target, reduction="none").sum()


def check_sample(backprop: Backpropagation, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 index: int = 0, finite_differences: bool = True) -> SampleResult:
    """Steps 1-4 for one sample; leaves autograd's gradients in ``p.grad`` for the optimiser step."""
    for p in model.parameters():
        p.grad = None
    for l in range(1, model.L + 1):  # a previous sample's gradients must not pass for this one's
        model.dL_dw[l] = model.dL_db[l] = None
    y_pred = model(x)
    course_loss(y_pred, y).backward()
    try:
        backprop(model, y, y_pred)
        grads = named_gradients(model)
    except Exception as error:  # noqa: BLE001 - the procedure reports a crash as a failed sample
        return SampleResult(index, problem=f"{type(error).__name__}: {error}",
                            finite_differences_due=finite_differences)
    problem = _shape_problem(model, grads)
    if problem is not None:
        return SampleResult(index, problem=problem, finite_differences_due=finite_differences)
    grads = {name: g.detach().clone() for name, g in grads.items()}
    autograd = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    rows = tuple(compare_gradients(grads, autograd, AUTOGRAD_TOLERANCE))
    fd_rows = ()
    if finite_differences:
        fd_rows = tuple(finite_difference_check(model, _repeated_loss(model, x, y, y_pred), grads))
    return SampleResult(index, rows, fd_rows, finite_differences_due=finite_differences)


def run_procedure(backprop: Backpropagation, model: nn.Module,
                  samples: Iterable[tuple[torch.Tensor, torch.Tensor]], lr: float = 0.01,
                  finite_difference_every: int = 1) -> ProcedureReport:
    """The whole procedure over ``samples``, pairs ``(x, y)`` each a batch of one, as the course feeds them.

    Args:
        backprop: the candidate, called as ``backprop(model, y, y_pred)``.
        model: float64 (finite differences need it), exposing ``L``, ``dL_dw``, ``dL_db`` and ``fc`` like
            :class:`helpers.mynet.MyNet`; the optimiser steps train it.
        samples: e.g. ``zip(xs, ys)``; ``y`` in any form ``torch.nn.MSELoss`` accepts against ``model(x)``.
        lr: the SGD learning rate.
        finite_difference_every: compare with central differences on every k-th sample only, from the
            first (they take two forward passes per parameter: seconds for a 576-16-10 network); the
            autograd comparison runs on every sample.
    """
    if isinstance(finite_difference_every, bool) or not isinstance(finite_difference_every, int) \
            or finite_difference_every < 1:
        raise ValueError(f"finite_difference_every must be an int >= 1, got {finite_difference_every!r}")
    dtypes = {str(p.dtype) for p in model.parameters()}
    if dtypes != {"torch.float64"}:
        raise ValueError(f"the procedure needs a float64 model (call model.double()), got {sorted(dtypes)}")
    report = ProcedureReport()
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    for index, (x, y) in enumerate(samples):
        report.samples.append(check_sample(backprop, model, x, y, index,
                                           finite_differences=index % finite_difference_every == 0))
        optimiser.step()  # with autograd's gradients: a wrong candidate does not change the path
        optimiser.zero_grad(set_to_none=True)
    return report


# --- the course's two cells, with data we can make here ----------------------------------------------

def _seeded_model(n_l: list[int], seed: int) -> nn.Module:
    """``MyNet(n_l).double()`` initialised from ``seed`` without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MyNet(n_l).double()


def small_cell(n_samples: int = 10, seed: int = 0) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The first cell's shapes: ``MyNet([2, 3, 2])`` in float64, samples x (1, 2) and y (1, 2), seeded."""
    generator = torch.Generator().manual_seed(seed)
    model = _seeded_model([2, 3, 2], seed)
    x = torch.randn(n_samples, 1, 2, generator=generator, dtype=torch.float64)
    y = torch.randn(n_samples, 1, 2, generator=generator, dtype=torch.float64)
    return model, list(zip(x, y))


def mnist_standin_cell(n_samples: int = 4, seed: int = 0) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The MNIST cell's shapes with synthetic data: ``MyNet([576, 16, 10])`` in float64, images (1, 1, 24, 24)
    of float64 pixels in [0, 1) (random, seeded: MNIST itself cannot be downloaded here), and targets
    ``torch.Tensor([[label]])``, float32 of shape (1, 1), for integer labels 0-9."""
    generator = torch.Generator().manual_seed(seed)
    model = _seeded_model([576, 16, 10], seed)
    images = torch.rand(n_samples, 1, 1, 24, 24, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (n_samples,), generator=generator)
    return model, [(image, torch.Tensor([[int(label)]])) for image, label in zip(images, labels)]
