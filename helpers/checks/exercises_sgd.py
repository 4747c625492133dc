"""The checks of notebook 04's training exercises: 4.3 ``training_step`` and 4.4 ``sgd_step`` (helpers/training.py).

Both are judged the way the course asks: against ``torch.optim.SGD`` bit for bit, from the same start and the
same gradients. Every known mistake is reproduced with torch itself (``torch.optim.SGD`` with a setting
changed, ``maximize=True`` for a step uphill, a momentum buffer started from zeros, a loop that never clears
the gradients), so a wrong result can be named without showing the expected numbers; a result within a few
ulp of torch's passes (another order of operations), and a mistake model that gives the right answer in the
tested setting is never offered. The student's code runs in the sandbox (``code``, through
:mod:`helpers.checks.harness_training`); 4.3's model uses the reference forward pass there, so exercise 4.2
never fails 4.3. Every reference is computed here, never with an exercise function of this process.
"""
from __future__ import annotations


import torch
from torch import nn

from helpers import training
from helpers.checks.exercise_outcomes import exact_outcome, replaced
from helpers.checks.toolkit import matches, CheckOutcome, diagnose
from helpers.training_references import mlp_forward_by_functional, training_step_by_autograd_grad

SGD_DIAGNOSES = (
    "step in the wrong direction (gradient ascent)",
    "learning rate not applied",
    "weight decay left out",
    "weight decay with the wrong sign",
    "momentum left out",
    "dampening left out",
    "momentum buffer not started from the first gradient (started from zeros)",
    "Nesterov's look-ahead left out",
    "right up to rounding only: passes (within a few ulp of torch.optim.SGD), named as such",
)
HARNESS = "helpers.checks.harness_training"
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


def _run_student(code, settings: dict) -> tuple[list, bool, list]:
    """N_STEPS of the student's sgd_step (in the sandbox); the parameters, whether grads were cleared, the buffers."""
    start = _start()
    result = code.call(f"{HARNESS}:sgd_step_run", start, _gradient_sequence([p.shape for p in start]), settings)
    return result["parameters"], all(result["cleared"]), result["buffers"]


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


def _sgd_mistakes(settings: dict, expected: torch.Tensor) -> dict:
    """{mistake: what it gives} for ``settings``; a mistake that gives ``expected`` here is left out."""
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
    return {text: (lambda _, v=values: v) for text, values in mistakes.items() if not matches(values, expected)}


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().flatten() for t in tensors])


def _flat_or_none(tensors):
    if not isinstance(tensors, list) or not all(isinstance(t, torch.Tensor) for t in tensors):
        return tensors
    return _flat(tensors)


def check_sgd_step(code) -> list[CheckOutcome]:
    """Exercise 4.4: three steps under five settings, each against ``torch.optim.SGD`` (bit for bit, or a few
    ulp: another order of operations)."""
    outcomes, all_cleared, buffers_kept = [], True, True
    for name, settings in SETTINGS.items():
        params, cleared, buffers = _run_student(code, settings)
        all_cleared &= cleared
        if settings.get("momentum"):
            buffers_kept &= isinstance(buffers, list) and all(isinstance(b, torch.Tensor) for b in buffers)
        expected = _flat(_run_optim(settings))
        title = f"{N_STEPS} steps of {name} equal torch.optim.SGD's, bit for bit"
        outcomes.append(exact_outcome(title, _flat_or_none(params), expected, _sgd_mistakes(settings, expected),
                                      what="the parameters"))
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


OPTIMIZER = dict(lr=0.1, momentum=0.9)


def _steps(step, accumulate: bool = False) -> tuple[list[torch.Tensor], bool, bool]:
    """The reference side, in this process: three batches through ``step`` (a reference), or with
    ``accumulate`` backward and step without ever clearing; the model's forward is the reference's.

    Returns the parameters after them (the other two values are those of a correct step)."""
    model, batches = _tiny_problem()
    optimizer = torch.optim.SGD(model.parameters(), **OPTIMIZER)
    with replaced(training.MyMLP, forward=mlp_forward_by_functional):
        for x, y in batches:
            if accumulate:
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
            else:
                step(model, nn.functional.cross_entropy, optimizer, x, y)
    return [p.detach().clone() for p in model.parameters()], True, False


def _student_steps(code) -> tuple[list, bool, bool, bool]:
    """The student's training_step on the three batches, in the sandbox: the parameters after them, whether
    each returned loss was that batch's loss before its update, whether a gradient was left in ``.grad``
    after a step, and whether a batch was modified in place."""
    model, batches = _tiny_problem()
    state = {name: t.detach().clone() for name, t in model.state_dict().items()}
    result = code.call(f"{HARNESS}:training_step_run", 12, (5, 4), state, batches, OPTIMIZER)
    losses_right = len(result["losses"]) == len(result["losses_before"]) and all(
        isinstance(loss, torch.Tensor) and loss.numel() == 1
        and abs(loss.item() - before) <= 1e-12 * max(1.0, abs(before))
        for loss, before in zip(result["losses"], result["losses_before"]))
    return result["parameters"], losses_right, any(result["left"]), result["changed_input"]


def check_training_step(code) -> list[CheckOutcome]:
    """Exercise 4.3: three batches with SGD and momentum, against autograd plus ``optimizer.step()``."""
    student, losses_right, left, changed = _student_steps(code)
    expected = _steps(training_step_by_autograd_grad)[0]
    start = [p.detach().clone() for p in _tiny_problem()[0].parameters()]
    title = "parameters after three batches equal torch's (SGD with momentum), bit for bit"
    if isinstance(student, list) and len(student) == len(expected) and all(
            isinstance(s, torch.Tensor) and s.shape == e.shape and torch.equal(s, e)
            for s, e in zip(student, expected)):
        outcome = CheckOutcome(title, True)
    else:
        mistakes = {STEP_DIAGNOSES[0]: lambda _: _flat(start),
                    STEP_DIAGNOSES[1]: lambda _: _flat(_steps(None, accumulate=True)[0])}
        outcome = CheckOutcome(title, False, diagnose(_flat_or_none(student), _flat(expected), mistakes,
                                                      what="the parameters"))
    return [outcome,
            CheckOutcome("returns each batch's loss (a 0-d tensor)", losses_right,
                         "" if losses_right else STEP_DIAGNOSES[3]),
            CheckOutcome("no gradient left in .grad after the step", not left, STEP_DIAGNOSES[2] if left else ""),
            CheckOutcome("the batches x and y left as they were", not changed,
                         "training_step modified x or y in place: work on new tensors" if changed else "")]
