"""The checks of notebook 03's exercises: 3.1 ``backpropagation`` and 3.2 ``manual_sgd_step`` (helpers/mynet.py).

3.1 runs the student's ``backpropagation`` against autograd and central differences (float64, the policy of
:mod:`helpers.gradcheck`) on small ``MyNet``\\ s, and through the INF265 course's own per-sample procedure
(:mod:`helpers.checks.inf265_procedure`) on both of its cells. A wrong gradient is compared with what the
common mistakes give, each computed by autograd on a forward pass altered to make that mistake (a slope of
1 instead of f'(z), f' taken of the activation), or by rescaling/transposing autograd's gradient.
3.2 steps with the student's ``manual_sgd_step`` and with ``torch.optim.SGD`` from the same gradients and
compares the parameters bit for bit (a few ulp pass too: another order of operations). The student's code runs
in the sandbox (``code``, a :class:`helpers.checks.sandbox.StudentCode`, through
:mod:`helpers.checks.harness_training`); every reference and verdict is computed here.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from helpers import mynet
from helpers.checks.exercise_outcomes import ROUNDING_ULPS, within_rounding
from helpers.checks.toolkit import matches, CheckOutcome, diagnose
from helpers.checks.inf265_procedure import check_sample, mnist_standin_cell, small_cell
from helpers.gradcheck import AUTOGRAD_TOLERANCE, finite_difference_check
from helpers.training_references import gradient_step_by_torch_optim

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
HARNESS = "helpers.checks.harness_training"


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
    generator = torch.Generator().manual_seed(seed)
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
        if not isinstance(student[name], torch.Tensor) or not matches(student[name], expected[name],
                                                                      AUTOGRAD_TOLERANCE):
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
        if not isinstance(got, torch.Tensor) or not matches(got, delta, AUTOGRAD_TOLERANCE):
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
    for index, (x, y) in enumerate(samples):
        result = check_sample(sandboxed, model, x, y, index, finite_differences=finite_differences)
        if not result.passed:
            return CheckOutcome(title, False, f"the course's procedure reports: {result.failure}")
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
    generator = torch.Generator().manual_seed(6)
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
        expected = _stepped(model, gradient_step_by_torch_optim, lr)
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
                      if not matches(variant[wrong], expected[wrong])}
        outcomes.append(CheckOutcome(title, False, f"{names[wrong]}: " + diagnose(
            student[wrong], expected[wrong], per_tensor, what="the updated parameter")))
    outcomes.append(CheckOutcome("dL_dw and dL_db left as backpropagation stored them", kept,
                                 "" if kept else "the step changed the stored gradients: only the parameters move"))
    return outcomes
