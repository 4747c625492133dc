"""The INF265 test procedure (helpers.checks.inf265_procedure): the delta rule passes both of the course's
cells; planted bugs are reported as failures, never raised."""
import pytest
import torch

from helpers.checks.inf265_procedure import (CHECKS, mnist_standin_cell, run_procedure, small_cell)
from helpers.mynet import MyNet, backpropagation
from planted_bugs import halved, transposed

RAN, AUTOGRAD, FINITE_DIFFERENCES = CHECKS
PARAMETERS = {f"fc.{l}.{kind}" for l in (1, 2) for kind in ("weight", "bias")}


def first_output_only(model, y_true, y_pred):
    """Planted bug: the label compared with the first output only, not broadcast to every output."""
    target = y_pred.detach().clone()
    target[:, 0] = y_true.reshape(-1)[0]
    backpropagation(model, target, y_pred)


def test_the_delta_rule_passes_the_small_dataset_cell():
    model, samples = small_cell(n_samples=10)
    report = run_procedure(backpropagation, model, samples)
    assert len(report.samples) == 10 and report.passed
    for result in report.samples:
        assert {row.name for row in result.autograd} == PARAMETERS
        assert {row.name for row in result.finite_differences} == PARAMETERS
        assert all(row.passed for row in result.autograd + result.finite_differences)
    assert report.counts() == {RAN: (10, 10), AUTOGRAD: (10, 10), FINITE_DIFFERENCES: (10, 10)}
    assert "PASSED: 10/10 samples passed every check" in report.summary()


def test_the_delta_rule_passes_the_mnist_shaped_cell():
    model, samples = mnist_standin_cell(n_samples=3)
    assert model.n_l == [576, 16, 10]
    for image, label in samples:
        assert image.shape == (1, 1, 24, 24) and image.dtype == torch.float64
        assert label.shape == (1, 1) and label.dtype == torch.float32 and label.item() in range(10)
    report = run_procedure(backpropagation, model, samples, finite_difference_every=3)
    assert report.passed
    assert [bool(s.finite_differences) for s in report.samples] == [True, False, False]
    assert report.counts() == {RAN: (3, 3), AUTOGRAD: (3, 3), FINITE_DIFFERENCES: (1, 1)}
    assert all(row.passed and row.unresolvable_below is None for row in report.samples[0].finite_differences)


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
    report = run_procedure(halved, model, samples)
    assert not report.passed
    assert report.counts() == {RAN: (3, 3), AUTOGRAD: (0, 3), FINITE_DIFFERENCES: (0, 3)}
    # every gradient is half the true one: relative error |g/2 - g| / (|g/2| + |g|) = 1/3
    assert all(abs(row.max_relative_error - 1 / 3) < 1e-9 for row in report.samples[0].autograd)
    assert "first failure, sample 0: fc.1.weight against autograd: 3.3e-01 > 1e-10: FAIL" in report.summary()


@pytest.mark.parametrize("cell, expected", [(small_cell, "(2, 3), expected (3, 2)"),
                                            (mnist_standin_cell, "(576, 16), expected (16, 576)")])
def test_a_transposed_weight_gradient_is_reported_not_raised(cell, expected):
    model, samples = cell(n_samples=2)
    report = run_procedure(transposed, model, samples)
    assert not report.passed and report.counts()[RAN] == (0, 2)
    assert all(s.problem == f"fc.1.weight: gradient of shape {expected}" for s in report.samples)
    assert "FAILED: 0/2 samples" in report.summary() and "FAIL" in report.summary().splitlines()[1]


def test_a_label_not_broadcast_to_every_output_fails_on_the_mnist_cell():
    model, samples = mnist_standin_cell(n_samples=2)
    report = run_procedure(first_output_only, model, samples, finite_difference_every=2)
    assert report.counts()[AUTOGRAD] == (0, 2) and report.counts()[FINITE_DIFFERENCES] == (0, 1)


def test_a_crashing_or_idle_candidate_fails_every_sample():
    def crashes(model, y_true, y_pred):
        raise IndexError("layer 3 does not exist")

    model, samples = small_cell(n_samples=2)
    report = run_procedure(crashes, model, samples)
    assert [s.problem for s in report.samples] == ["IndexError: layer 3 does not exist"] * 2
    assert "first failure, sample 0: IndexError: layer 3 does not exist" in report.summary()
    # a candidate that stores nothing must not pass with the previous sample's gradients
    model, samples = small_cell(n_samples=2)
    calls = []
    report = run_procedure(lambda m, y, p: calls.append(1) or (len(calls) == 1 and backpropagation(m, y, p)),
                           model, samples)
    assert report.samples[0].passed and report.samples[1].problem.startswith("fc.1.weight: no gradient stored")


def test_bad_arguments_are_clear_errors_and_cells_leave_the_global_seed_alone():
    with pytest.raises(ValueError, match=r"float64 model \(call model.double\(\)\)"):
        run_procedure(backpropagation, MyNet([2, 3, 2]), [])
    with pytest.raises(ValueError, match="finite_difference_every must be an int >= 1, got 0"):
        run_procedure(backpropagation, MyNet([2, 3, 2]).double(), [], finite_difference_every=0)
    state = torch.get_rng_state()
    first, second = small_cell(seed=4), small_cell(seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first[0].fc["1"].weight, second[0].fc["1"].weight)
    assert not run_procedure(backpropagation, MyNet([2, 3, 2]).double(), []).passed  # no sample: nothing shown
