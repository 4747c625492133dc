"""helpers.gradcheck itself: the relative error, finite differences on functions with known gradients,
the comparison helpers, and their errors."""
import math

import pytest
import torch
from torch import nn

from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FD_NOISE_SAFETY, FINITE_DIFFERENCE_TOLERANCE,
                               GradientComparison, autograd_check, autograd_parameter_gradients, compare,
                               compare_gradients, error_floor, finite_difference_check,
                               finite_difference_noise, format_report, format_tolerance, numerical_gradient,
                               numerical_input_gradients, numerical_parameter_gradients, relative_error, verdict)


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


# --- relative error ------------------------------------------------------------------------------

@pytest.mark.parametrize("a, n, expected", [
    (1.0, 3.0, 0.5),          # |1 - 3| / (1 + 3)
    (-1.0, 1.0, 1.0),         # opposite signs: the largest possible error
    (2.0, 2.0, 0.0),
    (0.0, 0.0, 0.0),          # 0 / max(0, floor)
    (1e-13, 0.0, 0.1),        # below the floor the denominator is the floor: 1e-13 / 1e-12
])
def test_relative_error_formula(a, n, expected):
    assert relative_error(f64([a]), f64([n])) == pytest.approx(expected, rel=1e-12, abs=0)


def test_relative_error_is_the_maximum_over_elements_and_honours_the_floor():
    a, n = f64([1.0, 1.0, 1e-9]), f64([1.0, 1.1, 0.0])
    assert relative_error(a, n) == pytest.approx(1.0)               # the tiny entry dominates
    assert relative_error(a, n, floor=1e-3) == pytest.approx(0.1 / 2.1)  # the floor hides it


def test_relative_error_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"shape mismatch: analytic \(2, 3\) vs reference \(3, 2\)"):
        relative_error(torch.zeros(2, 3), torch.zeros(3, 2))


def test_relative_error_of_nan_is_nan_and_fails():
    error = relative_error(f64([1.0, float("nan")]), f64([1.0, 1.0]))
    assert math.isnan(error) and not GradientComparison("w", error, 0.0, 1.0).passed


# --- finite differences --------------------------------------------------------------------------

def test_numerical_gradient_of_a_cubic():
    x = f64([[-1.5, 0.3], [2.0, 0.7]])
    grad = numerical_gradient(lambda: (x ** 3).sum(), x)
    assert relative_error(grad, 3 * x ** 2) < 1e-8


def test_numerical_gradient_of_a_quadratic_form_in_a_matrix():
    torch.manual_seed(0)
    w, v = torch.randn(3, 4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    grad = numerical_gradient(lambda: ((w @ v) ** 2).sum(), w)
    assert relative_error(grad, 2 * torch.outer(w @ v, v)) < 1e-8


def test_numerical_gradient_restores_x_even_when_f_fails():
    x = f64([1.0, 2.0, 3.0])
    original = x.clone()
    numerical_gradient(lambda: torch.sin(x).sum(), x)
    assert torch.equal(x, original)
    calls = []

    def failing():
        calls.append(1)
        if len(calls) == 3:  # during the second element
            raise RuntimeError("boom")
        return x.sum()

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(failing, x)
    assert torch.equal(x, original)


def test_numerical_gradient_handles_non_contiguous_and_scalar_tensors():
    base = torch.randn(3, 2, dtype=torch.float64)
    xt = base.T  # a non-contiguous view
    grad = numerical_gradient(lambda: (xt ** 2).sum(), xt)
    assert relative_error(grad, 2 * xt) < 1e-8
    s = torch.tensor(0.5, dtype=torch.float64)
    assert numerical_gradient(lambda: torch.exp(s), s).item() == pytest.approx(math.exp(0.5), rel=1e-9)


def test_float32_is_rejected():
    x = torch.ones(3)
    with pytest.raises(ValueError, match="need float64 .* got torch.float32"):
        numerical_gradient(lambda: x.sum(), x)
    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match=r"parameter weight is torch.float32; call model.double\(\)"):
        numerical_parameter_gradients(model, lambda: model(torch.ones(1, 2)).sum())


def test_non_scalar_function_is_an_error():
    x = f64([1.0, 2.0])
    with pytest.raises(ValueError, match=r"must return a scalar, got a tensor of shape \(2,\)"):
        numerical_gradient(lambda: x * 2, x)


def test_numerical_input_gradients_of_a_product():
    a, b = f64([1.0, -2.0, 3.0]), f64([0.5, 4.0, -1.0])
    grad_a, grad_b = numerical_input_gradients(lambda p, q: (p * q).sum(), a, b)
    assert relative_error(grad_a, b) < 1e-8 and relative_error(grad_b, a) < 1e-8


def linear_problem(seed=0):
    torch.manual_seed(seed)
    model = nn.Linear(3, 2).double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    residual = lambda: model(x) - y  # noqa: E731
    loss = lambda: (residual() ** 2).sum()  # noqa: E731
    with torch.no_grad():
        r = residual()
    exact = {"weight": 2 * r.T @ x, "bias": 2 * r.sum(0)}  # d/dW Σ (xWᵀ + b - y)²
    return model, loss, exact


def test_numerical_parameter_gradients_of_a_linear_least_squares_loss():
    model, loss, exact = linear_problem()
    numeric = numerical_parameter_gradients(model, loss)
    assert set(numeric) == {"weight", "bias"}
    assert all(relative_error(numeric[k], exact[k]) < 1e-8 for k in exact)


def test_autograd_parameter_gradients_leave_grad_untouched():
    model, loss, exact = linear_problem()
    grads = autograd_parameter_gradients(model, loss)
    assert all(relative_error(grads[k], exact[k]) < 1e-14 for k in exact)
    assert all(p.grad is None for p in model.parameters())
    model.bias.requires_grad_(False)
    with pytest.raises(ValueError, match=r"\['bias'\] do not require grad"):
        autograd_parameter_gradients(model, loss)


# --- comparison and reports ----------------------------------------------------------------------

def test_compare_gradients_rows_and_errors():
    rows = compare_gradients({"w": f64([1.0, 2.0]), "b": f64([3.0])}, {"w": f64([1.0, 2.2]), "b": f64([3.0])}, 1e-3)
    assert [r.name for r in rows] == ["w", "b"]
    assert rows[0].max_relative_error == pytest.approx(0.2 / 4.2) and rows[0].max_abs_error == pytest.approx(0.2)
    assert rows[1] == GradientComparison("b", 0.0, 0.0, 1e-3)
    assert rows[1].passed and not rows[0].passed
    with pytest.raises(ValueError, match="gradient names differ"):
        compare_gradients({"w": f64([1.0])}, {"v": f64([1.0])}, 1e-6)
    with pytest.raises(ValueError, match=r"w: shape mismatch: analytic \(2,\) vs reference \(1, 2\)"):
        compare_gradients({"w": f64([1.0, 2.0])}, {"w": f64([[1.0, 2.0]])}, 1e-6)


def test_scale_floor_judges_tiny_entries_at_the_tensor_scale():
    assert error_floor(f64([2.0, -1e-9])) == 2e-3
    assert error_floor(f64([0.0])) == 1e-12  # never zero: 0 / 0 cannot happen
    # round-off in a near-cancelling sum: a ratio of two tiny numbers, but tiny at the tensor's scale
    assert compare("w", f64([2.0, 1e-9]), f64([2.0, 1e-9 + 1e-15]), AUTOGRAD_TOLERANCE).passed
    # a zero gradient where the reference is not zero never passes
    assert compare("w", f64([0.0, 0.0]), f64([2.0, 1e-9]), AUTOGRAD_TOLERANCE).max_relative_error == 1.0


def test_finite_difference_floor_makes_the_check_relative_or_within_noise():
    tolerance, h, f_value = FINITE_DIFFERENCE_TOLERANCE, 1e-6, 10.0
    noise = FD_NOISE_SAFETY * torch.finfo(torch.float64).eps * f_value / h
    assert finite_difference_noise(f_value, h) == pytest.approx(noise)
    # A tiny tensor: passes iff its absolute error is within the noise.
    assert compare("w", f64([1e-9]), f64([1e-9 + 0.9 * noise]), tolerance, f_value).passed
    assert not compare("w", f64([1e-9]), f64([1e-9 + 1.1 * noise]), tolerance, f_value).passed
    # A large entry: still judged relatively.
    assert compare("w", f64([1.0]), f64([1.0 + 1.9e-6]), tolerance, f_value).passed
    assert not compare("w", f64([1.0]), f64([1.0 + 2.1e-6]), tolerance, f_value).passed
    # Noise grows with |f| (never below |f| = 1) and shrinks with h.
    assert finite_difference_noise(100.0, h) == pytest.approx(10 * noise)
    assert finite_difference_noise(1e-3, h) == finite_difference_noise(1.0, h)
    assert finite_difference_noise(f_value, 1e-5) == pytest.approx(noise / 10)
    with pytest.raises(ValueError, match="must be positive"):
        error_floor(f64([1.0]), 1.0, tolerance=0.0)
    with pytest.raises(ValueError, match="must be positive"):
        finite_difference_noise(1.0, h=0.0)


def test_finite_difference_and_autograd_checks_pass_right_gradients_and_catch_wrong_ones():
    model, loss, exact = linear_problem(seed=3)
    assert all(r.passed for r in finite_difference_check(model, loss, exact))
    assert all(r.passed and r.tolerance == AUTOGRAD_TOLERANCE for r in autograd_check(model, loss, exact))
    wrong = {**exact, "bias": exact["bias"] * (1 + 1e-4)}
    assert [r.passed for r in finite_difference_check(model, loss, wrong)] == [True, False]
    assert [r.passed for r in autograd_check(model, loss, wrong)] == [True, False]


def test_format_report_shows_values_or_stable_verdicts():
    rows = [GradientComparison("fc.1.weight", 3.21e-16, 1.0e-17, 1e-10),
            GradientComparison("fc.1.bias", 2.5e-3, 1.0e-4, 1e-10)]
    full = format_report(rows, "title")
    assert full.splitlines()[0] == "title"
    assert "3.2e-16" in full and "2.5e-03" in full and "2.5e-03 > 1e-10: FAIL" in full
    stable = format_report(rows, stable=True).splitlines()
    assert stable[1].split() == ["fc.1.weight", "≤", "1e-10:", "ok"]   # round-off value hidden
    assert stable[2].split() == ["fc.1.bias", "2.5e-03", ">", "1e-10:", "FAIL"]  # failures keep theirs


def test_verdict_and_tolerance_format():
    assert verdict(3e-16, 1e-10) == "≤ 1e-10: ok"
    assert verdict(1e-10, 1e-10) == "≤ 1e-10: ok"
    assert verdict(0.25, 1e-6) == "2.5e-01 > 1e-6: FAIL"
    assert verdict(float("nan"), 1e-6) == "nan > 1e-6: FAIL"
    assert [format_tolerance(t) for t in (1e-6, 1e-10, 1e-12, 0.5)] == ["1e-6", "1e-10", "1e-12", "5e-1"]


# --- bad steps and unresolvable checks (issue 12) ------------------------------------------------

@pytest.mark.parametrize("h", [0.0, 0, -1e-6, float("nan"), float("inf"), True, "1e-6", None])
def test_every_function_taking_a_step_refuses_a_bad_one(h):
    x = f64([1.0, 2.0])
    model, loss, exact = linear_problem()
    calls = [
        lambda: numerical_gradient(lambda: (x ** 2).sum(), x, h),
        lambda: numerical_input_gradients(lambda p: (p ** 2).sum(), x, h=h),
        lambda: numerical_parameter_gradients(model, loss, h),
        lambda: finite_difference_noise(1.0, h),
        lambda: error_floor(x, 1.0, h=h),
        lambda: compare("w", x, x, 1e-6, f_value=1.0, h=h),
        lambda: compare_gradients({"w": x}, {"w": x}, 1e-6, f_value=1.0, h=h),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="step h must be positive and finite"):
            call()
    assert torch.equal(x, f64([1.0, 2.0]))


def test_a_step_lost_to_rounding_is_an_error_not_a_zero_gradient():
    x = f64([1.0, 1e12])
    with pytest.raises(ValueError, match=r"h = 1e-06 is too small for x\[1\] = 1e\+12"):
        numerical_gradient(lambda: (x ** 2).sum(), x)
    assert numerical_gradient(lambda: (3 * x).sum(), x, h=1.0).tolist() == [3.0, 3.0]  # a step x can feel


def test_a_huge_loss_with_a_small_gradient_is_unresolvable_never_a_pass():
    """Loss ~1e12: round-off noise ~1e3 swamps gradients of ~10, so even an all-zero gradient would pass."""
    model, loss, exact = linear_problem(seed=3)
    big_loss = lambda: loss() + 1e12  # noqa: E731 - the same gradient, a loss of 1e12
    zeros = {name: torch.zeros_like(g) for name, g in exact.items()}
    for analytic in (zeros, exact):
        rows = finite_difference_check(model, big_loss, analytic)
        assert not any(row.passed for row in rows)
        assert all(row.verdict.startswith("unresolvable: every |gradient| ≤ ") for row in rows), rows
    noise = finite_difference_noise(big_loss().item())
    assert rows[0].unresolvable_below == pytest.approx(noise)
    assert noise > 10 * max(g.abs().max() for g in exact.values())
    # The same loss without the offset resolves, and a zero gradient then fails.
    assert not any(row.passed for row in finite_difference_check(model, loss, zeros))
    assert all(row.passed and row.unresolvable_below is None for row in finite_difference_check(model, loss, exact))


def test_unresolvable_needs_the_whole_reference_within_the_noise():
    noise = finite_difference_noise(1e12)
    within, beyond = f64([0.5 * noise, -0.9 * noise]), f64([0.5 * noise, 1.5 * noise])
    assert compare("w", torch.zeros(2, dtype=torch.float64), within, 1e-6, f_value=1e12).unresolvable_below == noise
    assert not compare("w", torch.zeros(2, dtype=torch.float64), beyond, 1e-6, f_value=1e12).passed  # resolved: FAIL
    assert compare("w", beyond, beyond, 1e-6, f_value=1e12).passed
    wrong = compare("w", f64([5 * noise, 0.0]), within, 1e-6, f_value=1e12)  # a clear failure stays a FAIL
    assert wrong.unresolvable_below is None and "FAIL" in wrong.verdict
    assert compare("w", within, within, 1e-6).passed  # against autograd (no f_value) nothing is unresolvable
    with pytest.raises(ValueError, match="f_value.*must be finite"):
        compare("w", within, within, 1e-6, f_value=float("inf"))
