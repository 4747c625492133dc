"""The checks of notebook 03's exercises: 3.1 ``backpropagation`` and 3.2 ``manual_sgd_step`` (helpers/mynet.py).

3.1 runs the student's ``backpropagation`` against autograd and central differences (float64, the policy of
:mod:`helpers.gradcheck`) on small ``MyNet``\\ s, and through the INF265 course's own per-sample procedure
(:mod:`helpers.checks.inf265_procedure`) on both of its cells. A wrong gradient is compared with what the
common mistakes give, each computed by autograd on a forward pass altered to make that mistake (a slope of
1 instead of f'(z), f' taken of the activation), or by rescaling/transposing autograd's gradient.
3.2 steps with the student's ``manual_sgd_step`` and with ``torch.optim.SGD`` from the same gradients and
compares the parameters bit for bit. The functions are looked up in :mod:`helpers.mynet` at call time.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from helpers import mynet
from helpers.checks.exercises import CheckOutcome, diagnose, matches
from helpers.checks.inf265_procedure import check_sample, mnist_standin_cell, small_cell
from helpers.gradcheck import AUTOGRAD_TOLERANCE, finite_difference_check
from helpers.training_references import gradient_step_by_torch_optim

BACKPROP_DIAGNOSES = (
    "missing the factor 2 of the squared error's derivative",
    "sign error: the loss's derivative taken as 2 (y - ŷ) instead of 2 (ŷ - y)",
    "an extra 1/N: the loss is a sum over the batch, not a mean",
    "weight gradient transposed (it must have the weight's shape, n_l × n_(l-1))",
    "bias gradient not summed over the batch (one row per sample)",
    "forgot the local derivative f'(z) (δ without the activation's slope)",
    "wrong activation derivative: f' applied to the activation a instead of the pre-activation z",
)
STEP_DIAGNOSES = ("step in the wrong direction (θ + lr·∇ instead of θ − lr·∇)",
                  "learning rate not applied", "biases not updated",
                  "used p.grad instead of the gradients backpropagation stored in dL_dw / dL_db",
                  "right up to rounding only: write the update as torch.optim.SGD does (θ.add_(∇, alpha=-lr))")


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


def _against_autograd(n_l, activations, n_samples: int, seed: int, title: str) -> CheckOutcome:
    model, x, y = _delta_rule_case(n_l, activations, n_samples, seed)
    expected = _gradients_with_slope(model, x, y)
    y_pred = model(x)
    with torch.enable_grad():
        pre_activations = [model.z[l] for l in range(1, model.L + 1)]
        deltas = torch.autograd.grad(((y - y_pred) ** 2).sum(), pre_activations, retain_graph=True)
    batch_deltas = dict(zip(range(1, model.L + 1), deltas))
    parameters_before = [p.detach().clone() for p in model.parameters()]
    mynet.backpropagation(model, y, y_pred)
    if not all(torch.equal(p, before) for p, before in zip(model.parameters(), parameters_before)):
        return CheckOutcome(title, False, "backpropagation changed the parameters: it must only read them")
    student = mynet.named_gradients(model)
    for name in sorted(expected, key=lambda key: (-int(key.split(".")[1]), key)):  # output layer first
        if student[name] is None or not matches(student[name], expected[name], AUTOGRAD_TOLERANCE):
            if student[name] is None:
                return CheckOutcome(title, False, f"{name}: not filled in (model.dL_dw / dL_db left None)")
            mistakes = _backprop_mistakes(model, x, y, name, batch_deltas)
            return CheckOutcome(title, False, f"{name}: " + diagnose(student[name], expected[name], mistakes,
                                                                      what="this gradient"))
    return CheckOutcome(title, True)


def _finite_differences(seed: int) -> CheckOutcome:
    title = "agrees with central finite differences (MyNet [3, 4, 2], tanh, batch of 3)"
    model, x, y = _delta_rule_case([3, 4, 2], "tanh", 3, seed)
    mynet.backpropagation(model, y, model(x))
    student = {name: g.detach().clone() for name, g in mynet.named_gradients(model).items() if g is not None}
    misshapen = [name for name, p in model.named_parameters() if name not in student or student[name].shape != p.shape]
    if misshapen:
        return CheckOutcome(title, False, f"{', '.join(misshapen)}: missing or not shaped like the parameter")
    rows = finite_difference_check(model, lambda: ((y - model(x)) ** 2).sum(), student)
    failed = [row.name for row in rows if not row.passed]
    return CheckOutcome(title, not failed, f"{', '.join(failed)} differ from the finite differences" if failed else "")


def _course_procedure(cell, title: str, finite_differences: bool) -> CheckOutcome:
    """The course's per-sample procedure on two samples of ``cell``; central differences only where cheap."""
    model, samples = cell(n_samples=2, seed=3)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    for index, (x, y) in enumerate(samples):
        result = check_sample(mynet.backpropagation, model, x, y, index, finite_differences=finite_differences)
        if not result.passed:
            return CheckOutcome(title, False, f"the course's procedure reports: {result.failure}")
        optimiser.step()  # with autograd's gradients, as the course does
        optimiser.zero_grad(set_to_none=True)
    return CheckOutcome(title, True)


def check_backpropagation() -> list[CheckOutcome]:
    """Exercise 3.1: autograd on three networks, finite differences, the INF265 procedure on both its cells."""
    model, x, y = _delta_rule_case([3, 4, 2], "tanh", 5, 0)
    mynet.backpropagation(model, y, model(x))  # an unfinished exercise stops here ("not done yet")
    return [
        _against_autograd([3, 4, 2], "tanh", 5, 0, "agrees with autograd (MyNet [3, 4, 2], tanh, batch of 5)"),
        _against_autograd([2, 5, 4, 3], ["sigmoid", "relu", "identity"], 6, 1,
                          "agrees with autograd (MyNet [2, 5, 4, 3], sigmoid / relu / identity, batch of 6)"),
        _against_autograd([4, 3], "sigmoid", 1, 2, "agrees with autograd (one layer, one sample)"),
        _finite_differences(4),
        _course_procedure(small_cell, "INF265 procedure, small data set cell (MyNet [2, 3, 2])", True),
        _course_procedure(mnist_standin_cell, "INF265 procedure, MNIST-shaped cell ((1, 1) float32 targets)", False),
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


def check_manual_sgd_step() -> list[CheckOutcome]:
    """Exercise 3.2: one and two steps against ``torch.optim.SGD``, bit for bit; the gradients left alone."""
    model, x, y = _delta_rule_case([3, 4, 2], "tanh", 4, 5)
    generator = torch.Generator().manual_seed(6)
    for l in range(1, model.L + 1):
        layer = model.fc[str(l)]
        model.dL_dw[l] = torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64)
        model.dL_db[l] = torch.randn(layer.bias.shape, generator=generator, dtype=torch.float64)
        layer.weight.grad, layer.bias.grad = torch.ones_like(layer.weight), torch.ones_like(layer.bias)
    outcomes = []
    for lr in (0.1, 0.37):
        expected = _stepped(model, gradient_step_by_torch_optim, lr)
        student = _stepped(model, mynet.manual_sgd_step, lr)
        title = f"parameters equal torch.optim.SGD's, bit for bit (lr = {lr})"
        if all(torch.equal(s, e) for s, e in zip(student, expected)):
            outcomes.append(CheckOutcome(title, True))
            continue
        mistakes = {STEP_DIAGNOSES[0]: _optim_variant(model, lr, maximize=True),
                    STEP_DIAGNOSES[1]: _optim_variant(model, lr, changed_lr=1.0),
                    STEP_DIAGNOSES[2]: _optim_variant(model, lr, frozen_bias=True),
                    STEP_DIAGNOSES[3]: _optim_variant(model, lr, use_p_grad=True),
                    STEP_DIAGNOSES[4]: expected}
        names = [name for name, _ in model.named_parameters()]
        wrong = next(i for i, (s, e) in enumerate(zip(student, expected)) if not torch.equal(s, e))
        per_tensor = {text: (lambda _, v=variant[wrong]: v) for text, variant in mistakes.items()}
        outcomes.append(CheckOutcome(title, False, f"{names[wrong]}: " + diagnose(
            student[wrong], expected[wrong], per_tensor, what="the updated parameter")))
    before = {l: (model.dL_dw[l].clone(), model.dL_db[l].clone()) for l in range(1, model.L + 1)}
    mynet.manual_sgd_step(model, 0.1)
    kept = all(torch.equal(model.dL_dw[l], w) and torch.equal(model.dL_db[l], b) for l, (w, b) in before.items())
    outcomes.append(CheckOutcome("dL_dw and dL_db left as backpropagation stored them", kept,
                                 "" if kept else "the step changed the stored gradients: only the parameters move"))
    return outcomes
