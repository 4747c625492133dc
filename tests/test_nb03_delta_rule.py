"""Notebook 03's check module (helpers.checks.nb03_delta_rule): exercises 3.1-3.2 pass for the instructor's code;
each planted bug (tests/exercise_bugs_training.py) fails exactly its exercise with the diagnosis naming it; the
student edition's stubs report "not done yet"; a forbidden tool is named; the references equal the solutions;
the grader's procedure (grade_backpropagation) and the INF265 course's own procedure (run_procedure) pass the delta
rule and fail each planted mistake."""
import math

import pytest
import torch

from helpers.checks.exercises import run_checks
from helpers.checks.nb03_delta_rule import EXERCISES as NB03_EXERCISES
from helpers.checks import stand_ins
from helpers.checks.nb03_delta_rule import (CHECKS, PROCEDURE_CHECKS, backpropagation_reference, checks_passed,
                                           error_tables, failure, grade_backpropagation, grading_summary,
                                           manual_sgd_step_reference, mnist_standin_cell, procedure_summary,
                                           run_procedure, sample_comparisons, small_cell, tally, worst_error)
from helpers.experiments.delta_norms import toy_regression
from helpers.mynet import MyNet, backpropagation, manual_sgd_step
from helpers.runtime.exercises import ExerciseNotDone
from planted_bugs import halved, transposed
from tools.editions import strip_solutions
from tests.exercise_bugs_training import (ROOT, _module_from, _replacing, _workspace_with)

EXERCISES = NB03_EXERCISES
IDS = [exercise.id for exercise in EXERCISES]


def test_the_exercises_are_the_inf265_ones_in_notebook_order():
    assert [exercise.id for exercise in EXERCISES] == ["3.1", "3.2"]
    assert all(exercise.handout.startswith("INF265") for exercise in EXERCISES)


def test_forbid_is_set_per_exercise():
    assert {exercise.id: exercise.forbid for exercise in EXERCISES} == {"3.1": ("autograd", "references"),
                                                                         "3.2": ("torch.optim", "references")}


def test_a_manual_step_written_with_torch_optim_fails_naming_the_forbidden_tool(tmp_path):
    line = "layer.weight.add_(model.dL_dw[l], alpha=-lr)"
    workspace = _workspace_with("3.2", lambda text: text.replace(
        line, "torch.optim.SGD([layer.weight], lr=lr).step()"))
    result = run_checks("3.2", workspace)
    text = "\n".join(result.lines())
    assert not result.passed and result.not_done is None, text
    assert "torch.optim" in text and "allowed" in text, text


def test_a_stubbed_backpropagation_gives_the_labelled_reference_outside_the_checks(capsys):
    path = ROOT / "helpers/mynet.py"
    student = _module_from(strip_solutions(path.read_text(encoding="utf-8")), "helpers.mynet", path)
    stub = student.backpropagation
    stand_ins._wrap_stubs(student.__dict__, "helpers.mynet")  # what the student edition does on import
    torch.manual_seed(0)
    model = MyNet([3, 4, 2]).double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    deltas = student.backpropagation(model, y, model(x))
    assert set(deltas) == {1, 2} and model.dL_dw[1].shape == (4, 3)
    assert "[not done yet]" in capsys.readouterr().out
    with pytest.raises(ExerciseNotDone):
        stub(model, y, model(x))


# --- the references equal the solutions ---------------------------------------------------------------

@pytest.mark.parametrize("n_l, activations, target_dtype", [([3, 4, 2], "tanh", torch.float64),
                                                            ([2, 5, 4, 3], ["sigmoid", "relu", "identity"],
                                                             torch.float32)])
def test_the_autograd_reference_equals_the_delta_rule(n_l, activations, target_dtype):
    torch.manual_seed(1)
    model = MyNet(n_l, activations).double()
    x, y = torch.randn(6, n_l[0], dtype=torch.float64), torch.randn(6, n_l[-1]).to(target_dtype)
    y_pred = model(x)
    solution = backpropagation(model, y, y_pred)
    solved = {l: (model.dL_dw[l].clone(), model.dL_db[l].clone()) for l in solution}
    reference = backpropagation_reference(model, y, y_pred)
    for l, (weight, bias) in solved.items():
        for ours, theirs in ((solution[l], reference[l]), (weight, model.dL_dw[l]), (bias, model.dL_db[l])):
            assert ours.shape == theirs.shape and torch.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    assert all(p.grad is None for p in model.parameters())


def test_the_autograd_reference_takes_the_course_mnist_targets():
    model, samples = mnist_standin_cell(n_samples=1, seed=0)
    x, y = samples[0]
    y_pred = model(x)
    solution = backpropagation(model, y, y_pred)
    reference = backpropagation_reference(model, y, y_pred)
    assert all(torch.allclose(solution[l], reference[l], rtol=1e-12, atol=1e-12) for l in solution)


def test_the_torch_optim_reference_equals_the_manual_gradient_step_bit_for_bit():
    torch.manual_seed(2)
    ours, theirs = MyNet([3, 4, 2]).double(), MyNet([3, 4, 2]).double()
    theirs.load_state_dict(ours.state_dict())
    for net in (ours, theirs):
        for l in (1, 2):
            net.dL_dw[l] = torch.full_like(net.fc[str(l)].weight, 0.3) * l
            net.dL_db[l] = torch.full_like(net.fc[str(l)].bias, -0.7)
    manual_sgd_step(ours, 0.13)
    manual_sgd_step_reference(theirs, 0.13)
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))
    assert all(p.grad is None for p in theirs.parameters())


def test_a_backpropagation_that_never_fills_the_returned_deltas_fails(tmp_path):
    workspace = _workspace_with("3.1", _replacing(("deltas[l] = delta", "pass")))
    result = run_checks("3.1", workspace)
    assert not result.passed and "δ[" in "\n".join(result.lines()), result.lines()


# --- the grader's procedure: grade_backpropagation ------------------------------------------------------------

SHAPES, UNCHANGED, LEAVES, AUTOGRAD, FINITE_DIFFERENCES, OPTIMISER = CHECKS


def grade(backprop, n_l=(2, 3, 2), activation="tanh", **kwargs):
    torch.manual_seed(0)
    x, y = toy_regression(16, n_l[0], n_l[-1], seed=1)
    kwargs.setdefault("epochs", 2)
    return grade_backpropagation(backprop, MyNet(n_l, activation).double(), x, y, **kwargs)


def failed_checks(report):
    return {check for check, (passes, runs) in tally(report).items() if passes != runs}


def errors(report):
    """The messages of the steps on which the candidate raised (every check of such a step fails with it)."""
    return [f"step {index}: {failure(step)[len('backpropagation raised '):]}"
            for index, step in enumerate(report["steps"], 1) if all(not each.passed for each in step)
            and failure(step).startswith("backpropagation raised ")]


@pytest.mark.parametrize("n_l, activation", [((2, 3, 2), "tanh"), ((3, 5, 4, 1), "sigmoid"),
                                             ((2, 4, 4, 2), ["relu", "relu", "identity"])])
def test_the_delta_rule_passes_every_check(n_l, activation):
    report = grade(backpropagation, n_l, activation)
    assert len(report["steps"]) == 4 and checks_passed(report) == 6
    assert all(runs == 4 for _, runs in tally(report).values())
    assert worst_error(report["autograd"]) <= 1e-10 and worst_error(report["finite differences"]) <= 1e-6
    assert set(report["autograd"]) == {f"fc.{l}.{kind}" for l in range(1, len(n_l)) for kind in ("weight", "bias")}
    assert "ALL CHECKS PASSED: 6/6" in grading_summary(report)


def updates_in_place(model, y_true, y_pred):
    backpropagation(model, y_true, y_pred)
    with torch.no_grad():
        model.fc["1"].weight -= 0.01 * model.dL_dw[1]


def detaches(model, y_true, y_pred):
    backpropagation(model, y_true, y_pred)
    model.fc["2"].weight.requires_grad_(False)


def replaces_a_parameter(model, y_true, y_pred):
    backpropagation(model, y_true, y_pred)
    model.fc["2"].bias = torch.nn.Parameter(model.fc["2"].bias.detach().clone())


def does_nothing(model, y_true, y_pred):
    pass


def returns_nan(model, y_true, y_pred):
    backpropagation(model, y_true, y_pred)
    model.dL_db[2] = model.dL_db[2] * float("nan")


@pytest.mark.parametrize("candidate, expected_failures", [
    (halved, {AUTOGRAD, FINITE_DIFFERENCES}),
    (transposed, {SHAPES, AUTOGRAD, FINITE_DIFFERENCES, OPTIMISER}),
    (updates_in_place, {UNCHANGED, AUTOGRAD, FINITE_DIFFERENCES}),
    (detaches, {LEAVES, AUTOGRAD, FINITE_DIFFERENCES, OPTIMISER}),
    (replaces_a_parameter, {LEAVES, AUTOGRAD, FINITE_DIFFERENCES, OPTIMISER}),
    (does_nothing, {SHAPES, AUTOGRAD, FINITE_DIFFERENCES, OPTIMISER}),
])
def test_each_mistake_fails_its_checks(candidate, expected_failures):
    report = grade(candidate)
    assert errors(report) == [] and "raised" not in grading_summary(report)
    assert failed_checks(report) == expected_failures
    assert checks_passed(report) < 6 and "SOME CHECKS FAILED" in grading_summary(report)
    for check in expected_failures:
        passes, runs = tally(report)[check]
        assert f"{passes}/{runs}  FAIL" in grading_summary(report)


def test_a_nan_gradient_is_reported_as_nan_not_hidden():
    report = grade(returns_nan, epochs=1, batch_size=16)  # one step: later ones would start from NaN weights
    assert failed_checks(report) == {AUTOGRAD, FINITE_DIFFERENCES, OPTIMISER}
    assert math.isnan(worst_error(report["autograd"])) and math.isnan(report["autograd"]["fc.2.bias"].max_relative_error)
    assert report["autograd"]["fc.1.weight"].passed


def test_a_candidate_that_raises_fails_every_check_and_the_message_is_kept():
    report = grade(returns_nan)  # the NaN step poisons the weights: later forward passes are NaN
    assert failed_checks(report) == set(CHECKS) and len(errors(report)) == len(report["steps"]) - 1
    assert errors(report)[0].startswith("step 2: FloatingPointError: y_pred contains NaN")
    assert "raised an exception on 3 steps, first on step 2: FloatingPointError" in grading_summary(report)


def test_finite_differences_can_run_on_every_kth_step_only():
    report = grade(backpropagation, epochs=3, batch_size=4, finite_difference_every=5)  # 12 steps
    assert len(report["steps"]) == 12 and tally(report)[FINITE_DIFFERENCES][1] == 3
    assert tally(report)[AUTOGRAD][1] == 12 and checks_passed(report) == 6


def test_error_tables_list_every_tensor_with_a_verdict():
    tables = error_tables(grade(halved))
    assert "against autograd:" in tables and "against finite differences:" in tables
    assert tables.count("FAIL") == 8  # 4 tensors, 2 references


def test_bad_grading_input_is_a_clear_error():
    x, y = toy_regression(8, 2, 2)
    with pytest.raises(ValueError, match=r"float64 data and model \(call model.double\(\)\)"):
        grade_backpropagation(backpropagation, MyNet([2, 3, 2]), x, y)
    with pytest.raises(ValueError, match="same, non-zero number of samples"):
        grade_backpropagation(backpropagation, MyNet([2, 3, 2]).double(), x, y[:4])
    with pytest.raises(ValueError, match="must be >= 1"):
        grade_backpropagation(backpropagation, MyNet([2, 3, 2]).double(), x, y, epochs=0)


# --- the INF265 course's procedure: run_procedure ---------------------------------------------------------------

RAN, AUTOGRAD, FINITE_DIFFERENCES = PROCEDURE_CHECKS
PARAMETERS = {f"fc.{l}.{kind}" for l in (1, 2) for kind in ("weight", "bias")}


def counts(report):
    """Per check: (samples that passed it, samples it was due on)."""
    outcomes = [each for sample in report for each in sample]
    return {check: (sum(each.passed for each in outcomes if each.name == check),
                    sum(each.name == check for each in outcomes)) for check in PROCEDURE_CHECKS}


def first_output_only(model, y_true, y_pred):
    """Planted bug: the label compared with the first output only, not broadcast to every output."""
    target = y_pred.detach().clone()
    target[:, 0] = y_true.reshape(-1)[0]
    backpropagation(model, target, y_pred)


def test_the_delta_rule_passes_the_small_dataset_cell():
    model, samples = small_cell(n_samples=10)
    problem, rows, fd_rows = sample_comparisons(backpropagation, model, *samples[0])  # leaves the parameters alone
    assert problem is None and {row.name for row in rows} == {row.name for row in fd_rows} == PARAMETERS
    assert all(row.passed for row in rows + fd_rows)
    report = run_procedure(backpropagation, model, samples)
    assert len(report) == 10 and all(failure(sample) is None for sample in report)
    assert counts(report) == {RAN: (10, 10), AUTOGRAD: (10, 10), FINITE_DIFFERENCES: (10, 10)}
    assert "PASSED: 10/10 samples passed every check" in procedure_summary(report)


def test_the_delta_rule_passes_the_mnist_shaped_cell():
    model, samples = mnist_standin_cell(n_samples=3)
    assert model.n_l == [576, 16, 10]
    for image, label in samples:
        assert image.shape == (1, 1, 24, 24) and image.dtype == torch.float64
        assert label.shape == (1, 1) and label.dtype == torch.float32 and label.item() in range(10)
    _, _, fd_rows = sample_comparisons(backpropagation, model, *samples[0])
    assert fd_rows and all(row.passed and row.unresolvable_below is None for row in fd_rows)
    report = run_procedure(backpropagation, model, samples, finite_difference_every=3)
    assert all(failure(sample) is None for sample in report)
    assert [FINITE_DIFFERENCES in {each.name for each in s} for s in report] == [True, False, False]
    assert counts(report) == {RAN: (3, 3), AUTOGRAD: (3, 3), FINITE_DIFFERENCES: (1, 1)}


def test_the_optimiser_steps_train_the_model_with_autograds_gradients():
    model, samples = small_cell(n_samples=1)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    x, y = samples[0]
    reference = MyNet([2, 3, 2]).double()
    reference.load_state_dict(model.state_dict())
    torch.nn.MSELoss(reduction="none")(reference(x), y).sum().backward()
    run_procedure(halved, model, samples, lr=0.1)  # a wrong candidate does not change the path
    for name, p in model.named_parameters():
        expected = before[name] - 0.1 * dict(reference.named_parameters())[name].grad
        assert torch.allclose(p.detach(), expected, rtol=0, atol=1e-15)


def test_a_missing_factor_two_fails_both_comparisons():
    model, samples = small_cell(n_samples=3)
    # every gradient is half the true one: relative error |g/2 - g| / (|g/2| + |g|) = 1/3
    _, rows, _ = sample_comparisons(halved, model, *samples[0], finite_differences=False)
    assert len(rows) == 4 and all(abs(row.max_relative_error - 1 / 3) < 1e-9 for row in rows)
    report = run_procedure(halved, model, samples)
    assert counts(report) == {RAN: (3, 3), AUTOGRAD: (0, 3), FINITE_DIFFERENCES: (0, 3)}
    assert "FAILED: 0/3" in procedure_summary(report)
    assert "first failure, sample 0: fc.1.weight against autograd: 3.3e-01 > 1e-10: FAIL" in procedure_summary(report)


@pytest.mark.parametrize("cell, expected", [(small_cell, "(2, 3), expected (3, 2)"),
                                            (mnist_standin_cell, "(576, 16), expected (16, 576)")])
def test_a_transposed_weight_gradient_is_reported_not_raised(cell, expected):
    model, samples = cell(n_samples=2)
    report = run_procedure(transposed, model, samples)
    assert counts(report)[RAN] == (0, 2)
    assert [failure(s) for s in report] == [f"fc.1.weight: gradient of shape {expected}"] * 2
    assert "FAILED: 0/2 samples" in procedure_summary(report) and "FAIL" in procedure_summary(report).splitlines()[1]


def test_a_label_not_broadcast_to_every_output_fails_on_the_mnist_cell():
    model, samples = mnist_standin_cell(n_samples=2)
    report = run_procedure(first_output_only, model, samples, finite_difference_every=2)
    assert counts(report)[AUTOGRAD] == (0, 2) and counts(report)[FINITE_DIFFERENCES] == (0, 1)


def test_a_crashing_or_idle_candidate_fails_every_sample():
    def crashes(model, y_true, y_pred):
        raise IndexError("layer 3 does not exist")

    model, samples = small_cell(n_samples=2)
    report = run_procedure(crashes, model, samples)
    assert [failure(s) for s in report] == ["IndexError: layer 3 does not exist"] * 2
    assert all(not each.passed for s in report for each in s)  # every check of a crashed sample fails
    assert "first failure, sample 0: IndexError: layer 3 does not exist" in procedure_summary(report)
    # a candidate that stores nothing must not pass with the previous sample's gradients
    model, samples = small_cell(n_samples=2)
    calls = []
    report = run_procedure(lambda m, y, p: calls.append(1) or (len(calls) == 1 and backpropagation(m, y, p)),
                           model, samples)
    assert failure(report[0]) is None and failure(report[1]).startswith("fc.1.weight: no gradient stored")


def test_bad_arguments_are_clear_errors_and_cells_leave_the_global_seed_alone():
    with pytest.raises(ValueError, match=r"float64 model \(call model.double\(\)\)"):
        run_procedure(backpropagation, MyNet([2, 3, 2]), [])
    with pytest.raises(ValueError, match="finite_difference_every must be an int >= 1, got 0"):
        run_procedure(backpropagation, MyNet([2, 3, 2]).double(), [], finite_difference_every=0)
    state = torch.get_rng_state()
    first, second = small_cell(seed=4), small_cell(seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first[0].fc["1"].weight, second[0].fc["1"].weight)
    assert "FAILED: 0/0" in procedure_summary(run_procedure(backpropagation, MyNet([2, 3, 2]).double(), []))
