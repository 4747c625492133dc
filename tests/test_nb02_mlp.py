"""Notebook 02's check module (helpers.checks.nb02_mlp): the instructor's code passes every check, each planted
bug (tests/exercise_bugs_mlp.py, applied to a copy of the module's source) fails exactly its own exercise with
the expected diagnosis, a stub reports "not done yet", a forbidden tool fails its exercise, the references the
student notebooks fall back on return what the solutions return, each exercise is posed then checked in the
notebook; and the gradient-check tables the notebook prints (the policy applied to layer gradients, the
verdicts, a wrong gradient fails)."""
import importlib
import json

import pytest
import torch

from helpers import layers, mlp, two_layer_theory as theory
from helpers.checks import nb02_mlp as reference
from helpers.checks.exercises import run_checks
from helpers.checks.nb01_spiral import EXERCISES as NB01_EXERCISES
from helpers.checks.nb02_mlp import (EXERCISES, ThreeGradients, all_pass, check_linear, entry_table, max_error,
                                     summary_table)
from helpers.data.paths import PROJECT_ROOT
from tests.exercise_bugs_mlp import PLANTED_BUGS
from tests.sandbox_workspaces import workspace_with

IDS = [exercise.id for exercise in EXERCISES]
# a planted bug must fail its exercise and no other, notebook 01's included (they share the planted copy)
ALL_IDS = [exercise.id for exercise in NB01_EXERCISES] + IDS


AUTOGRAD_LINEAR_BACKWARD = """\
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, weight)]
    bias = torch.zeros(weight.shape[1], dtype=x.dtype, requires_grad=True)
    out = leaves[0].mm(leaves[1]) + bias
    grad_x, grad_weight, grad_bias = torch.autograd.grad((out * grad_out).sum(), [*leaves, bias])
    grad_x = grad_x if input_grad else None
"""


def test_a_forbidden_tool_fails_the_exercise_naming_it(tmp_path):
    source = (PROJECT_ROOT / "helpers" / "layers.py").read_text()
    solution = ("    grad_x = grad_out.mm(weight.t()) if input_grad else None\n"
                "    grad_weight = x.t().mm(grad_out)\n    grad_bias = grad_out.sum(0)\n")
    assert source.count(solution) == 1
    workspace = workspace_with({"helpers/layers.py": source.replace(solution, AUTOGRAD_LINEAR_BACKWARD)})
    result = run_checks("2.1", workspace)
    assert not result.passed and len(result.outcomes) == 1, result.lines()
    outcome = result.outcomes[0]
    assert "torch.autograd.grad" in outcome.name and "helpers/layers.py" in outcome.name, result.lines()
    assert "autograd" in outcome.diagnosis
    assert run_checks("2.5", workspace).passed  # 2.5 uses the reference linear_backward: not the student's


def _draw(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_the_layer_references_return_what_the_solutions_return():
    x, weight, upstream = _draw(5, 3, seed=1), _draw(3, 4, seed=2), _draw(5, 4, seed=3)
    for solution in (layers.linear_backward, layers.linear_backward_loops):
        for ours, theirs in zip(solution(upstream, x, weight), reference.linear_backward_reference(upstream, x, weight)):
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    assert reference.linear_backward_reference(upstream, x, weight, input_grad=False)[0] is None
    z = _draw(6, 4, seed=4)
    for kind in ("relu", "sigmoid", "tanh"):
        y = getattr(torch, kind)(z)
        torch.testing.assert_close(getattr(layers, f"{kind}_backward")(upstream[:1].expand(6, 4), y),
                                   getattr(reference, f"{kind}_backward_reference")(upstream[:1].expand(6, 4), y),
                                   rtol=1e-12, atol=1e-12)
    y_hat, y = torch.tensor([0.0, 1.0, 1e-30, 0.3], dtype=torch.float64), torch.tensor([1.0, 0.0, 1.0, 0.2],
                                                                                       dtype=torch.float64)
    assert torch.equal(layers.bce_backward(y_hat, y), reference.bce_backward_reference(y_hat, y))
    assert torch.equal(layers.mse_backward(z, y_hat.expand(6, 4)),
                       reference.mse_backward_reference(z, y_hat.expand(6, 4)))


def test_the_sgd_step_reference_is_bit_for_bit_the_solution():
    layer, twin = (layers.Linear(3, 2, lr=0.07, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
                   for _ in range(2))
    for each in (layer, twin):
        each.grad_weight, each.grad_bias = _draw(3, 2, seed=6), _draw(2, seed=7)
    layers.Linear.sgd_step(layer)
    reference.sgd_step_reference(twin)
    assert torch.equal(layer.weight, twin.weight) and torch.equal(layer.bias, twin.bias)
    assert twin.weight.grad is None


@pytest.mark.parametrize("f, g", [("relu", "identity"), ("tanh", "sigmoid"), ("sigmoid", "tanh")])
def test_the_nyu_mlp_references_return_what_the_solution_returns(f, g):
    nets = [mlp.MLP(3, 4, f, 4, 2, g, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
            for _ in range(2)]
    x, upstream = _draw(5, 3, seed=9), _draw(5, 2, seed=10)
    ours, theirs = mlp.MLP.forward(nets[0], x), reference.mlp_forward_reference(nets[1], x)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    assert sorted(nets[0].cache) == sorted(nets[1].cache)
    mlp.MLP.backward(nets[0], upstream)
    reference.mlp_backward_reference(nets[1], upstream)
    for name in nets[0].grads:
        torch.testing.assert_close(nets[0].grads[name], nets[1].grads[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f, g, loss, target", [("5relu", "identity", "sse", "real"),
                                                ("tanh", "sigmoid", "bce", "binary")])
def test_the_theory_references_return_what_the_solutions_return(f, g, loss, target):
    params, x, y = theory.random_problem(n=3, h=4, k=2, seed=16, target=target)
    table = theory.forward_table(params, x, y, f, g, loss)
    ours, theirs = theory.jacobians(table, y, f, g, loss), reference.jacobians_reference(table, y, f, g, loss)
    for name in theirs:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-12, atol=1e-12)
    ours = theory.numerator_layout_gradients(params, table, theirs)
    for name, value in reference.numerator_layout_gradients_reference(params, table, theirs).items():
        torch.testing.assert_close(ours[name], value, rtol=1e-12, atol=1e-12)
    z = torch.tensor([[-1.0], [0.0], [2.0]], dtype=torch.float64)
    for name in theory.ELEMENTWISE:
        torch.testing.assert_close(theory.local_derivative(name, z),
                                   reference.local_derivative_reference(name, z), rtol=1e-12, atol=1e-12)


def test_each_exercise_is_posed_then_checked_in_its_notebook_in_order():
    cells = json.loads((PROJECT_ROOT / "notebooks" / "02_manual_backprop_mlp.ipynb").read_text())["cells"]
    tags = [tag for cell in cells for tag in cell.get("metadata", {}).get("tags", [])]
    posed = [tag.split(":", 1)[1] for tag in tags if tag.startswith("exercise:")]
    assert posed == IDS and all(i.startswith("2.") for i in IDS)
    for exercise_id in IDS:
        check = [cell for cell in cells if f"check:{exercise_id}" in cell.get("metadata", {}).get("tags", [])]
        assert len(check) == 1 and "".join(check[0]["source"]) == (
            f'from helpers.checks.exercises import check_exercise\ncheck_exercise("{exercise_id}")')
        assert tags.index(f"exercise:{exercise_id}") < tags.index(f"check:{exercise_id}")


def test_the_checks_import_without_the_student_solutions():
    assert importlib.import_module("helpers.checks.nb02_mlp").EXERCISES == EXERCISES


def test_the_registry_lists_the_diagnoses_the_checks_print():
    """Written once: each exercise's diagnoses are its mistake tables' keys, among them its planted bug's."""
    listed = {exercise.id: exercise.diagnoses for exercise in EXERCISES}
    assert listed["2.4"] == reference.SGD_DIAGNOSES and listed["2.6"] == reference.LAYOUT_DIAGNOSES
    assert listed["2.7"] == reference.JACOBIANS_DIAGNOSES and reference.BACKWARD_STEPPED in listed["2.5"]
    for exercise_id, diagnoses in listed.items():
        assert len(set(diagnoses)) == len(diagnoses) >= 3, exercise_id
        assert any(PLANTED_BUGS[exercise_id][3] in diagnosis for diagnosis in diagnoses), exercise_id


# --- the notebook's gradient-check tables ---------------------------------------------------------------------

def test_tiny_entries_are_judged_at_the_tensor_scale():
    analytic = {"w": torch.tensor([2.0, 1e-9], dtype=torch.float64)}
    autograd = {"w": torch.tensor([2.0, 1e-9 + 1e-15], dtype=torch.float64)}   # round-off in a cancelling sum
    numerical = {"w": torch.tensor([2.0, 1e-9 + 1e-10], dtype=torch.float64)}  # finite-difference noise
    check = ThreeGradients("toy", analytic, autograd, numerical, f_value=1.0)
    assert max_error([check], "autograd") <= 1e-12 and max_error([check], "numerical") <= 1e-7
    assert all_pass([check])


def test_a_zero_gradient_never_passes():
    reference = {"w": torch.tensor([2.0, 1e-9], dtype=torch.float64)}
    check = ThreeGradients("zero", {"w": torch.zeros(2, dtype=torch.float64)}, reference, reference, f_value=1.0)
    assert max_error([check], "autograd") == 1.0 and not all_pass([check])


def test_summary_table_shows_verdicts_only():
    good = check_linear(3, 2, 2, torch.Generator().manual_seed(0))
    bad = ThreeGradients("bad", {"w": torch.ones(1)}, {"w": -torch.ones(1)}, {"w": -torch.ones(1)}, f_value=1.0)
    lines = summary_table([good, bad]).splitlines()
    assert len(lines) == 3 and "vs autograd" in lines[0]
    assert lines[1].split()[-6:] == ["≤", "1e-10:", "ok", "≤", "1e-6:", "ok"]
    assert lines[2].count(": FAIL") == 2


def test_entry_table_flags_a_wrong_entry():
    check = check_linear(2, 3, 2, torch.Generator().manual_seed(1))
    assert all(line.endswith("≤ 1e-6: ok") for line in entry_table(check).splitlines()[1:])
    check.analytic["bias"] = check.analytic["bias"] * 1.01
    bias_lines = [line for line in entry_table(check).splitlines() if line.startswith("bias")]
    assert bias_lines and all(line.endswith("> 1e-6: FAIL") for line in bias_lines)



# --- 2.8-2.9: CSE 849 q2's training loop and the choice on validation ------------------------------------------


def test_the_training_reference_is_the_solution_to_round_off():
    from helpers.experiments import rainfall_fit
    x, y, _, _ = reference._training_data()
    models = [layers.MLP(2, 1, 8, 0.05, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
              for _ in range(2)]
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    ours = rainfall_fit.run_epoch(models[0], layers.MSELoss(), x, y[:, None], order, 16)
    theirs = reference.run_epoch_reference(models[1], layers.MSELoss(), x, y[:, None], order, 16)
    assert ours == pytest.approx(theirs, rel=1e-10)
    for name, tensor in models[0].parameters().items():
        torch.testing.assert_close(tensor, models[1].parameters()[name], rtol=1e-10, atol=1e-12)


def _history_runs():
    from helpers.experiments.rainfall_fit import History
    return {fields["lr"]: History(**fields) for fields in reference.SELECTION_RUNS}


def test_the_selection_case_separates_every_rule_and_the_reference_picks_validation():
    runs, scores = _history_runs(), dict(zip((r["lr"] for r in reference.SELECTION_RUNS), reference.TEST_SCORES))
    chosen, score = reference.select_and_test_reference(runs, lambda history: scores[history.lr])
    assert chosen.lr == reference.CHOSEN_ON["validation"] and score == scores[chosen.lr]
    finished = [h for h in runs.values() if h.best_epoch]
    by = {"test": min(finished, key=lambda h: scores[h.lr]).lr,
          "training": min(finished, key=lambda h: h.train_mse[-1]).lr,
          "last epoch": min(finished, key=lambda h: h.val_mse[-1]).lr}
    assert by == {rule: reference.CHOSEN_ON[rule] for rule in by}  # the case's claim, recomputed
    assert len({reference.CHOSEN_ON["validation"], by["test"], by["training"]}) == 3


SELECTION_LINE = "    chosen = min(finished, key=lambda history: history.best_val_mse)"
SELECTION_MISTAKES = [
    ("    chosen = min(finished, key=lambda history: history.train_mse[-1])", "chose by training MSE"),
    ("    chosen = min(finished, key=lambda history: history.val_mse[-1])", "chose by the last epoch's validation"),
    ("    chosen = max(runs.values(), key=lambda history: history.lr)", "never improved"),
]


@pytest.mark.parametrize("mistaken, phrase", SELECTION_MISTAKES, ids=[m[1] for m in SELECTION_MISTAKES])
def test_a_selection_mistake_is_named(mistaken, phrase):
    source = (PROJECT_ROOT / "helpers" / "experiments" / "rainfall_fit.py").read_text()
    assert source.count(SELECTION_LINE) == 1
    workspace = workspace_with({"helpers/experiments/rainfall_fit.py": source.replace(SELECTION_LINE, mistaken)})
    result = run_checks("2.9", workspace)
    assert not result.passed and phrase in "\n".join(result.lines()), result.lines()


def test_testing_every_run_then_returning_the_validation_choice_fails_the_count():
    source = (PROJECT_ROOT / "helpers" / "experiments" / "rainfall_fit.py").read_text()
    line = "    return chosen, test_mse(chosen)"
    assert source.count(line) == 1
    workspace = workspace_with({"helpers/experiments/rainfall_fit.py": source.replace(
        line, "    scores = {history.lr: test_mse(history) for history in finished}\n    return chosen, scores[chosen.lr]")})
    result = run_checks("2.9", workspace)
    assert [o.passed for o in result.outcomes] == [True, False, True], result.lines()
    assert reference.TESTED_MORE_THAN_ONCE in result.outcomes[1].diagnosis
