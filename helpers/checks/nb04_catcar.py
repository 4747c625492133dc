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
* **4.5** (``recipe_instance`` and ``fit``, INF265 §3.1 tasks 5 and 8): whole training runs of the student's
  ``train_config`` on a small made-up data set, against the recipe run computed here (seed right before the model,
  float64, the fixed order, no shuffling), ``train`` against ``train_manual_update``, the curves the plots draw.
* **4.6** (``select_best`` and ``select_and_test``, tasks 9 and 10): six made-up runs whose validation history,
  training loss, validation loss and test set each point to another run, and models that count the images they
  are shown: the choice must follow the final validation accuracy alone, and the test set must pass through the
  chosen model only, once.
* **The registry** :data:`EXERCISES` (see :mod:`helpers.checks.exercises`).

Each check builds its own small inputs with torch, so a mistake in one exercise never fails another's check.
The student's code runs in the sandbox (``code``, a :class:`helpers.checks.sandbox.StudentCode`, through
:mod:`helpers.checks.nb04_catcar_sandbox`); the references and verdicts are computed here, never with an
exercise function of this process.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from helpers import training
from helpers.checks.toolkit import (CheckOutcome, Exercise, close, diagnose, exact_outcome, replaced, seeded,
                                   torch_sgd_step)
from helpers.data.catcar import BatchLoader, CatCarData, Split
from helpers.runtime.device import get_device
from helpers.runtime.torch_settings import default_dtype


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
    optimizer = _OptimizerStep(list(params), momentum_buffers, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               dampening=dampening, nesterov=nesterov)
    optimizer.step()
    optimizer.zero_grad()


class _OptimizerStep:
    """What the references need of an optimiser, ``step()`` and ``zero_grad()``, done by ``torch.optim.SGD``'s own
    update (:func:`helpers.checks.toolkit.torch_sgd_step`) without building one. ``buffers``: one momentum buffer per
    parameter (None before its first step), updated in place (default: a new list). Shapes: none."""

    def __init__(self, params: list[torch.Tensor], buffers: list | None = None, **settings):
        self.params, self.settings = params, settings
        self.buffers = buffers if buffers is not None else [None] * len(params)

    def step(self) -> None:
        stepped = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not stepped:
            return
        buffers = [self.buffers[i] for i in stepped]
        torch_sgd_step([self.params[i] for i in stepped], [self.params[i].grad for i in stepped], buffers,
                       **self.settings)
        for i, buffer in zip(stepped, buffers):
            self.buffers[i] = buffer

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None


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


# == Exercises 4.5 and 4.6: the experiment (train the instances, select on validation, test once) ==========


RECIPE_SEED = 42  # the course's seed, set right before every model


def recipe_instance_reference(train_images: torch.Tensor, train_labels: torch.Tensor, batch_size: int, *,
                              seed: int = RECIPE_SEED, augment: bool = False, max_shift: int = 1):
    """Stand-in for ``helpers.experiments.catcar_sweep.recipe_instance``: the same float64 ``MyMLP`` and the same
    unshuffled batches, with the default dtype switched by hand (shapes as there)."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(seed)
        instance = training.MyMLP()
        batches = BatchLoader(train_images, train_labels, batch_size=batch_size, shuffle=False, augment=augment,
                              max_shift=max_shift, seed=seed)
    finally:
        torch.set_default_dtype(saved)
    return instance.to(get_device()), batches


def fit_reference(trainer: str, config, model: nn.Module, loader, n_epochs: int, after_epoch) -> None:
    """Stand-in for ``helpers.experiments.catcar_sweep.fit``: the same two trainers with the config's settings,
    looked up by name (shapes: none)."""
    settings = {name: getattr(config, name) for name in ("lr", "momentum", "weight_decay")}
    schedule = training.cosine_schedule(n_epochs) if config.cosine else None
    if trainer == "manual":
        training.train_manual_update(n_epochs, settings.pop("lr"), model, nn.CrossEntropyLoss(), loader,
                                     lr_schedule=schedule, callback=after_epoch, **settings)
        return
    optimizer = torch.optim.SGD(model.parameters(), **settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule) if schedule else None

    def each_epoch(epoch, trained, mean_loss):
        after_epoch(epoch, trained, mean_loss)
        if scheduler:
            scheduler.step()
    training.train(n_epochs, optimizer, model, nn.CrossEntropyLoss(), loader, callback=each_epoch)


def select_best_reference(runs):
    """Stand-in for ``helpers.experiments.catcar_sweep.select_best``: one pass, keeping the first of the best
    final validation accuracies among the runs that did not diverge (shapes: none)."""
    chosen = None
    for run in runs:
        if not run.diverged and (chosen is None or run.final_val_accuracy > chosen.final_val_accuracy):
            chosen = run
    if chosen is None:
        raise ValueError("every run diverged: lower the learning rates")
    return chosen


@dataclass(frozen=True)
class TestedChoice:
    """What ``select_and_test`` returns: the chosen run, its test predictions (N,) int64, its test accuracy."""
    run: object
    predictions: torch.Tensor
    accuracy: float


def select_and_test_reference(runs, test_images: torch.Tensor, test_labels: torch.Tensor) -> TestedChoice:
    """Stand-in for ``helpers.experiments.catcar_sweep.select_and_test``: test_images (N, ...), test_labels (N,)."""
    chosen = select_best_reference(runs)
    predicted = training.predict(chosen.model, test_images)
    return TestedChoice(chosen, predicted, float((predicted == test_labels.cpu()).double().mean()))


RECIPE_DIAGNOSES = (
    "parameters not float64: build the model under the recipe's default dtype (float64)",
    "the batches are shuffled: the recipe trains on the images in the order given (shuffle=False)",
    "momentum not passed on to the training function",
    "weight decay not passed on to the training function",
    "two runs of the same settings differ: set torch.manual_seed(seed) right before each MyMLP()",
    "train and train_manual_update trained differently: give both the same lr, momentum and weight decay",
)
RECIPE_SETTINGS = dict(lr=0.05, momentum=0.9, weight_decay=0.01)
RECIPE_EPOCHS, RECIPE_BATCH = 3, 16
CURVES = ("train_losses", "val_losses", "val_accuracies")


def _made_up_split(n: int, seed: int) -> Split:
    """n learnable 16×16 images: the label (alternating 0, 1) brightens the left half."""
    generator = seeded(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 3, 16, 16, generator=generator) * 0.5
    images[:, :, :, :8] += 0.4 * labels.view(n, 1, 1, 1)
    return Split(images, labels, torch.zeros(n, 3, 32, 32, dtype=torch.uint8), torch.arange(n))


def _made_up_data() -> CatCarData:
    train, val = _made_up_split(64, 1), _made_up_split(32, 2)
    return CatCarData(train, val, val, train.images.mean(dim=(0, 2, 3)), train.images.std(dim=(0, 2, 3)))


def _recipe_run(data: CatCarData, settings: dict, shuffle: bool = False) -> dict:
    """The recipe run, here: seed 42 right before a float64 MyMLP (reference forward), the fixed order, SGD.

    Returns the curves (one value per epoch) and the parameters after training."""
    x, y = data.inputs("train")
    val_x, val_y = data.inputs("val")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(RECIPE_SEED))  # the recipe's own order
    with torch.random.fork_rng(devices=[]):
        model, loader = recipe_instance_reference(x[order], y[order], RECIPE_BATCH)
    loader.shuffle = shuffle
    optimizer = _OptimizerStep(list(model.parameters()), **settings)
    curves = {name: [] for name in CURVES}
    with replaced(training.MyMLP, forward=mlp_forward_reference), default_dtype(torch.float64):
        for _ in range(RECIPE_EPOCHS):
            losses = [training_step_reference(model, nn.functional.cross_entropy, optimizer, xb.double(), yb).item()
                      for xb, yb in loader]
            curves["train_losses"].append(sum(losses) / len(losses))
            val_logits = model(val_x.double()).detach()
            curves["val_losses"].append(nn.functional.cross_entropy(val_logits, val_y).item())
            curves["val_accuracies"].append((val_logits.argmax(dim=1) == val_y).double().mean().item())
    return {**curves, "parameters": [p.detach().clone() for p in model.parameters()]}


def _same_run(student: dict, expected: dict) -> bool:
    params = student.get("parameters")
    return (isinstance(params, list) and len(params) == len(expected["parameters"])
            and all(isinstance(p, torch.Tensor) and p.dtype == e.dtype and p.shape == e.shape and torch.equal(p, e)
                    for p, e in zip(params, expected["parameters"]))
            and all(student.get(name) == expected[name] for name in CURVES))


def _recipe_diagnosis(student: dict, data: CatCarData) -> str:
    """The mistake whose run the student's matches (never the expected numbers)."""
    params = student.get("parameters") or []
    if any(isinstance(p, torch.Tensor) and p.dtype != torch.float64 for p in params):
        return RECIPE_DIAGNOSES[0]
    variants = {RECIPE_DIAGNOSES[1]: (RECIPE_SETTINGS, True),
                RECIPE_DIAGNOSES[2]: ({**RECIPE_SETTINGS, "momentum": 0.0}, False),
                RECIPE_DIAGNOSES[3]: ({**RECIPE_SETTINGS, "weight_decay": 0.0}, False)}
    for text, (settings, shuffle) in variants.items():
        if _same_run(student, _recipe_run(data, settings, shuffle)):
            return text
    return ("the run differs from the recipe's: seed right before MyMLP(), float64, the images in the order given, "
            "no shuffling, the config's lr, momentum and weight decay")


def check_recipe_runs(code) -> list[CheckOutcome]:
    """Exercise 4.5: ``train_config`` (with the student's ``recipe_instance`` and ``fit``) on 64 made-up images,
    3 epochs of batches of 16, against the recipe run computed here; ``train`` against ``train_manual_update``."""
    data = _made_up_data()
    raw = {"train": (data.train.images, data.train.labels), "val": (data.val.images, data.val.labels),
           "mean": data.mean, "std": data.std}
    requests = [(RECIPE_SETTINGS, trainer, RECIPE_EPOCHS, RECIPE_BATCH) for trainer in ("torch", "manual", "torch")]
    torch_run, manual_run, again = code.call(f"{HARNESS}:recipe_runs", raw, requests)
    expected = _recipe_run(data, RECIPE_SETTINGS)
    label = ", ".join(f"{k}={v:g}" for k, v in RECIPE_SETTINGS.items())
    followed, twins, repeated = _same_run(torch_run, expected), _same_run(manual_run, expected), _same_run(again, torch_run)
    shaped = all(isinstance(run.get(name), list) and len(run[name]) == RECIPE_EPOCHS
                 for run in (torch_run, manual_run) for name in CURVES)
    curves = shaped and all(math.isfinite(v) for name in CURVES for v in torch_run[name])
    falls = curves and torch_run["train_losses"][-1] < torch_run["train_losses"][0]
    return [
        CheckOutcome(f"train + torch.optim.SGD ({label}) gives the recipe's run, bit for bit", followed,
                     "" if followed else _recipe_diagnosis(torch_run, data)),
        CheckOutcome("train_manual_update with the same settings gives the same bits (task 5)", twins,
                     "" if twins else RECIPE_DIAGNOSES[5] if followed else _recipe_diagnosis(manual_run, data)),
        CheckOutcome("the same settings trained twice give the same run", repeated,
                     "" if repeated else RECIPE_DIAGNOSES[4]),
        CheckOutcome(f"one training loss, validation loss and accuracy per epoch ({RECIPE_EPOCHS}): the plots' data",
                     curves, "" if curves else "train_config must record each curve once per epoch (after_epoch)"),
        CheckOutcome("the training loss falls from the first epoch to the last", falls,
                     "" if falls else "the model does not learn: check the optimizer's settings and the batches"),
    ]


SELECTION_DIAGNOSES = (
    "a diverged run selected: leave the runs that diverged out (their accuracy is NaN)",
    "selected on an earlier epoch's validation accuracy: the model kept is the one after the last epoch",
    "selected on the training loss: choose on validation accuracy, data the model was not trained on",
    "selected on the validation loss: the course selects on accuracy",
    "selected on test accuracy: the test set must play no part in the choice",
    "every instance evaluated on the test set: evaluate the selected one only",
    "the test set evaluated more than once",
    "select_best runs a model: choose from the recorded validation accuracies alone",
)
# six runs: (angle of its linear classifier, final-epoch history); each criterion but the right one points elsewhere
SELECTION_RUNS = (  # angle, val_accuracies, train_losses, val_losses, diverged
    (0.0, [0.99, 0.99], [0.7, 0.7], [0.6, 0.6], True),
    (0.5, [0.96, 0.70], [0.5, 0.30], [0.5, 0.45], False),
    (1.2, [0.80, 0.90], [0.5, 0.25], [0.5, 0.38], False),   # the right choice: highest final validation accuracy
    (2.0, [0.80, 0.85], [0.3, 0.05], [0.5, 0.40], False),
    (2.6, [0.70, 0.80], [0.4, 0.20], [0.4, 0.20], False),
    (4.0, [0.60, 0.75], [0.5, 0.35], [0.6, 0.50], False),   # the test set's favourite: the labels are its answers
)
CHOSEN, WRONG_CHOICES = 2, {0: SELECTION_DIAGNOSES[0], 1: SELECTION_DIAGNOSES[1], 3: SELECTION_DIAGNOSES[2],
                            4: SELECTION_DIAGNOSES[3], 5: SELECTION_DIAGNOSES[4]}


def _angle_state(angle: float) -> dict:
    """A MyMLP(2 → 2 → 2 → 2) that is a linear classifier of direction ``angle`` (class 0 where it points)."""
    eye, shift = torch.eye(2, dtype=torch.float64), 10.0  # inputs N(0, 1) + 10 stay positive through the ReLUs
    w = torch.tensor([[math.cos(angle), math.sin(angle)], [-math.cos(angle), -math.sin(angle)]], dtype=torch.float64)
    return {"fc1.weight": eye, "fc1.bias": torch.full((2,), shift, dtype=torch.float64), "fc2.weight": eye,
            "fc2.bias": torch.zeros(2, dtype=torch.float64), "fc3.weight": w,
            "fc3.bias": -w @ torch.full((2,), shift, dtype=torch.float64)}


def _classify(angle: float, x: torch.Tensor) -> torch.Tensor:
    model = training.MyMLP(n_inputs=2, n_hidden=(2, 2)).double()
    model.load_state_dict(_angle_state(angle))
    return mlp_forward_reference(model, x).argmax(dim=1).detach()


def _choice_outcome(title: str, index, ran_models: bool = False) -> CheckOutcome:
    if index == CHOSEN and not ran_models:
        return CheckOutcome(title, True)
    return CheckOutcome(title, False, SELECTION_DIAGNOSES[7] if ran_models else WRONG_CHOICES.get(
        index, "another run chosen: the highest final validation accuracy among the runs that did not diverge"))


def check_selection(code) -> list[CheckOutcome]:
    """Exercise 4.6: the choice among six made-up runs, the test images each model is shown (counted), the
    predictions and accuracy returned, and the error when every run diverged."""
    test_x = torch.randn(60, 2, generator=seeded(46), dtype=torch.float64)
    test_y = _classify(SELECTION_RUNS[5][0], test_x)
    runs = [{"state": _angle_state(angle), "val_accuracies": val, "train_losses": train, "val_losses": val_loss,
             "diverged": diverged} for angle, val, train, val_loss, diverged in SELECTION_RUNS]
    result = code.call(f"{HARNESS}:selection_run", runs, test_x, test_y)
    passes = result["passes"]
    once = passes == [int(i == CHOSEN) for i in range(len(runs))] and result["images"][CHOSEN] == len(test_x)
    shown = ("" if once else SELECTION_DIAGNOSES[5] if sum(p > 0 for p in passes) > 1
             else SELECTION_DIAGNOSES[6] if max(passes) > 1 else "the selected model's predictions on the test set are missing")
    expected = _classify(SELECTION_RUNS[CHOSEN][0], test_x)
    predictions = result["predictions"]
    right = (isinstance(predictions, torch.Tensor) and predictions.shape == expected.shape
             and torch.equal(predictions.long(), expected)
             and abs(result["accuracy"] - (expected == test_y).double().mean().item()) < 1e-12)
    return [
        _choice_outcome("select_best: the highest final validation accuracy, diverged runs left out",
                        result["best"], result["select_best_passes"] > 0),
        _choice_outcome("select_and_test chooses on validation only", result["selected"]),
        CheckOutcome("the test images go through one model, once: the selected one", once, shown),
        CheckOutcome("returns the selected model's test predictions (N,) and accuracy", right,
                     "" if right else "return predict(model, test_images) of the selected model and the share "
                                      "equal to test_labels"),
        CheckOutcome("every run diverged: a ValueError says so", result["all_diverged"] == "ValueError",
                     "" if result["all_diverged"] == "ValueError" else
                     f"with every run diverged, raise ValueError (got {result['all_diverged']})"),
    ]


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
    Exercise("4.5", "train the instances: the course's recipe, train and train_manual_update", NB04,
             "INF265 §3.1 tasks 5, 8 (§3.3)", 3, ("helpers/experiments/catcar_sweep.py",),
             ("recipe_instance", "fit"), check_recipe_runs, RECIPE_DIAGNOSES, OWN_TOOLS,
             {"helpers.experiments.catcar_sweep:recipe_instance": (recipe_instance_reference,
                                                                   "the recipe's instance, built by the reference"),
              "helpers.experiments.catcar_sweep:fit": (fit_reference, "the reference's train / train_manual_update call")}),
    Exercise("4.6", "select on validation, evaluate once on test", NB04, "INF265 §3.1 tasks 9, 10", 3,
             ("helpers/experiments/catcar_sweep.py",), ("select_best", "select_and_test"), check_selection,
             SELECTION_DIAGNOSES, OWN_TOOLS,
             {"helpers.experiments.catcar_sweep:select_best": (select_best_reference,
                                                               "the reference's choice on validation accuracy"),
              "helpers.experiments.catcar_sweep:select_and_test": (select_and_test_reference,
                                                                   "the reference's choice and one test evaluation")}),
)
