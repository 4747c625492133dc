"""Notebook 04 (INF265 §3: CIFAR-10 cat vs car): exercises 4.1–4.4, their references, checks and registry entries.

Sections, in order:

* **References**: what stands in for an unfinished exercise in the student edition (``stand_ins``) and what the
  checks compare with: ``torch.nn.functional``, ``torch.autograd.grad``, ``torch.optim.SGD``, a stable sort
  (4.1), never the solution.
* **4.1** (``stratified_split``) and **4.2** (``MyMLP.forward``): properties of the split; logits against
  ``torch.nn.functional`` on the same layers.
* **4.3** (``training_step``) and **4.4** (``sgd_step``), judged the way the course asks: against
  ``torch.optim.SGD`` bit for bit, from the same start and the same gradients. Every known mistake is reproduced
  with torch itself (``torch.optim.SGD`` with a setting changed, ``maximize=True`` for a step uphill, a momentum
  buffer started from zeros, a loop that never clears the gradients), so a wrong result can be named without
  showing the expected numbers; a result within a few ulp of torch's passes (another order of operations), and
  a mistake model that gives the right answer in the tested setting is never offered. 4.3's model uses the
  reference forward pass in the sandbox, so exercise 4.2 never fails 4.3.
* **The registry** :data:`EXERCISES` (see :mod:`helpers.checks.exercises`).

Each check builds its own small inputs with torch, so a mistake in one exercise never fails another's check.
The student's code runs in the sandbox (``code``, a :class:`helpers.checks.sandbox.StudentCode`, through
:mod:`helpers.checks.nb04_catcar_sandbox`); the references and verdicts are computed here, never with an
exercise function of this process.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from helpers import training
from helpers.checks.toolkit import CheckOutcome, Exercise, close, diagnose, exact_outcome, replaced, torch_sgd_step


# == References ===============================================================================================


def stratified_split_reference(labels: torch.Tensor, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stand-in for :func:`helpers.data.catcar.stratified_split`: the same indices,
    found by one stable sort of the labels instead of a search per class (shapes as there)."""
    generator = torch.Generator().manual_seed(seed)
    by_class = torch.argsort(labels, stable=True).split(torch.bincount(labels)[torch.unique(labels)].tolist())
    drawn = [group[torch.randperm(len(group), generator=generator)] for group in by_class]
    sizes = [round(val_fraction * len(group)) for group in drawn]
    val = torch.cat([group[:size] for group, size in zip(drawn, sizes)])
    train = torch.cat([group[size:] for group, size in zip(drawn, sizes)])
    return torch.sort(train).values, torch.sort(val).values


def mlp_forward_reference(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Stand-in for ``MyMLP.forward``: ``torch.nn.functional`` on the model's parameters.

    Shapes: x (N, 3, 16, 16) or (N, n_inputs) -> logits (N, n_classes).
    """
    hidden = x.reshape(len(x), -1)
    for layer in (model.fc1, model.fc2):
        hidden = nn.functional.relu(nn.functional.linear(hidden, layer.weight, layer.bias))
    return nn.functional.linear(hidden, model.fc3.weight, model.fc3.bias)


def training_step_reference(model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                            x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Stand-in for :func:`helpers.training.training_step`: gradients by ``torch.autograd.grad``.

    Shapes: x (N, ...), y (N,) -> the batch's loss (a 0-d tensor); the optimizer has stepped once and
    every parameter's ``.grad`` is cleared afterwards.
    """
    loss = loss_fn(model(x), y)
    parameters = [p for p in model.parameters() if p.requires_grad]
    for p, g in zip(parameters, torch.autograd.grad(loss, parameters)):
        p.grad = g
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def sgd_step_reference(params: Sequence[torch.Tensor], momentum_buffers: list[torch.Tensor | None],
                       lr: float, momentum: float = 0.0, weight_decay: float = 0.0, dampening: float = 0.0,
                       nesterov: bool = False) -> None:
    """Stand-in for :func:`helpers.training.sgd_step`: one ``torch.optim.SGD`` step, its buffers kept.

    Shapes: params any; ``momentum_buffers`` (one entry per parameter, None before the first step) is read
    into the optimizer's state and written back, so the next call continues the same momentum. Clears grads.
    """
    stepped = [i for i, p in enumerate(params) if p.grad is not None]
    if not stepped:
        return
    buffers = [momentum_buffers[i] if momentum != 0 else None for i in stepped]
    torch_sgd_step([params[i] for i in stepped], [params[i].grad for i in stepped], buffers, lr=lr,
                   momentum=momentum, weight_decay=weight_decay, dampening=dampening, nesterov=nesterov)
    for i, buffer in zip(stepped, buffers):
        if momentum != 0:
            momentum_buffers[i] = buffer
        params[i].grad = None


# == Exercises 4.1 and 4.2: the split and the forward pass ====================================================


SPLIT_DIAGNOSES = (
    "train and validation swapped (validation gets 1 − fraction of each class)",
    "train and validation overlap, or some images are in neither",
    "not stratified: validation drawn from the whole set, class shares differ",
    "indices not sorted, or not int64",
    "not random: validation is the first or last images of each class",
    "the seed is ignored (or a global generator used): the split is not reproducible / always the same",
)
HARNESS = "helpers.checks.nb04_catcar_sandbox"
MLP_DIAGNOSES = (
    "an activation (ReLU) after the last layer: the logits must stay raw",
    "a softmax after the last layer: cross-entropy applies it itself",
    "the ReLU after the first hidden layer is missing",
    "the ReLU after the second hidden layer is missing",
)


def _labels(seed: int = 21) -> torch.Tensor:
    """(100,) int64: 50 of class 0, 30 of class 1, 20 of class 2, in a seeded random order."""
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]


def _ends_of_classes(labels: torch.Tensor, fraction: float) -> list[torch.Tensor]:
    """The validation sets a split without a random draw would take: each class's first, or last, images."""
    firsts, lasts = [], []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).squeeze(1)
        n_val = round(fraction * len(members))
        firsts.append(members[:n_val])
        lasts.append(members[len(members) - n_val:])
    return [torch.sort(torch.cat(firsts)).values, torch.sort(torch.cat(lasts)).values]


def _split_counts(labels: torch.Tensor, index: torch.Tensor) -> list[int]:
    return torch.bincount(labels[index], minlength=3).tolist()


def check_stratified_split(code) -> list[CheckOutcome]:
    """Exercise 4.1: the split's properties on 100 labels of three classes (fraction 0.2, 0.3)."""
    labels = _labels()
    runs = []

    def split(fraction: float, seed: int):
        run = code.call(f"{HARNESS}:stratified_split_run", labels, fraction, seed)
        runs.append(run)
        train, val = run["result"]
        return train, val

    train, val = split(0.2, 5)
    whole = torch.cat([train, val]).sort().values if train.dim() == val.dim() == 1 else None
    partition = whole is not None and torch.equal(whole, torch.arange(len(labels)))
    expected = [round(0.2 * n) for n in (50, 30, 20)]
    swapped = _split_counts(labels, val) == [n - k for n, k in zip((50, 30, 20), expected)] if partition else False
    stratified = partition and _split_counts(labels, val) == expected
    other_fraction = split(0.3, 5)[1]
    stratified &= _split_counts(labels, other_fraction) == [15, 9, 6]
    tidy = all(t.dtype == torch.int64 and torch.equal(t, t.sort().values) for t in (train, val))
    again = split(0.2, 5)
    other = split(0.2, 6)
    reproducible = all(torch.equal(a, b) for a, b in zip(again, (train, val)))
    seeded = reproducible and not torch.equal(other[1], val)
    drawn = not any(torch.equal(val, ends) for ends in _ends_of_classes(labels, 0.2))
    unchanged = not any(run["labels_changed"] for run in runs)
    return [
        CheckOutcome("every index in exactly one of train and validation", partition,
                     "" if partition else SPLIT_DIAGNOSES[1]),
        CheckOutcome("each class keeps its share in validation (fractions 0.2 and 0.3)", stratified,
                     "" if stratified else SPLIT_DIAGNOSES[0] if swapped else SPLIT_DIAGNOSES[2]),
        CheckOutcome("both index tensors sorted, int64", tidy, "" if tidy else SPLIT_DIAGNOSES[3]),
        CheckOutcome("a random draw within each class", drawn, "" if drawn else SPLIT_DIAGNOSES[4]),
        CheckOutcome("the same seed gives the same split, another seed another", seeded,
                     "" if seeded else SPLIT_DIAGNOSES[5]),
        CheckOutcome("the labels passed in are left as they were", unchanged,
                     "" if unchanged else "stratified_split modified labels in place: work on a copy"),
    ]


def _mlp_case(n_inputs: int, n_hidden: tuple[int, int], seed: int):
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = training.MyMLP(n_inputs=n_inputs, n_hidden=n_hidden).double()
    return model, torch.randn(7, n_inputs, generator=generator, dtype=torch.float64)


def _mlp_mistakes(model: nn.Module, x: torch.Tensor) -> dict:
    linear, relu = nn.functional.linear, nn.functional.relu
    first = linear(x, model.fc1.weight, model.fc1.bias)
    second = linear(relu(first), model.fc2.weight, model.fc2.bias)
    no_first_relu = linear(relu(linear(first, model.fc2.weight, model.fc2.bias)), model.fc3.weight, model.fc3.bias)
    no_second_relu = linear(second, model.fc3.weight, model.fc3.bias)
    return {MLP_DIAGNOSES[0]: torch.relu, MLP_DIAGNOSES[1]: lambda logits: torch.softmax(logits, dim=1),
            MLP_DIAGNOSES[2]: lambda _: no_first_relu.detach(), MLP_DIAGNOSES[3]: lambda _: no_second_relu.detach()}


def _state(model: nn.Module) -> dict:
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


def check_mlp_forward(code) -> list[CheckOutcome]:
    """Exercise 4.2: logits against ``torch.nn.functional`` on the same layers; images and flat inputs;
    another size of MyMLP; every layer reached by the gradient."""
    run = code.function(f"{HARNESS}:mlp_forward_run")
    outcomes, changed = [], False
    for n_inputs, n_hidden, seed in ((768, (128, 32), 31), (12, (5, 4), 32)):
        model, x = _mlp_case(n_inputs, n_hidden, seed)
        result = run(n_inputs, n_hidden, _state(model), x)
        student, changed = result["logits"], changed or result["changed_input"]
        expected = mlp_forward_reference(model, x).detach()
        title = f"logits of MyMLP({n_inputs} → {n_hidden[0]} → {n_hidden[1]} → 2) equal torch's, shape (N, 2)"
        if not isinstance(student, torch.Tensor):
            outcomes.append(CheckOutcome(title, False, f"the logits are {type(student).__name__}, expected a tensor"))
            continue
        passed = close(student, expected)
        outcomes.append(CheckOutcome(title, passed, "" if passed else diagnose(
            student, expected, _mlp_mistakes(model, x), what="the logits")))
    model, x = _mlp_case(768, (128, 32), 33)
    images = x.reshape(7, 3, 16, 16)
    from_images = run(768, (128, 32), _state(model), images)
    from_rows = run(768, (128, 32), _state(model), x, backward=True)
    changed = changed or from_images["changed_input"] or from_rows["changed_input"]
    same = all(isinstance(r["logits"], torch.Tensor) for r in (from_images, from_rows)) and close(
        from_images["logits"], from_rows["logits"])
    outcomes.append(CheckOutcome("images (N, 3, 16, 16) give the logits of their flattened rows (N, 768)", same,
                                 "" if same else "flatten each image to one row of 768 numbers first"))
    grads = from_rows["grads"]
    reached = all(isinstance(grads.get(name), torch.Tensor) and bool(grads[name].any())
                  for name, _ in model.named_parameters())
    outcomes.append(CheckOutcome("the gradient reaches every layer's weights and biases", reached,
                                 "" if reached else "use fc1, fc2 and fc3, each once, in that order"))
    outcomes.append(CheckOutcome("the input x left as it was", not changed,
                                 "" if not changed else "forward modified its input x in place: work on new tensors"))
    return outcomes


# == Exercises 4.3 and 4.4: the training step and the manual update ===========================================


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
    """N_STEPS of ``torch.optim.SGD``'s update with ``settings``, then ``changed`` laid over them (a mistake)."""
    params = [p.clone() for p in _start()]
    buffers = [torch.zeros_like(p) if zero_buffers else None for p in params]
    for gradients in _gradient_sequence([p.shape for p in params]):
        torch_sgd_step(params, gradients, buffers, **{**settings, **(changed or {})})
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
    return {text: (lambda _, v=values: v) for text, values in mistakes.items() if not close(values, expected)}


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


class _OptimizerStep:
    """What 4.3's references need of an optimiser, ``step()`` and ``zero_grad()``, done by ``torch.optim.SGD``'s
    own update (:func:`helpers.checks.toolkit.torch_sgd_step`) without building one. Shapes: none."""

    def __init__(self, params: list[torch.Tensor], **settings):
        self.params, self.settings, self.buffers = params, settings, [None] * len(params)

    def step(self) -> None:
        stepped = [i for i, p in enumerate(self.params) if p.grad is not None]
        buffers = [self.buffers[i] for i in stepped]
        torch_sgd_step([self.params[i] for i in stepped], [self.params[i].grad for i in stepped], buffers,
                       **self.settings)
        for i, buffer in zip(stepped, buffers):
            self.buffers[i] = buffer

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None


def _steps(step, accumulate: bool = False) -> tuple[list[torch.Tensor], bool, bool]:
    """The reference side, in this process: three batches through ``step`` (a reference), or with
    ``accumulate`` backward and step without ever clearing; the model's forward is the reference's.

    Returns the parameters after them (the other two values are those of a correct step)."""
    model, batches = _tiny_problem()
    optimizer = _OptimizerStep(list(model.parameters()), **OPTIMIZER)
    with replaced(training.MyMLP, forward=mlp_forward_reference):
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
    expected = _steps(training_step_reference)[0]
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


# == The registry =============================================================================================


NB04 = "04_cifar_cat_vs_car"
MANUAL_UPDATE, OWN_TOOLS = ("torch.optim", "references"), ("references",)
EXERCISES = (
    Exercise("4.1", "a stratified, seeded train/validation split", NB04, "INF265 §3.1 task 1", 2,
             ("helpers/data/catcar.py",), ("stratified_split",), check_stratified_split, SPLIT_DIAGNOSES, OWN_TOOLS,
             {"helpers.data.catcar:stratified_split": (stratified_split_reference,
                                                       "a stable sort of the labels, the same seeded draws")}),
    Exercise("4.2", "MyMLP's forward pass", NB04, "INF265 §3.1 task 2", 2, ("helpers/training.py",),
             ("MyMLP.forward",), check_mlp_forward, MLP_DIAGNOSES, OWN_TOOLS,
             {"helpers.training:MyMLP.forward": (mlp_forward_reference,
                                                 "torch.nn.functional on the model's own layers")}),
    Exercise("4.3", "train(): one optimisation step per batch", NB04, "INF265 §3.1 task 3", 2,
             ("helpers/training.py",), ("training_step",), check_training_step, STEP_DIAGNOSES, OWN_TOOLS,
             {"helpers.training:training_step": (training_step_reference,
                                                 "torch.autograd.grad, then optimizer.step()")}),
    Exercise("4.4", "the manual update: SGD with momentum and weight decay", NB04, "INF265 §3.1 tasks 4, 6, 7", 3,
             ("helpers/training.py",), ("sgd_step",), check_sgd_step, SGD_DIAGNOSES, MANUAL_UPDATE,
             {"helpers.training:sgd_step": (sgd_step_reference, "torch.optim.SGD with the same settings")}),
)
