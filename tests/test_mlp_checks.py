"""helpers.checks.nb02_mlp: the policy applied to layer gradients, the verdict tables, and that a wrong
gradient fails."""
import torch

from helpers.checks.nb02_mlp import LayerGradients, check_linear, entry_table, summary_table


def test_tiny_entries_are_judged_at_the_tensor_scale():
    analytic = {"w": torch.tensor([2.0, 1e-9], dtype=torch.float64)}
    autograd = {"w": torch.tensor([2.0, 1e-9 + 1e-15], dtype=torch.float64)}   # round-off in a cancelling sum
    numerical = {"w": torch.tensor([2.0, 1e-9 + 1e-10], dtype=torch.float64)}  # finite-difference noise
    check = LayerGradients("toy", analytic, autograd, numerical, f_value=1.0)
    assert check.max_error("autograd") <= 1e-12 and check.max_error("numerical") <= 1e-7
    assert check.passed


def test_a_zero_gradient_never_passes():
    reference = {"w": torch.tensor([2.0, 1e-9], dtype=torch.float64)}
    check = LayerGradients("zero", {"w": torch.zeros(2, dtype=torch.float64)}, reference, reference, f_value=1.0)
    assert check.max_error("autograd") == 1.0 and not check.passed


def test_summary_table_shows_verdicts_only():
    good = check_linear(3, 2, 2, torch.Generator().manual_seed(0))
    bad = LayerGradients("bad", {"w": torch.ones(1)}, {"w": -torch.ones(1)}, {"w": -torch.ones(1)}, f_value=1.0)
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
