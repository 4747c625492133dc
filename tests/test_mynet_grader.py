"""The re-implemented grader: the correct backpropagation passes, and each kind of mistake fails its check."""
import math

import pytest
import torch

from helpers.mynet import MyNet, backpropagation
from helpers.experiments.delta_norms import toy_regression
from helpers.checks.delta_rule_grader import CHECKS, grade_backpropagation
from planted_bugs import halved, transposed

SHAPES, UNCHANGED, LEAVES, AUTOGRAD, FINITE_DIFFERENCES, OPTIMISER = CHECKS


def grade(backprop, n_l=(2, 3, 2), activation="tanh", **kwargs):
    torch.manual_seed(0)
    x, y = toy_regression(16, n_l[0], n_l[-1], seed=1)
    kwargs.setdefault("epochs", 2)
    return grade_backpropagation(backprop, MyNet(n_l, activation).double(), x, y, **kwargs)


def failed_checks(report):
    return {check for check in CHECKS if report.passes[check] != report.runs[check]}


@pytest.mark.parametrize("n_l, activation", [((2, 3, 2), "tanh"), ((3, 5, 4, 1), "sigmoid"),
                                             ((2, 4, 4, 2), ["relu", "relu", "identity"])])
def test_the_delta_rule_passes_every_check(n_l, activation):
    report = grade(backpropagation, n_l, activation)
    assert report.steps == 4 and report.passed and report.checks_passed == 6
    assert all(report.runs[check] == 4 for check in CHECKS)
    assert report.max_autograd_error() <= 1e-10 and report.max_finite_difference_error() <= 1e-6
    assert set(report.worst_autograd) == {f"fc.{l}.{kind}" for l in range(1, len(n_l)) for kind in ("weight", "bias")}
    assert "ALL CHECKS PASSED: 6/6" in report.summary()


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
    assert report.errors == []
    assert failed_checks(report) == expected_failures
    assert not report.passed and "SOME CHECKS FAILED" in report.summary()
    for check in expected_failures:
        assert f"{report.passes[check]}/{report.runs[check]}  FAIL" in report.summary()


def test_a_nan_gradient_is_reported_as_nan_not_hidden():
    report = grade(returns_nan, epochs=1, batch_size=16)  # one step: later ones would start from NaN weights
    assert failed_checks(report) == {AUTOGRAD, FINITE_DIFFERENCES, OPTIMISER}
    assert math.isnan(report.max_autograd_error()) and math.isnan(report.worst_autograd["fc.2.bias"].max_relative_error)
    assert report.worst_autograd["fc.1.weight"].passed


def test_a_candidate_that_raises_fails_every_check_and_the_message_is_kept():
    report = grade(returns_nan)  # the NaN step poisons the weights: later forward passes are NaN
    assert failed_checks(report) == set(CHECKS) and len(report.errors) == report.steps - 1
    assert report.errors[0].startswith("step 2: FloatingPointError: y_pred contains NaN")
    assert "raised an exception on 3 steps, first on step 2: FloatingPointError" in report.summary()


def test_finite_differences_can_run_on_every_kth_step_only():
    report = grade(backpropagation, epochs=3, batch_size=4, finite_difference_every=5)  # 12 steps
    assert report.steps == 12 and report.runs[FINITE_DIFFERENCES] == 3 and report.runs[AUTOGRAD] == 12
    assert report.passed


def test_error_tables_list_every_tensor_with_a_verdict():
    tables = grade(halved).error_tables()
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
