"""Exercises of notebooks 03 (INF265 §2: the delta rule) and 04 (INF265 §3: CIFAR-10 cat vs car), with checks.

The registry :data:`EXERCISES` (see :mod:`helpers.checks.exercises`); the checks of 3.1–3.2 live in
:mod:`helpers.checks.exercises_delta_rule`, those of 4.3–4.4 in :mod:`helpers.checks.exercises_sgd`, and
those of 4.1 (the stratified split) and 4.2 (``MyMLP.forward``) here. Each builds its own small inputs with
torch, so a mistake in one exercise never fails another's check. The student's code runs in the sandbox
(``code``, a :class:`helpers.checks.sandbox.StudentCode`, through :mod:`helpers.checks.harness_training`);
the references and verdicts are computed here, never with an exercise function of this process.
"""
from __future__ import annotations

import torch
from torch import nn

from helpers import training
from helpers.checks.toolkit import matches, CheckOutcome, Exercise, diagnose
from helpers.checks.exercises_sgd import SGD_DIAGNOSES, STEP_DIAGNOSES, check_sgd_step, check_training_step
from helpers.training_references import mlp_forward_by_functional

SPLIT_DIAGNOSES = (
    "train and validation swapped (validation gets 1 − fraction of each class)",
    "train and validation overlap, or some images are in neither",
    "not stratified: validation drawn from the whole set, class shares differ",
    "indices not sorted, or not int64",
    "not random: validation is the first or last images of each class",
    "the seed is ignored (or a global generator used): the split is not reproducible / always the same",
)
HARNESS = "helpers.checks.harness_training"
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
        expected = mlp_forward_by_functional(model, x).detach()
        title = f"logits of MyMLP({n_inputs} → {n_hidden[0]} → {n_hidden[1]} → 2) equal torch's, shape (N, 2)"
        if not isinstance(student, torch.Tensor):
            outcomes.append(CheckOutcome(title, False, f"the logits are {type(student).__name__}, expected a tensor"))
            continue
        passed = matches(student, expected, 1e-12)
        outcomes.append(CheckOutcome(title, passed, "" if passed else diagnose(
            student, expected, _mlp_mistakes(model, x), what="the logits")))
    model, x = _mlp_case(768, (128, 32), 33)
    images = x.reshape(7, 3, 16, 16)
    from_images = run(768, (128, 32), _state(model), images)
    from_rows = run(768, (128, 32), _state(model), x, backward=True)
    changed = changed or from_images["changed_input"] or from_rows["changed_input"]
    same = all(isinstance(r["logits"], torch.Tensor) for r in (from_images, from_rows)) and matches(
        from_images["logits"], from_rows["logits"], 1e-12)
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


def _exercise(id, title, notebook, handout, points, files, functions, check, diagnoses, forbid) -> Exercise:
    return Exercise(id, title, notebook, handout, points, files, functions, check, tuple(diagnoses), tuple(forbid))


NB04 = "04_cifar_cat_vs_car"
MANUAL_UPDATE, OWN_TOOLS = ("torch.optim", "references"), ("references",)
EXERCISES = (
    _exercise("4.1", "a stratified, seeded train/validation split", NB04, "INF265 §3.1 task 1", 2,
              ("helpers/data/catcar.py",), ("stratified_split",), check_stratified_split, SPLIT_DIAGNOSES, OWN_TOOLS),
    _exercise("4.2", "MyMLP's forward pass", NB04, "INF265 §3.1 task 2", 2, ("helpers/training.py",),
              ("MyMLP.forward",), check_mlp_forward, MLP_DIAGNOSES, OWN_TOOLS),
    _exercise("4.3", "train(): one optimisation step per batch", NB04, "INF265 §3.1 task 3", 2,
              ("helpers/training.py",), ("training_step",), check_training_step, STEP_DIAGNOSES, OWN_TOOLS),
    _exercise("4.4", "the manual update: SGD with momentum and weight decay", NB04, "INF265 §3.1 tasks 4, 6, 7", 3,
              ("helpers/training.py",), ("sgd_step",), check_sgd_step, SGD_DIAGNOSES, MANUAL_UPDATE),
)
