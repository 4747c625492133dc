"""Notebook 03 (INF265 §2: the delta rule): exercises 3.1 ``backpropagation`` and 3.2 ``manual_sgd_step``
(helpers/mynet.py), their references, checks and registry entries, and the course's two procedures.

Sections, in order:

* **References**: what stands in for an unfinished exercise in the student edition (``stand_ins``), and what
  the checks compare with: torch's autograd and ``torch.optim.SGD``, never the solution.
* **Exercise 3.1's checks**: the student's ``backpropagation`` against autograd and central differences
  (float64, the policy of :mod:`helpers.gradcheck`) on small ``MyNet``\\ s, and through the INF265 course's own
  per-sample procedure on both of its cells. A wrong gradient is compared with what the common mistakes give,
  each computed by autograd on a forward pass altered to make that mistake (a slope of 1 instead of f'(z),
  f' taken of the activation), or by rescaling/transposing autograd's gradient.
* **Exercise 3.2's checks**: one step with the student's ``manual_sgd_step`` and with ``torch.optim.SGD`` from
  the same gradients, compared bit for bit (a few ulp pass too: another order of operations).
* **The registry** :data:`EXERCISES` (see :mod:`helpers.checks.exercises`).
* **The INF265 test procedure** (:func:`run_procedure`, :func:`check_sample`, the course's two cells) and
  **the grader's procedure** (:func:`grade_backpropagation`), which the notebook runs by name. Both give
  :class:`CheckOutcome` lists (one per sample, one per step); the tables the notebook prints are functions of
  those (:func:`procedure_summary`, :func:`grading_summary`, :func:`error_tables`).

The student's code runs in the sandbox (``code``, a :class:`helpers.checks.sandbox.StudentCode`, through
:mod:`helpers.checks.nb03_delta_rule_sandbox`); every reference and verdict is computed here.
"""
from __future__ import annotations

import copy
import math
import warnings
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from helpers import mynet
from helpers.checks.toolkit import ROUNDING_ULPS, CheckOutcome, Exercise, close, diagnose, seeded, within_rounding
from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, GradientComparison, autograd_check,
                               compare_gradients, finite_difference_check, format_report, format_tolerance)
from helpers.mynet import MyNet, named_gradients

Backpropagation = Callable[[nn.Module, torch.Tensor, torch.Tensor], object]


# == References ===============================================================================================


def backpropagation_reference(model: nn.Module, y_true: torch.Tensor, y_pred: torch.Tensor
                                ) -> dict[int, torch.Tensor]:
    """Stand-in for :func:`helpers.mynet.backpropagation` (and the checks' reference): autograd replays the
    stored forward pass.

    Shapes: y_true broadcastable to y_pred (N, n_L). Fills ``model.dL_dw[l]`` (n_l, n_(l-1)) and
    ``model.dL_db[l]`` (n_l,), returns ``{l: ∂loss/∂z[l]}`` each (N, n_l), for loss = Σ (y_true - y_pred)²;
    leaves every ``p.grad`` as it was.
    """
    layers = range(1, model.L + 1)
    with torch.enable_grad():
        activation, pre_activations = model.a[0].detach(), {}
        for l in layers:
            pre_activations[l] = model.fc[str(l)](activation)
            activation = model.f[l](pre_activations[l])
        loss = nn.functional.mse_loss(activation, y_true.expand_as(activation), reduction="sum")
        parameters = [p for l in layers for p in (model.fc[str(l)].weight, model.fc[str(l)].bias)]
        gradients = torch.autograd.grad(loss, [pre_activations[l] for l in layers] + parameters)
    local = dict(zip(layers, gradients[:model.L]))
    for index, l in enumerate(layers):
        model.dL_dw[l], model.dL_db[l] = gradients[model.L + 2 * index], gradients[model.L + 2 * index + 1]
    return local


def _step_with(parameters: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor],
               optimizer_factory: Callable[[list[torch.Tensor]], torch.optim.Optimizer]) -> None:
    """Step ``optimizer_factory(parameters)`` once with ``gradients`` in ``.grad``, then restore the old grads."""
    saved = [p.grad for p in parameters]
    for p, g in zip(parameters, gradients):
        p.grad = g
    try:
        optimizer_factory(list(parameters)).step()
    finally:
        for p, g in zip(parameters, saved):
            p.grad = g


def manual_sgd_step_reference(model: nn.Module, lr: float) -> None:
    """Stand-in for :func:`helpers.mynet.manual_sgd_step`: ``torch.optim.SGD(lr)`` with ``dL_dw``, ``dL_db``.

    Shapes: every ``fc[str(l)]`` weight (n_l, n_(l-1)) and bias (n_l,) updated in place; grads untouched.
    """
    layers = [model.fc[str(l)] for l in range(1, model.L + 1)]
    parameters = [p for layer in layers for p in (layer.weight, layer.bias)]
    gradients = [g for l in range(1, model.L + 1) for g in (model.dL_dw[l], model.dL_db[l])]
    _step_with(parameters, gradients, lambda params: torch.optim.SGD(params, lr=lr, foreach=False))


# == Exercise 3.1's checks ====================================================================================


BACKPROP_DIAGNOSES = (
    "missing the factor 2 of the squared error's derivative",
    "sign error in the loss's derivative (the residual's sign flipped)",
    "an extra 1/N: the loss is a sum over the batch, not a mean",
    "weight gradient transposed (it must have the weight's shape, n_l × n_(l-1))",
    "bias gradient not summed over the batch (one row per sample)",
    "forgot the local derivative of the activation (δ without its slope)",
    "wrong activation derivative: f' evaluated at the activation a",
)
STEP_DIAGNOSES = ("step in the wrong direction (gradient ascent)",
                  "learning rate not applied", "biases not updated",
                  "used p.grad instead of the gradients backpropagation stored in dL_dw / dL_db",
                  "right up to rounding only: passes (within a few ulp), named as such")
HARNESS = "helpers.checks.nb03_delta_rule_sandbox"


def _gradients_with_slope(model: nn.Module, x: torch.Tensor, y: torch.Tensor, slope=None) -> dict[str, torch.Tensor]:
    """Autograd's parameter gradients of Σ (y - model(x))² when each layer's derivative is ``slope(l, z)``
    (None: the true f'). The forward values are the model's; only the backward pass is altered."""
    activation = x.reshape(len(x), -1)
    for l in range(1, model.L + 1):
        z = model.fc[str(l)](activation)
        activation = model.f[l](z)
        if slope is not None:
            rate = slope(l, z).detach()
            activation = activation.detach() + rate * z - (rate * z).detach()
    loss = ((y - activation) ** 2).sum()
    names = [name for name, _ in model.named_parameters()]
    return dict(zip(names, torch.autograd.grad(loss, list(model.parameters()))))


def _delta_rule_case(n_l, activations, n_samples: int, seed: int):
    generator = seeded(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = mynet.MyNet(n_l, activations).double()
    x = torch.randn(n_samples, n_l[0], generator=generator, dtype=torch.float64)
    y = torch.randn(n_samples, n_l[-1], generator=generator, dtype=torch.float64)
    return model, x, y


def _state(model: nn.Module) -> dict:
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


def _student_backpropagation(code, model: nn.Module, activations, x: torch.Tensor, y: torch.Tensor):
    """The student's ``backpropagation`` in the sandbox on a copy of ``model`` (data: see the harness)."""
    return code.call(f"{HARNESS}:backpropagation_run", list(model.n_l), activations, _state(model), x, y)


def _backprop_mistakes(model, x, y, name: str, batch_deltas: dict[int, torch.Tensor]) -> dict:
    """{mistake: reference -> what it gives} for the gradient ``name`` ('fc.2.weight') of this case."""
    layer = int(name.split(".")[1])
    no_slope = _gradients_with_slope(model, x, y, lambda l, z: torch.ones_like(z))
    slope_of_a = _gradients_with_slope(model, x, y, lambda l, z: model.df[l](model.f[l](z)))
    n = len(x)
    return {
        BACKPROP_DIAGNOSES[0]: lambda g: g / 2,
        BACKPROP_DIAGNOSES[1]: lambda g: -g,
        BACKPROP_DIAGNOSES[2]: lambda g: g / n,
        BACKPROP_DIAGNOSES[3]: lambda g: g.T if g.dim() == 2 else g + torch.nan,
        BACKPROP_DIAGNOSES[4]: lambda g: batch_deltas[layer] if name.endswith("bias") else g + torch.nan,
        BACKPROP_DIAGNOSES[5]: lambda g: no_slope[name],
        BACKPROP_DIAGNOSES[6]: lambda g: slope_of_a[name],
    }


def _named(run: dict, model: nn.Module) -> dict:
    """The student's ``dL_dw`` / ``dL_db`` keyed like ``model.named_parameters()`` (None where missing)."""
    dL_dw, dL_db = run.get("dL_dw"), run.get("dL_db")
    dL_dw, dL_db = (d if isinstance(d, dict) else {} for d in (dL_dw, dL_db))
    grads = {}
    for l in range(1, model.L + 1):
        grads[f"fc.{l}.weight"], grads[f"fc.{l}.bias"] = dL_dw.get(l), dL_db.get(l)
    return grads


def _against_autograd(code, n_l, activations, n_samples: int, seed: int, title: str) -> CheckOutcome:
    model, x, y = _delta_rule_case(n_l, activations, n_samples, seed)
    expected = _gradients_with_slope(model, x, y)
    y_pred = model(x)
    with torch.enable_grad():
        pre_activations = [model.z[l] for l in range(1, model.L + 1)]
        deltas = torch.autograd.grad(((y - y_pred) ** 2).sum(), pre_activations, retain_graph=True)
    batch_deltas = dict(zip(range(1, model.L + 1), deltas))
    run = _student_backpropagation(code, model, activations, x, y)
    parameters = run["parameters"]
    if not all(isinstance(parameters.get(name), torch.Tensor) and torch.equal(parameters[name], p.detach())
               for name, p in model.named_parameters()):
        return CheckOutcome(title, False, "backpropagation changed the parameters: it must only read them")
    if run["changed_inputs"]:
        return CheckOutcome(title, False, f"backpropagation modified {', '.join(run['changed_inputs'])} in place: "
                                          "it must only read y_true, y_pred and the stored forward pass")
    student = _named(run, model)
    for name in sorted(expected, key=lambda key: (-int(key.split(".")[1]), key)):  # output layer first
        if not isinstance(student[name], torch.Tensor) or not close(student[name], expected[name]):
            if student[name] is None:
                return CheckOutcome(title, False, f"{name}: not filled in (model.dL_dw / dL_db left None)")
            if not isinstance(student[name], torch.Tensor):
                return CheckOutcome(title, False, f"{name}: a {type(student[name]).__name__}, expected a tensor")
            mistakes = _backprop_mistakes(model, x, y, name, batch_deltas)
            return CheckOutcome(title, False, f"{name}: " + diagnose(student[name], expected[name], mistakes,
                                                                      what="this gradient"))
    returned = run["returned"]
    for l, delta in batch_deltas.items():
        got = returned.get(l) if isinstance(returned, dict) else None
        if not isinstance(got, torch.Tensor) or not close(got, delta):
            what = "missing" if got is None else "not ∂loss/∂z[l] of this batch"
            return CheckOutcome(title, False, f"the returned local gradients {{l: δ[l]}}: δ[{l}] {what} "
                                              f"(return the deltas, each (N, n_l))")
    return CheckOutcome(title, True)


def _finite_differences(code, seed: int) -> CheckOutcome:
    title = "agrees with central finite differences (MyNet [3, 4, 2], tanh, batch of 3)"
    model, x, y = _delta_rule_case([3, 4, 2], "tanh", 3, seed)
    run = _student_backpropagation(code, model, "tanh", x, y)
    model(x)
    student = {name: g.detach().clone() for name, g in _named(run, model).items() if isinstance(g, torch.Tensor)}
    misshapen = [name for name, p in model.named_parameters() if name not in student or student[name].shape != p.shape]
    if misshapen:
        return CheckOutcome(title, False, f"{', '.join(misshapen)}: missing or not shaped like the parameter")
    rows = finite_difference_check(model, lambda: ((y - model(x)) ** 2).sum(), student)
    failed = [row.name for row in rows if not row.passed]
    return CheckOutcome(title, not failed, f"{', '.join(failed)} differ from the finite differences" if failed else "")


def _course_procedure(code, cell, title: str, finite_differences: bool) -> CheckOutcome:
    """The course's per-sample procedure on two samples of ``cell``; central differences only where cheap.

    The procedure runs here; its call of the candidate runs the student's ``backpropagation`` in the sandbox
    on a copy of the model (same parameters, same sample) and stores what came back in the model."""
    model, samples = cell(n_samples=2, seed=3)

    def sandboxed(model: nn.Module, y: torch.Tensor, y_pred: torch.Tensor) -> None:
        grads = _named(_student_backpropagation(code, model, model.activations, model.a[0], y), model)
        for l in range(1, model.L + 1):
            model.dL_dw[l], model.dL_db[l] = grads[f"fc.{l}.weight"], grads[f"fc.{l}.bias"]

    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    for x, y in samples:
        reason = failure(check_sample(sandboxed, model, x, y, finite_differences=finite_differences))
        if reason is not None:
            return CheckOutcome(title, False, f"the course's procedure reports: {reason}")
        optimiser.step()  # with autograd's gradients, as the course does
        optimiser.zero_grad(set_to_none=True)
    return CheckOutcome(title, True)


def check_backpropagation(code) -> list[CheckOutcome]:
    """Exercise 3.1: autograd on three networks, finite differences, the INF265 procedure on both its cells."""
    model, x, y = _delta_rule_case([3, 4, 2], "tanh", 5, 0)
    _student_backpropagation(code, model, "tanh", x, y)  # an unfinished exercise stops here ("not done yet")
    return [
        _against_autograd(code, [3, 4, 2], "tanh", 5, 0, "agrees with autograd (MyNet [3, 4, 2], tanh, batch of 5)"),
        _against_autograd(code, [2, 5, 4, 3], ["sigmoid", "relu", "identity"], 6, 1,
                          "agrees with autograd (MyNet [2, 5, 4, 3], sigmoid / relu / identity, batch of 6)"),
        _against_autograd(code, [4, 3], "sigmoid", 1, 2, "agrees with autograd (one layer, one sample)"),
        _finite_differences(code, 4),
        _course_procedure(code, small_cell, "INF265 procedure, small data set cell (MyNet [2, 3, 2])", True),
        _course_procedure(code, mnist_standin_cell,
                          "INF265 procedure, MNIST-shaped cell ((1, 1) float32 targets)", False),
    ]


# == Exercise 3.2's checks ====================================================================================


def _stepped(model: nn.Module, step, lr: float) -> list[torch.Tensor]:
    copied = copy.deepcopy(model)
    step(copied, lr)
    return [p.detach().clone() for p in copied.parameters()]


def _optim_variant(model: nn.Module, lr: float, **changes) -> list[torch.Tensor]:
    """The parameters after one ``torch.optim.SGD`` step with a mistake: changed settings or gradients."""
    copied = copy.deepcopy(model)
    layers = [copied.fc[str(l)] for l in range(1, copied.L + 1)]
    if changes.get("frozen_bias"):
        for layer in layers:
            layer.bias.requires_grad_(False)
    parameters = [p for layer in layers for p in (layer.weight, layer.bias) if p.requires_grad]
    if not changes.get("use_p_grad"):
        gradients = {id(layer.weight): copied.dL_dw[l] for l, layer in enumerate(layers, 1)}
        gradients.update({id(layer.bias): copied.dL_db[l] for l, layer in enumerate(layers, 1)})
        for p in parameters:
            p.grad = gradients[id(p)]
    torch.optim.SGD(parameters, lr=changes.get("changed_lr", lr), maximize=changes.get("maximize", False),
                    foreach=False).step()
    return [p.detach().clone() for p in copied.parameters()]


def check_manual_sgd_step(code) -> list[CheckOutcome]:
    """Exercise 3.2: one and two steps against ``torch.optim.SGD``, bit for bit (or within a few ulp, named
    as such); the gradients left alone."""
    model, x, y = _delta_rule_case([3, 4, 2], "tanh", 4, 5)
    generator = seeded(6)
    for l in range(1, model.L + 1):
        layer = model.fc[str(l)]
        model.dL_dw[l] = torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64)
        model.dL_db[l] = torch.randn(layer.bias.shape, generator=generator, dtype=torch.float64)
        layer.weight.grad, layer.bias.grad = torch.ones_like(layer.weight), torch.ones_like(layer.bias)
    dL_dw = {l: model.dL_dw[l].clone() for l in range(1, model.L + 1)}
    dL_db = {l: model.dL_db[l].clone() for l in range(1, model.L + 1)}
    run = code.function(f"{HARNESS}:manual_sgd_step_run")
    outcomes, kept = [], True
    names = [name for name, _ in model.named_parameters()]
    for lr in (0.1, 0.37):
        expected = _stepped(model, manual_sgd_step_reference, lr)
        result = run(list(model.n_l), "tanh", _state(model), dL_dw, dL_db, lr)
        student = result["parameters"]
        kept &= all(isinstance(result["dL_dw"].get(l), torch.Tensor) and torch.equal(result["dL_dw"][l], w)
                    and isinstance(result["dL_db"].get(l), torch.Tensor) and torch.equal(result["dL_db"][l], b)
                    for l, (w, b) in ((l, (dL_dw[l], dL_db[l])) for l in dL_dw))
        title = f"parameters equal torch.optim.SGD's, bit for bit (lr = {lr})"
        if not isinstance(student, list) or len(student) != len(expected):
            outcomes.append(CheckOutcome(title, False, "the model's parameters were replaced or removed: update "
                                                      "each weight and bias in place"))
            continue
        if all(isinstance(s, torch.Tensor) and s.shape == e.shape and torch.equal(s, e)
               for s, e in zip(student, expected)):
            outcomes.append(CheckOutcome(title, True))
            continue
        if all(within_rounding(s, e) for s, e in zip(student, expected)):  # rounding before any mistake model
            outcomes.append(CheckOutcome(f"{title}: within {ROUNDING_ULPS} ulp, not bit for bit (another order "
                                         "of operations)", True))
            continue
        mistakes = {STEP_DIAGNOSES[0]: _optim_variant(model, lr, maximize=True),
                    STEP_DIAGNOSES[1]: _optim_variant(model, lr, changed_lr=1.0),
                    STEP_DIAGNOSES[2]: _optim_variant(model, lr, frozen_bias=True),
                    STEP_DIAGNOSES[3]: _optim_variant(model, lr, use_p_grad=True)}
        wrong = next(i for i, (s, e) in enumerate(zip(student, expected)) if not within_rounding(s, e))
        # a mistake that gives the right answer for this tensor is never offered for it
        per_tensor = {text: (lambda _, v=variant[wrong]: v) for text, variant in mistakes.items()
                      if not close(variant[wrong], expected[wrong])}
        outcomes.append(CheckOutcome(title, False, f"{names[wrong]}: " + diagnose(
            student[wrong], expected[wrong], per_tensor, what="the updated parameter")))
    outcomes.append(CheckOutcome("dL_dw and dL_db left as backpropagation stored them", kept,
                                 "" if kept else "the step changed the stored gradients: only the parameters move"))
    return outcomes


# == The registry =============================================================================================


NB03 = "03_mynet_delta_rule"
EXERCISES = (
    Exercise("3.1", "backpropagation by the delta rule", NB03, "INF265 §2.1", 4, ("helpers/mynet.py",),
             ("backpropagation",), check_backpropagation, BACKPROP_DIAGNOSES, ("autograd", "references"),
             {"helpers.mynet:backpropagation": (backpropagation_reference,
                                                "torch autograd's gradients of the same loss")}),
    Exercise("3.2", "a gradient-descent step with the delta-rule gradients", NB03, "INF265 §1, eq. (3)", 1,
             ("helpers/mynet.py",), ("manual_sgd_step",), check_manual_sgd_step, STEP_DIAGNOSES,
             ("torch.optim", "references"),
             {"helpers.mynet:manual_sgd_step": (manual_sgd_step_reference,
                                                "torch.optim.SGD stepping with dL_dw and dL_db")}),
)


# == The INF265 course's test procedure =======================================================================


# The INF265 test procedure for ``backpropagation(model, y_true, y_pred)``, restated in our own words.
#
# The course checks a student's function one sample at a time, on the model it trains meanwhile:
#
# 1. forward pass ``y_pred = model(x)``;
# 2. autograd's gradients: ``MSELoss(reduction="none")(y_pred, y).sum().backward()`` fills every ``p.grad``;
# 3. the candidate: ``backpropagation(model, y, y_pred)`` fills ``model.dL_dw`` and ``model.dL_db``;
# 4. the candidate's gradients against autograd's, then against central differences of the same loss
#    (tolerances and error measure: the one policy of :mod:`helpers.gradcheck`);
# 5. an optimiser step (``torch.optim.SGD``, with autograd's gradients), so later samples meet other weights.
#
# The targets are used as the course passes them: ``torch.nn.MSELoss`` broadcasts a (1, 1) label against a
# (1, 10) output, so the loss compares every output with that label. torch warns about the size difference;
# that broadcast is the one intended here, so :func:`course_loss` silences exactly that warning.
#
# A wrong candidate is reported, never raised: an exception it throws, or gradients of the wrong shape, fail
# that sample with a message. Each sample's result is a list of :class:`CheckOutcome`, one per check of
# PROCEDURE_CHECKS that was due (finite differences only on the samples asked for); :func:`failure` says why a
# sample failed, :func:`procedure_summary` prints the table over all samples.


PROCEDURE_CHECKS = (
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


def failure(outcomes: Sequence[CheckOutcome]) -> str | None:
    """Why a sample (or step) failed: the first failed outcome's diagnosis; None if every outcome passed."""
    return next((each.diagnosis for each in outcomes if not each.passed), None)


def procedure_summary(samples: Sequence[Sequence[CheckOutcome]], title: str = "") -> str:
    """Check, samples passed / samples it was due on, PASS/FAIL; then the first failure, if any (verdicts only,
    no round-off). ``samples``: what :func:`run_procedure` returns."""
    width = max(len(check) for check in PROCEDURE_CHECKS)
    lines = [title] if title else []
    lines.append(f"{'check':<{width}}  {'passed':>7}  result")
    for check in PROCEDURE_CHECKS:
        due = [each.passed for sample in samples for each in sample if each.name == check]
        count = sum(due)
        lines.append(f"{check:<{width}}  {f'{count}/{len(due)}':>7}  {'PASS' if due and count == len(due) else 'FAIL'}")
    failures = [failure(sample) for sample in samples]
    passed = sum(reason is None for reason in failures)
    lines.append(f"{'PASSED' if samples and passed == len(samples) else 'FAILED'}: {passed}/{len(samples)} "
                 "samples passed every check")
    first = next((index for index, reason in enumerate(failures) if reason is not None), None)
    if first is not None:
        lines.append(f"first failure, sample {first}: {failures[first]}")
    return "\n".join(lines)


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


def sample_comparisons(backprop: Backpropagation, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                       finite_differences: bool = True
                       ) -> tuple[str | None, list[GradientComparison], list[GradientComparison]]:
    """Steps 1-4 for one sample: ``(problem, against autograd, against finite differences)``.

    ``problem``: the exception the candidate raised, or its first gradient of the wrong shape (then no
    comparison ran); else one :class:`~helpers.gradcheck.GradientComparison` per parameter tensor for each
    reference (none for finite differences unless ``finite_differences``). Leaves autograd's gradients in
    ``p.grad`` for the optimiser step."""
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
        return f"{type(error).__name__}: {error}", [], []
    problem = _shape_problem(model, grads)
    if problem is not None:
        return problem, [], []
    grads = {name: g.detach().clone() for name, g in grads.items()}
    autograd = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    rows = compare_gradients(grads, autograd, AUTOGRAD_TOLERANCE)
    fd_rows = finite_difference_check(model, _repeated_loss(model, x, y, y_pred), grads) if finite_differences else []
    return None, rows, fd_rows


def _agreement(check: str, reference: str, rows: list[GradientComparison]) -> CheckOutcome:
    wrong = next((row for row in rows if not row.passed), None)
    if not rows or wrong is not None:
        return CheckOutcome(check, False, "no comparison ran" if not rows else
                            f"{wrong.name} against {reference}: {wrong.verdict}")
    return CheckOutcome(check, True)


def check_sample(backprop: Backpropagation, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 finite_differences: bool = True) -> list[CheckOutcome]:
    """One sample's checks (PROCEDURE_CHECKS, finite differences only when ``finite_differences``), from
    :func:`sample_comparisons`; a problem fails each of them with its message."""
    ran, autograd, fd = PROCEDURE_CHECKS
    problem, rows, fd_rows = sample_comparisons(backprop, model, x, y, finite_differences)
    due = [ran, autograd, fd] if finite_differences else [ran, autograd]
    if problem is not None:
        return [CheckOutcome(check, False, problem) for check in due]
    outcomes = [CheckOutcome(ran, True), _agreement(autograd, "autograd", rows)]
    if finite_differences:
        outcomes.append(_agreement(fd, "finite differences", fd_rows))
    return outcomes


def run_procedure(backprop: Backpropagation, model: nn.Module,
                  samples: Iterable[tuple[torch.Tensor, torch.Tensor]], lr: float = 0.01,
                  finite_difference_every: int = 1) -> list[list[CheckOutcome]]:
    """The whole procedure over ``samples``, pairs ``(x, y)`` each a batch of one, as the course feeds them.

    Returns one list of :class:`CheckOutcome` per sample (:func:`check_sample`); print them with
    :func:`procedure_summary`.

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
    checked = []
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    for index, (x, y) in enumerate(samples):
        checked.append(check_sample(backprop, model, x, y, finite_differences=index % finite_difference_every == 0))
        optimiser.step()  # with autograd's gradients: a wrong candidate does not change the path
        optimiser.zero_grad(set_to_none=True)
    return checked


# --- the course's two cells, with data we can make here ----------------------------------------------

def _seeded_model(n_l: list[int], seed: int) -> nn.Module:
    """``MyNet(n_l).double()`` initialised from ``seed`` without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MyNet(n_l).double()


def small_cell(n_samples: int = 10, seed: int = 0) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The first cell's shapes: ``MyNet([2, 3, 2])`` in float64, samples x (1, 2) and y (1, 2), seeded."""
    generator = seeded(seed)
    model = _seeded_model([2, 3, 2], seed)
    x = torch.randn(n_samples, 1, 2, generator=generator, dtype=torch.float64)
    y = torch.randn(n_samples, 1, 2, generator=generator, dtype=torch.float64)
    return model, list(zip(x, y))


def mnist_standin_cell(n_samples: int = 4, seed: int = 0) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The MNIST cell's shapes with synthetic data: ``MyNet([576, 16, 10])`` in float64, images (1, 1, 24, 24)
    of float64 pixels in [0, 1) (random, seeded: MNIST itself cannot be downloaded here), and targets
    ``torch.Tensor([[label]])``, float32 of shape (1, 1), for integer labels 0-9."""
    generator = seeded(seed)
    model = _seeded_model([576, 16, 10], seed)
    images = torch.rand(n_samples, 1, 1, 24, 24, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (n_samples,), generator=generator)
    return model, [(image, torch.Tensor([[int(label)]])) for image, label in zip(images, labels)]


# == The grader's procedure ===================================================================================


# The grader's procedure for ``backpropagation(model, y_true, y_pred)``, re-implemented (notebook 03).
#
# For several epochs of mini-batches of a toy data set, every step runs the candidate backpropagation and
# checks that
#
# 1. every ``dL_dw[l]`` / ``dL_db[l]`` has the shape of ``fc[str(l)].weight`` / ``.bias``;
# 2. no parameter changed (bit for bit) during backpropagation;
# 3. every parameter is still the same leaf tensor, requiring grad (nothing detached or replaced);
# 4. the gradients agree with autograd (relative error ≤ 1e-10 per tensor);
# 5. they agree with central finite differences (relative error ≤ 1e-6);
# 6. an optimiser (``torch.optim.SGD``) stepping with them moves the weights by ``-lr * grad`` (up to
#    round-off).
#
# The optimiser steps also train the model, so later steps check other weights than the first.
# An exception raised by the candidate fails every check of that step, with the exception as the diagnosis.
#
# :func:`grade_backpropagation` returns plain data, a dict: ``"steps"``, one list of :class:`CheckOutcome` per
# step (named by CHECKS), and ``"autograd"`` / ``"finite differences"``, the worst
# :class:`~helpers.gradcheck.GradientComparison` per parameter tensor over all steps. The functions after it
# read that dict: :func:`checks_passed`, :func:`worst_error`, :func:`grading_summary`, :func:`error_tables`.


CHECKS = (
    "gradient shapes match the parameters",
    "parameters unchanged by backpropagation",
    "parameters still the same leaves requiring grad",
    f"autograd agrees (rel. error ≤ {format_tolerance(AUTOGRAD_TOLERANCE)})",
    f"finite differences agree (rel. error ≤ {format_tolerance(FINITE_DIFFERENCE_TOLERANCE)})",
    "an SGD step moves the weights by -lr grad",
)
REFERENCES = ("autograd", "finite differences")  # the grading's worst errors, one table each
RAISED = "backpropagation raised "  # the diagnosis of every check of a step on which the candidate raised


def sum_squared_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """The loss of the course, Σ over samples and outputs of (y - ŷ)²."""
    return ((y_true - y_pred) ** 2).sum()


def _shape_mistake(model: nn.Module) -> str | None:
    for l in range(1, model.L + 1):
        layer = model.fc[str(l)]
        for what, grad, param in (("dL_dw", model.dL_dw.get(l), layer.weight), ("dL_db", model.dL_db.get(l), layer.bias)):
            if not isinstance(grad, torch.Tensor) or grad.shape != param.shape:
                got = tuple(grad.shape) if isinstance(grad, torch.Tensor) else type(grad).__name__
                return f"{what}[{l}] is {got}, expected {tuple(param.shape)}"
    return None


def _moved_by(after: torch.Tensor, before: torch.Tensor, step: torch.Tensor) -> bool:
    """``after == before + step`` up to round-off, and ``after != before`` unless the step is zero."""
    round_off = 4 * torch.finfo(after.dtype).eps * (before.abs() + step.abs())
    exact = bool(((after - (before + step)).abs() <= round_off).all())
    return exact and (not step.any() or not torch.equal(after, before))


def _keep_worst(worst: dict[str, GradientComparison], rows: list[GradientComparison]) -> None:
    for row in rows:
        kept = worst.get(row.name)
        # A NaN error replaces any number and is never replaced (a gradient that went NaN stays reported).
        if kept is None or math.isnan(row.max_relative_error) or row.max_relative_error > kept.max_relative_error:
            worst[row.name] = row


def _grade_step(grading: dict, backprop: Backpropagation, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                optimiser: torch.optim.Optimizer, finite_differences: bool) -> list[CheckOutcome]:
    shapes, unchanged, leaves, autograd, fd, stepped = CHECKS
    originals = dict(model.named_parameters())
    before = {name: p.detach().clone() for name, p in originals.items()}
    for l in range(1, model.L + 1):  # stale gradients from the previous step must not pass the checks
        model.dL_dw[l] = model.dL_db[l] = None

    try:
        backprop(model, y, model(x))
    except Exception as error:  # noqa: BLE001 - a grader reports a crash as a failed step, with its message
        return [CheckOutcome(check, False, f"{RAISED}{type(error).__name__}: {error}") for check in CHECKS]

    params = dict(model.named_parameters())
    outcomes = [CheckOutcome(unchanged, params.keys() == before.keys() and all(
        torch.equal(p.detach(), before[name]) for name, p in params.items()),
        "backpropagation changed a parameter: it must only read them")]
    # The same Parameter objects (the optimiser holds those), still leaves that require grad.
    same_leaves = params.keys() == originals.keys() and all(
        p is originals[name] and p.is_leaf and p.requires_grad for name, p in params.items())
    outcomes.append(CheckOutcome(leaves, same_leaves, "a parameter was replaced, detached or frozen"))
    shape_mistake = _shape_mistake(model)
    outcomes.append(CheckOutcome(shapes, shape_mistake is None, shape_mistake or ""))
    if shape_mistake is not None or not same_leaves:  # the gradient checks need well-formed gradients and parameters
        return outcomes + [CheckOutcome(check, False, "not run: malformed gradients or parameters")
                           for check in CHECKS[3:]]
    grads = {name: g.detach().clone() for name, g in named_gradients(model).items()}
    loss = lambda: sum_squared_error(y, model(x))  # noqa: E731 - re-evaluated at perturbed parameters

    autograd_rows = autograd_check(model, loss, grads)
    _keep_worst(grading["autograd"], autograd_rows)
    outcomes.append(_agreement(autograd, "autograd", autograd_rows))
    if finite_differences:
        fd_rows = finite_difference_check(model, loss, grads)
        _keep_worst(grading["finite differences"], fd_rows)
        outcomes.append(_agreement(fd, "finite differences", fd_rows))

    optimiser.zero_grad(set_to_none=True)
    before_step = {name: p.detach().clone() for name, p in params.items()}
    for name, p in params.items():
        p.grad = grads[name].clone()
    optimiser.step()
    lr = optimiser.param_groups[0]["lr"]
    outcomes.append(CheckOutcome(stepped, all(_moved_by(p.detach(), before_step[name], -lr * grads[name])
                                              for name, p in params.items()),
                                 "an SGD step with these gradients did not move the weights by -lr grad"))
    optimiser.zero_grad(set_to_none=True)
    return outcomes


def grade_backpropagation(backprop: Backpropagation, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                          epochs: int = 3, batch_size: int = 8, lr: float = 0.05, seed: int = 0,
                          finite_difference_every: int = 1) -> dict:
    """Run the six checks on every mini-batch step of ``epochs`` passes over ``(x, y)``.

    Returns ``{"steps": [[CheckOutcome, ...] per step], "autograd": {tensor: worst comparison},
    "finite differences": {tensor: worst comparison}}`` (see the section's comment).

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
    grading = {"steps": [], "autograd": {}, "finite differences": {}}
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    generator = seeded(seed)
    for _ in range(epochs):
        for batch in torch.randperm(x.shape[0], generator=generator).split(batch_size):
            due = len(grading["steps"]) % finite_difference_every == 0
            grading["steps"].append(_grade_step(grading, backprop, model, x[batch], y[batch], optimiser, due))
    return grading


def tally(grading: dict) -> dict[str, tuple[int, int]]:
    """Per check of CHECKS: (steps it passed on, steps it ran on)."""
    outcomes = [each for step in grading["steps"] for each in step]
    return {check: (sum(each.passed for each in outcomes if each.name == check),
                    sum(each.name == check for each in outcomes)) for check in CHECKS}


def checks_passed(grading: dict) -> int:
    """How many checks passed every time they ran (and ran at least once); all of CHECKS: the grading passed."""
    return sum(0 < passes == runs for passes, runs in tally(grading).values())


def worst_error(worst: dict[str, GradientComparison]) -> float:
    """Worst relative error over the tensors of ``grading["autograd"]`` or ``grading["finite differences"]``;
    a NaN anywhere (a gradient that went NaN) is the answer, not skipped; NaN if never run."""
    values = [row.max_relative_error for row in worst.values()]
    if not values or any(math.isnan(v) for v in values):
        return float("nan")
    return max(values)


def grading_summary(grading: dict, title: str = "") -> str:
    """The pass/fail table; errors as verdicts against the tolerances (stable across machines)."""
    width = max(len(check) for check in CHECKS)
    lines = [title] if title else []
    lines.append(f"{'check':<{width}}  {'passed':>7}  result")
    for check, (passes, runs) in tally(grading).items():
        lines.append(f"{check:<{width}}  {f'{passes}/{runs}':>7}  {'PASS' if 0 < passes == runs else 'FAIL'}")
    passed = checks_passed(grading)
    lines.append(f"{'ALL CHECKS PASSED' if passed == len(CHECKS) else 'SOME CHECKS FAILED'}: {passed}/"
                 f"{len(CHECKS)} checks passed every time, over {len(grading['steps'])} steps")
    raised = [(index, failure(step)) for index, step in enumerate(grading["steps"], 1)
              if (failure(step) or "").startswith(RAISED)]
    if raised:
        first, message = raised[0]
        lines.append(f"the candidate raised an exception on {len(raised)} steps, first on step {first}: "
                     f"{message[len(RAISED):]}")
    return "\n".join(lines)


def error_tables(grading: dict) -> str:
    """Worst relative error per parameter tensor over all steps, against autograd and finite differences."""
    return "\n\n".join(format_report(list(grading[reference].values()), f"against {reference}:", stable=True)
                       for reference in REFERENCES)
