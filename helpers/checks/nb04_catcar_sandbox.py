"""Sandbox side of notebook 04's checks (:mod:`helpers.checks.nb04_catcar`).

Runs in the sandbox only: builds the objects an exercise works on (a ``MyMLP``, an optimizer, parameters with
gradients) from plain data, calls the student's function inside :func:`student_running` and returns plain
data: what it returned and everything it changed (parameters, momentum buffers, and whether it modified its
inputs). The verdict is made by the trusted side.
"""
from __future__ import annotations

import torch
from torch import nn

from helpers.checks.sandbox_worker import resolve, stand_in, student_running


def stratified_split_run(labels: torch.Tensor, fraction: float, seed: int) -> dict:
    """Exercise 4.1: the student's ``stratified_split(labels, fraction, seed=seed)``; also whether it
    modified ``labels`` in place."""
    from helpers.data import catcar
    before = labels.clone()
    with student_running():
        result = catcar.stratified_split(labels, fraction, seed=seed)
    return {"result": result, "labels_changed": not torch.equal(labels, before)}


def _mlp(n_inputs: int, n_hidden, state: dict) -> nn.Module:
    from helpers.training import MyMLP
    model = MyMLP(n_inputs=n_inputs, n_hidden=tuple(n_hidden)).double()
    model.load_state_dict(state)
    return model


def mlp_forward_run(n_inputs: int, n_hidden, state: dict, x: torch.Tensor, backward: bool = False) -> dict:
    """Exercise 4.2: the student's ``MyMLP.forward`` on ``x``; with ``backward``, cross-entropy against
    class 0 is backpropagated through the logits and every parameter's gradient returned (None: not reached)."""
    model = _mlp(n_inputs, n_hidden, state)
    before = x.clone()
    with student_running():
        logits = model(x)
    result = {"logits": logits, "changed_input": not torch.equal(x, before)}
    if backward:
        grads = dict.fromkeys((name for name, _ in model.named_parameters()), None)
        if isinstance(logits, torch.Tensor) and logits.requires_grad and logits.dim() == 2:
            try:
                nn.functional.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.int64)).backward()
                grads = {name: p.grad for name, p in model.named_parameters()}
            except RuntimeError:
                pass
        result["grads"] = grads
    return result


def training_step_run(n_inputs: int, n_hidden, state: dict, batches: list, optimizer_settings: dict) -> dict:
    """Exercise 4.3 alone: the student's ``training_step`` on each batch with ``torch.optim.SGD``, the model's
    forward being the reference (so a mistake of exercise 4.2 never fails 4.3). Returns the parameters
    afterwards, each returned loss, each batch's loss before its step, whether a gradient was left in
    ``.grad`` after each step, and whether a batch was modified in place."""
    from helpers import training
    from helpers.checks.nb04_catcar import mlp_forward_reference
    training.MyMLP.forward = stand_in(mlp_forward_reference)
    model = _mlp(n_inputs, n_hidden, state)
    optimizer = torch.optim.SGD(model.parameters(), **optimizer_settings)
    losses, before, left, changed = [], [], [], False
    for x, y in batches:
        with torch.no_grad():
            before.append(nn.functional.cross_entropy(model(x), y).item())
        x_before, y_before = x.clone(), y.clone()
        with student_running():
            loss = training.training_step(model, nn.functional.cross_entropy, optimizer, x, y)
        losses.append(loss)
        left.append(any(p.grad is not None and bool(p.grad.any()) for p in model.parameters()))
        changed |= not (torch.equal(x, x_before) and torch.equal(y, y_before))
    return {"parameters": [p.detach().clone() for p in model.parameters()], "losses": losses,
            "losses_before": before, "left": left, "changed_input": changed}


def sgd_step_run(start: list, gradients: list, settings: dict) -> dict:
    """Exercise 4.4: the student's ``sgd_step`` for each step's ``gradients`` (put in ``.grad``) from the
    parameters ``start``, with one momentum buffer list kept across the steps. Returns the parameters and
    buffers afterwards and, per step, whether every gradient was cleared."""
    from helpers import training
    params = [p.clone() for p in start]
    buffers: list = [None] * len(params)
    cleared = []
    for step in gradients:
        for p, g in zip(params, step):
            p.grad = g.clone()
        with student_running():
            training.sgd_step(params, buffers, **settings)
        cleared.append(all(p.grad is None or not p.grad.any() for p in params))
    return {"parameters": [p.detach().clone() for p in params], "buffers": list(buffers), "cleared": cleared}


def _sweep(name: str):
    """A function or class of the student's ``helpers/experiments/catcar_sweep.py``. A check module may not import
    the experiments layer, so the name is resolved by the sandbox worker, as every check's target is."""
    return resolve(f"helpers.experiments.catcar_sweep:{name}", [])


def _references_for_the_lessons() -> None:
    """Exercises 4.2-4.4 replaced by their references, so that only 4.5's or 4.6's code is judged."""
    from helpers import training
    from helpers.checks.nb04_catcar import mlp_forward_reference, sgd_step_reference, training_step_reference
    training.MyMLP.forward = stand_in(mlp_forward_reference)
    training.training_step = stand_in(training_step_reference)
    training.sgd_step = stand_in(sgd_step_reference)


def _split(images: torch.Tensor, labels: torch.Tensor):
    from helpers.data.catcar import Split
    return Split(images, labels, torch.zeros(len(labels), 3, 32, 32, dtype=torch.uint8), torch.arange(len(labels)))


def recipe_runs(raw: dict, requests: list) -> list[dict]:
    """Exercise 4.5: the student's ``train_config`` (its ``recipe_instance`` and ``fit``) for each request
    ``(settings, trainer, n_epochs, batch_size)`` on the data ``raw`` ({"train": (images (N, 3, 16, 16), labels
    (N,)), "val": (...), "mean": (3,), "std": (3,)}). Returns each run's curves, whether it diverged and its
    parameters after training."""
    from helpers.data.catcar import CatCarData
    _references_for_the_lessons()
    data = CatCarData(_split(*raw["train"]), _split(*raw["val"]), _split(*raw["val"]), raw["mean"], raw["std"])
    config_type, train_config = _sweep("SGDConfig"), _sweep("train_config")
    results = []
    for settings, trainer, n_epochs, batch_size in requests:
        with student_running():
            run = train_config(config_type(**settings), data, n_epochs, batch_size, trainer=trainer)
        results.append({"train_losses": list(run.train_losses), "val_losses": list(run.val_losses),
                        "val_accuracies": list(run.val_accuracies), "diverged": bool(run.diverged),
                        "parameters": [p.detach().cpu().clone() for p in run.model.parameters()]})
    return results


def _counted_run(run_type, config_type, entry: dict, counts: list):
    """One made-up run whose model (a reference MyMLP 2 → 2 → 2 → 2) counts each forward pass and its images."""
    model = _mlp(2, (2, 2), entry["state"])
    model.register_forward_pre_hook(lambda module, inputs: counts.append(len(inputs[0])))
    return run_type(config_type(0.01), train_losses=list(entry["train_losses"]), val_losses=list(entry["val_losses"]),
                    val_accuracies=list(entry["val_accuracies"]), model=model, diverged=entry["diverged"])


def selection_run(entries: list, test_images: torch.Tensor, test_labels: torch.Tensor) -> dict:
    """Exercise 4.6: the student's ``select_best`` and ``select_and_test`` on made-up runs (``entries``: state,
    curves, diverged) whose models count what they are shown. Returns the index of each choice, the forward passes
    of each model during ``select_and_test`` (and during ``select_best``), the images each saw, the returned
    predictions (N,) and accuracy, and what ``select_best`` raised when every run diverged."""
    from helpers import training
    from helpers.checks.nb04_catcar import mlp_forward_reference
    training.MyMLP.forward = stand_in(mlp_forward_reference)
    run_type, config_type = _sweep("SweepRun"), _sweep("SGDConfig")
    counts = [[] for _ in entries]
    runs = [_counted_run(run_type, config_type, entry, seen) for entry, seen in zip(entries, counts)]
    index = lambda chosen: next((i for i, run in enumerate(runs) if run is chosen), -1)  # noqa: E731
    with student_running():
        best = _sweep("select_best")(runs)
    select_best_passes = sum(map(len, counts))
    for seen in counts:
        seen.clear()
    with student_running():
        result = _sweep("select_and_test")(runs, test_images, test_labels)
    diverged = [_counted_run(run_type, config_type, {**entry, "diverged": True}, []) for entry in entries[:2]]
    try:
        with student_running():
            _sweep("select_best")(diverged)
        raised = "nothing"
    except Exception as error:  # noqa: BLE001 - which error the student's code raises is the result
        raised = type(error).__name__
    return {"best": index(best), "selected": index(result.run), "passes": [len(seen) for seen in counts],
            "images": [sum(seen) for seen in counts], "select_best_passes": select_best_passes,
            "predictions": result.predictions, "accuracy": float(result.accuracy), "all_diverged": raised}
