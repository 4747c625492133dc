"""helpers.checks.layer_checks: the error measure, the verdict table, and that a wrong gradient fails."""
import torch

from helpers.checks.layer_checks import GradientCheck, check_linear, scaled_floor, summary_table


def test_scaled_floor_judges_tiny_entries_at_the_tensor_scale():
    assert scaled_floor(torch.tensor([2.0, -1e-9])) == 2e-3
    analytic = {"w": torch.tensor([2.0, 1e-9], dtype=torch.float64)}
    autograd = {"w": torch.tensor([2.0, 1e-9 + 1e-15], dtype=torch.float64)}   # round-off in a cancelling sum
    numerical = {"w": torch.tensor([2.0, 1e-9 + 1e-10], dtype=torch.float64)}  # finite-difference noise
    check = GradientCheck("toy", analytic, autograd, numerical)
    assert check.max_error("autograd") <= 1e-12 and check.max_error("numerical") <= 1e-7
    assert check.passed


def test_a_zero_gradient_never_passes():
    reference = {"w": torch.tensor([2.0, 1e-9])}
    check = GradientCheck("zero", {"w": torch.zeros(2)}, reference, reference)
    assert check.max_error("autograd") == 1.0 and not check.passed


def test_summary_table_shows_verdicts_only():
    good = check_linear(3, 2, 2, torch.Generator().manual_seed(0))
    bad = GradientCheck("bad", {"w": torch.ones(1)}, {"w": -torch.ones(1)}, {"w": -torch.ones(1)})
    lines = summary_table([good, bad]).splitlines()
    assert len(lines) == 3 and "vs autograd" in lines[0]
    assert lines[1].count(": ok") == 2 and lines[2].count(": FAIL") == 2
    assert "e-1" not in "".join(lines[1:]).replace("1e-10", "").replace("1e-06", "")
