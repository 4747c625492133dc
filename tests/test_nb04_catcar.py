"""Notebook 04's check module (helpers.checks.nb04_catcar): exercises 4.1-4.6 pass for the instructor's code;
each planted bug (tests/exercise_bugs_training.py) fails exactly its exercise with the diagnosis naming it; the
student edition's stubs report "not done yet"; the references equal the solutions."""

import pytest
import torch

from helpers.checks.exercises import run_checks
from helpers.checks.nb04_catcar import EXERCISES as NB04_EXERCISES
from helpers.checks.nb04_catcar import (SELECTION_RUNS, fit_reference, mlp_forward_reference, recipe_instance_reference,
                                       select_and_test_reference, select_best_reference, sgd_step_reference,
                                       stratified_split_reference, training_step_reference)
from helpers.experiments import catcar_sweep
from helpers.experiments.catcar_sweep import SGDConfig, SweepRun
from helpers.data import catcar
from helpers.training import MyMLP, sgd_step, training_step
from tests.exercise_bugs_training import (_replacing, _workspace_with)

EXERCISES = NB04_EXERCISES
IDS = [exercise.id for exercise in EXERCISES]


def test_the_exercises_are_the_inf265_ones_in_notebook_order():
    assert [exercise.id for exercise in EXERCISES] == ["4.1", "4.2", "4.3", "4.4", "4.5", "4.6"]
    assert all(exercise.handout.startswith("INF265") for exercise in EXERCISES)


def test_forbid_is_set_per_exercise():
    assert {exercise.id: exercise.forbid for exercise in EXERCISES} == {
        "4.1": ("references",), "4.2": ("references",), "4.3": ("references",), "4.4": ("torch.optim", "references"),
        "4.5": ("references",), "4.6": ("references",)}


# --- the references equal the solutions ---------------------------------------------------------------

@pytest.mark.parametrize("settings", [dict(lr=0.1), dict(lr=0.05, momentum=0.9, weight_decay=0.01, dampening=0.2),
                                      dict(lr=0.05, momentum=0.8, nesterov=True)])
def test_the_torch_optim_reference_equals_sgd_step_bit_for_bit_buffers_included(settings):
    generator = torch.Generator().manual_seed(3)
    start = [torch.randn(4, 3, generator=generator, dtype=torch.float64), torch.randn(4, generator=generator,
                                                                                      dtype=torch.float64)]
    runs = []
    for step in (sgd_step, sgd_step_reference):
        params, buffers = [p.clone() for p in start], [None, None]
        gradients = torch.Generator().manual_seed(4)
        for _ in range(4):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gradients, dtype=torch.float64)
            step(params, buffers, **settings)
            assert all(p.grad is None for p in params)
        runs.append((params, buffers))
    (ours, our_buffers), (theirs, their_buffers) = runs
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(our_buffers, their_buffers))


def test_the_functional_reference_equals_mymlp_forward_bit_for_bit():
    torch.manual_seed(5)
    model = MyMLP().double()
    x = torch.randn(9, 3, 16, 16, dtype=torch.float64)
    assert torch.equal(MyMLP.forward(model, x), mlp_forward_reference(model, x))


def test_the_autograd_grad_reference_equals_training_step_bit_for_bit():
    results = []
    for step in (training_step, training_step_reference):
        torch.manual_seed(6)
        model = MyMLP(n_inputs=12, n_hidden=(5, 4)).double()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
        generator = torch.Generator().manual_seed(7)
        losses = [step(model, torch.nn.functional.cross_entropy, optimizer,
                       torch.randn(5, 12, generator=generator, dtype=torch.float64),
                       torch.randint(0, 2, (5,), generator=generator)).item() for _ in range(3)]
        assert all(p.grad is None or not p.grad.any() for p in model.parameters())
        results.append((losses, [p.detach().clone() for p in model.parameters()]))
    assert results[0][0] == results[1][0]
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))


def test_the_grouping_reference_gives_the_same_split():
    labels = torch.randint(0, 4, (257,), generator=torch.Generator().manual_seed(8))
    for fraction, seed in ((0.2, 265), (0.35, 1)):
        solution = catcar.stratified_split(labels, fraction, seed)
        reference = stratified_split_reference(labels, fraction, seed)
        assert all(torch.equal(a, b) for a, b in zip(solution, reference))


def test_a_sgd_step_that_differs_by_rounding_is_named_as_such(tmp_path):
    workspace = _workspace_with("4.4", _replacing(("p.add_(grad, alpha=-lr)", "p.sub_(grad / (1 / lr))")))
    result = run_checks("4.4", workspace)
    assert result.passed and any("ulp" in o.name for o in result.outcomes), result.lines()


def test_training_step_passes_while_the_forward_pass_is_not_done(tmp_path):
    solution = "        hidden = torch.relu(self.fc2(torch.relu(self.fc1(x))))\n        scores = self.fc3(hidden)\n"
    stub = ("        from helpers.runtime.exercises import ExerciseNotDone\n"
            "        raise ExerciseNotDone('MyMLP.forward', '<source>')\n")
    workspace = _workspace_with("4.2", _replacing((solution, stub)))
    assert run_checks("4.2", workspace).not_done is not None
    result = run_checks("4.3", workspace)
    assert result.passed, result.lines()


# --- exercises 4.5 and 4.6: the references equal the solutions, the made-up runs are the traps they claim -----

def test_the_recipe_references_train_the_same_bits_as_recipe_instance_and_fit():
    generator = torch.Generator().manual_seed(9)
    images, labels = torch.randn(40, 3, 16, 16, generator=generator), torch.arange(40) % 2
    config = SGDConfig(0.05, momentum=0.9, weight_decay=0.01, cosine=True)
    trained = []
    for build, fit in ((catcar_sweep.recipe_instance, catcar_sweep.fit), (recipe_instance_reference, fit_reference)):
        for trainer in ("torch", "manual"):
            model, loader = build(images, labels, 16, seed=3, augment=True)
            losses = []
            fit(trainer, config, model, loader, 2, lambda epoch, m, loss: losses.append(loss))
            trained.append((losses, [p.detach().clone() for p in model.parameters()]))
    assert all(params[0].dtype == torch.float64 for _, params in trained)
    for losses, params in trained[1:]:
        assert losses == trained[0][0] and all(torch.equal(a, b) for a, b in zip(params, trained[0][1]))


def test_the_selection_references_choose_and_test_as_the_solutions_do():
    models = [torch.nn.Linear(3, 2).double() for _ in range(4)]
    runs = [SweepRun(SGDConfig(0.1), val_accuracies=accuracies, model=model, diverged=diverged)
            for accuracies, model, diverged in zip(([0.9, 0.99], [0.5, 0.8], [0.9, 0.8], [0.6, 0.7]), models,
                                                   (True, False, False, False))]
    assert select_best_reference(runs) is catcar_sweep.select_best(runs) is runs[1]  # first of the tie, not diverged
    test_x, test_y = torch.randn(9, 3, dtype=torch.float64), torch.arange(9) % 2
    ours, theirs = catcar_sweep.select_and_test(runs, test_x, test_y), select_and_test_reference(runs, test_x, test_y)
    assert ours.run is theirs.run and torch.equal(ours.predictions, theirs.predictions)
    assert ours.accuracy == theirs.accuracy
    with pytest.raises(ValueError, match="every run diverged"):
        select_best_reference(runs[:1])


def test_each_wrong_criterion_points_at_another_of_the_made_up_runs():
    """The selection check's runs: final validation accuracy picks run 2; the best epoch, the training loss and
    the validation loss each pick a different run, and the diverged one holds the highest accuracy of all."""
    finished = [(i, run) for i, run in enumerate(SELECTION_RUNS) if not run[4]]
    by = lambda key, pick: pick(finished, key=lambda item: key(item[1]))[0]  # noqa: E731
    assert by(lambda r: r[1][-1], max) == 2
    assert len({by(lambda r: max(r[1]), max), by(lambda r: r[2][-1], min), by(lambda r: r[3][-1], min), 2}) == 4
    assert max(max(run[1]) for run in SELECTION_RUNS) == max(SELECTION_RUNS[0][1]) and SELECTION_RUNS[0][4]
