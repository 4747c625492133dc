"""The checks of notebook 04's training exercises: 4.3 ``training_step`` and 4.4 ``sgd_step`` (helpers/training.py).

Both are judged the way the course asks: against ``torch.optim.SGD`` bit for bit, from the same start and the
same gradients. Every known mistake is reproduced with torch itself (``torch.optim.SGD`` with a setting
changed, ``maximize=True`` for a step uphill, a momentum buffer started from zeros, a loop that never clears
the gradients), so a wrong result can be named without showing the expected numbers. The functions are
looked up in :mod:`helpers.training` at call time.
"""
from __future__ import annotations


import torch
from torch import nn

from helpers import training
from helpers.checks.exercises import CheckOutcome, diagnose
from helpers.training_references import training_step_by_autograd_grad

SGD_DIAGNOSES = (
    "step in the wrong direction (θ + η g instead of θ − η g)",
    "learning rate not applied",
    "weight decay left out (add λθ to the gradient)",
    "weight decay with the wrong sign",
    "momentum left out",
    "dampening left out (the buffer takes (1 − dampening) · g)",
    "momentum buffer not started from the first gradient (started from zeros)",
    "Nesterov's look-ahead left out",
    "right up to rounding only: use torch.optim.SGD's operations in its order (add, mul_, add_ with alpha)",
)
STEP_DIAGNOSES = (
    "the parameters did not move: optimizer.step() missing, or the gradients cleared before it",
    "gradients never cleared: each batch's gradients add to the previous ones",
    "gradients left in .grad after the step (clear them for the next batch)",
    "the returned value is not this batch's loss",
)
SETTINGS = {  # name -> torch.optim.SGD keyword arguments (the course's tasks 4, 6, 7 and torch's options)
    "plain SGD": dict(lr=0.1),
    "weight decay": dict(lr=0.1, weight_decay=0.05),
    "momentum": dict(lr=0.1, momentum=0.9),
    "momentum, weight decay, dampening": dict(lr=0.05, momentum=0.8, weight_decay=0.01, dampening=0.3),
    "Nesterov momentum": dict(lr=0.05, momentum=0.9, nesterov=True),
}
N_STEPS = 3


def _gradient_sequence(shapes, seed: int = 7) -> list[list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [[torch.randn(shape, generator=generator, dtype=torch.float64) for shape in shapes] for _ in range(N_STEPS)]


def _start(seed: int = 8) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in ((4, 3), (4,), (2, 4))]


def _run_student(settings: dict) -> tuple[list[torch.Tensor], bool, list]:
    """N_STEPS of the student's sgd_step; returns the parameters, whether grads were cleared, the buffers."""
    params = [p.clone() for p in _start()]
    buffers: list = [None] * len(params)
    cleared = True
    for gradients in _gradient_sequence([p.shape for p in params]):
        for p, g in zip(params, gradients):
            p.grad = g.clone()
        training.sgd_step(params, buffers, **settings)
        cleared &= all(p.grad is None or not p.grad.any() for p in params)
    return params, cleared, buffers


def _run_optim(settings: dict, zero_buffers: bool = False, changed: dict | None = None) -> list[torch.Tensor]:
    """N_STEPS of ``torch.optim.SGD(**settings)``, its group then updated with ``changed`` (a mistake)."""
    params = [p.clone() for p in _start()]
    optimizer = torch.optim.SGD(params, foreach=False, **settings)
    optimizer.param_groups[0].update(changed or {})
    if zero_buffers:
        for p in params:
            optimizer.state[p]["momentum_buffer"] = torch.zeros_like(p)
    for gradients in _gradient_sequence([p.shape for p in params]):
        for p, g in zip(params, gradients):
            p.grad = g.clone()
        optimizer.step()
    return params


def _sgd_mistakes(settings: dict) -> dict:
    momentum, weight_decay = settings.get("momentum", 0), settings.get("weight_decay", 0)
    variants = {SGD_DIAGNOSES[0]: dict(maximize=True), SGD_DIAGNOSES[1]: dict(lr=1.0)}
    if weight_decay:
        variants[SGD_DIAGNOSES[2]] = dict(weight_decay=0.0)
        variants[SGD_DIAGNOSES[3]] = dict(weight_decay=-weight_decay)
    if momentum:
        variants[SGD_DIAGNOSES[4]] = dict(momentum=0.0, nesterov=False, dampening=0.0)
    if settings.get("dampening"):
        variants[SGD_DIAGNOSES[5]] = dict(dampening=0.0)
    if settings.get("nesterov"):
        variants[SGD_DIAGNOSES[7]] = dict(nesterov=False)
    mistakes = {text: _flat(_run_optim(settings, changed=change)) for text, change in variants.items()}
    if momentum:
        mistakes[SGD_DIAGNOSES[6]] = _flat(_run_optim(settings, zero_buffers=True))
    mistakes[SGD_DIAGNOSES[8]] = _flat(_run_optim(settings))
    return {text: (lambda _, v=values: v) for text, values in mistakes.items()}


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().flatten() for t in tensors])


def check_sgd_step() -> list[CheckOutcome]:
    """Exercise 4.4: three steps under five settings, each bit for bit against ``torch.optim.SGD``."""
    outcomes, all_cleared, buffers_kept = [], True, True
    for name, settings in SETTINGS.items():
        params, cleared, buffers = _run_student(settings)
        all_cleared &= cleared
        if settings.get("momentum"):
            buffers_kept &= all(isinstance(b, torch.Tensor) for b in buffers)
        expected = _run_optim(settings)
        title = f"{N_STEPS} steps of {name} equal torch.optim.SGD's, bit for bit"
        if all(torch.equal(p.detach(), e) for p, e in zip(params, expected)):
            outcomes.append(CheckOutcome(title, True))
        else:
            outcomes.append(CheckOutcome(title, False, diagnose(_flat(params), _flat(expected), _sgd_mistakes(settings),
                                                                what="the parameters")))
    outcomes.append(CheckOutcome("gradients cleared after each step", all_cleared,
                                 "" if all_cleared else "set p.grad = None after updating p"))
    outcomes.append(CheckOutcome("momentum buffers kept in momentum_buffers for the next step", buffers_kept,
                                 "" if buffers_kept else "store each parameter's buffer in momentum_buffers[i]"))
    return outcomes


def _tiny_problem(seed: int = 11):
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = training.MyMLP(n_inputs=12, n_hidden=(5, 4)).double()
    batches = [(torch.randn(6, 12, generator=generator, dtype=torch.float64),
                torch.randint(0, 2, (6,), generator=generator)) for _ in range(N_STEPS)]
    return model, batches


def _steps(step, accumulate: bool = False) -> tuple[list[torch.Tensor], bool, bool]:
    """Three batches through ``step`` (or, ``accumulate``, backward and step without ever clearing).

    Returns the parameters after them, whether each returned loss was that batch's loss before its
    update, and whether a gradient was left in ``.grad`` after a step."""
    model, batches = _tiny_problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses_right, left = True, False
    for x, y in batches:
        with torch.no_grad():
            before = nn.functional.cross_entropy(model(x), y).item()
        if accumulate:
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        else:
            loss = step(model, nn.functional.cross_entropy, optimizer, x, y)
        losses_right &= isinstance(loss, torch.Tensor) and loss.numel() == 1 and \
            abs(loss.item() - before) <= 1e-12 * max(1.0, abs(before))
        left |= any(p.grad is not None and bool(p.grad.any()) for p in model.parameters())
    return [p.detach().clone() for p in model.parameters()], losses_right, left


def check_training_step() -> list[CheckOutcome]:
    """Exercise 4.3: three batches with SGD and momentum, against autograd plus ``optimizer.step()``."""
    student, losses_right, left = _steps(training.training_step)
    expected = _steps(training_step_by_autograd_grad)[0]
    start = [p.detach().clone() for p in _tiny_problem()[0].parameters()]
    title = "parameters after three batches equal torch's (SGD with momentum), bit for bit"
    if all(torch.equal(s, e) for s, e in zip(student, expected)):
        outcome = CheckOutcome(title, True)
    else:
        mistakes = {STEP_DIAGNOSES[0]: lambda _: _flat(start),
                    STEP_DIAGNOSES[1]: lambda _: _flat(_steps(None, accumulate=True)[0])}
        outcome = CheckOutcome(title, False, diagnose(_flat(student), _flat(expected), mistakes, what="the parameters"))
    return [outcome,
            CheckOutcome("returns each batch's loss (a 0-d tensor)", losses_right,
                         "" if losses_right else STEP_DIAGNOSES[3]),
            CheckOutcome("no gradient left in .grad after the step", not left, STEP_DIAGNOSES[2] if left else "")]
