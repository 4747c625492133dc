"""Custom autograd Functions: gradcheck/gradgradcheck in float64, closed forms evaluated in high
precision (mpmath, installed with torch through sympy), the singular and saturated points, bad input."""
import math

import mpmath
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from helpers.custom_functions import (SINC_TAYLOR_THRESHOLD, quadratic_form, sigmoid, sin_over_x,
                                      sin_over_x_derivative, softplus)
from helpers.gradcheck import relative_error

TINY = 1e-300  # relative errors are measured down to (almost) the smallest normal float64


def rel(actual: float, exact) -> float:
    """|actual - exact| / max(|exact|, TINY), exact given in high precision."""
    return float(abs(mpmath.mpf(actual) - exact) / max(abs(exact), TINY))


def f64(values, requires_grad=True):
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


def derivatives(function, x: torch.Tensor, order: int):
    """[f(x), f'(x), ..., f^(order)(x)] element-wise, each by autograd of the previous (create_graph)."""
    out = [function(x)]
    for _ in range(order):
        (grad,) = torch.autograd.grad(out[-1].sum(), x, create_graph=True)
        out.append(grad)
    return [t.detach() for t in out]


# ---- sin(x)/x ----------------------------------------------------------------------------

EDGE = SINC_TAYLOR_THRESHOLD
SINC_POINTS = [0.0, 1e-300, -1e-160, 1e-8, -1e-5, 1e-3, -0.1, 0.3, EDGE - 1e-9, -EDGE, EDGE + 1e-9, 1.0, -2.0,
               math.pi, 7.5, -40.0]


def sinc_exact(x: float):
    """sin(x)/x, (x cos x - sin x)/x², ((2 - x²) sin x - 2x cos x)/x³ with enough digits to survive
    the cancellation near 0 (and their limits 1, 0, -1/3 at 0)."""
    if x == 0:
        return mpmath.mpf(1), mpmath.mpf(0), mpmath.mpf(-1) / 3
    with mpmath.workdps(40 + 3 * int(abs(math.log10(abs(x))))):
        X = mpmath.mpf(x)
        s, c = mpmath.sin(X), mpmath.cos(X)
        return s / X, (X * c - s) / X ** 2, ((2 - X ** 2) * s - 2 * X * c) / X ** 3


def test_sin_over_x_matches_closed_forms_to_round_off():
    x = f64(SINC_POINTS)
    value, first, second = derivatives(sin_over_x, x, 2)
    for i, point in enumerate(SINC_POINTS):
        exact = sinc_exact(point)
        assert rel(value[i].item(), exact[0]) <= 1e-15, point
        assert rel(first[i].item(), exact[1]) <= 2e-15, point
        assert rel(second[i].item(), exact[2]) <= 1e-14, point


def test_sin_over_x_at_zero_is_the_limit():
    value, first, second = derivatives(sin_over_x, f64([0.0]), 2)
    assert value.item() == 1.0 and first.item() == 0.0
    assert second.item() == pytest.approx(-1 / 3, rel=1e-16)


def test_the_taylor_branch_is_needed_near_zero():
    x = 1e-5
    naive = (x * math.cos(x) - math.sin(x)) / x ** 2  # the closed form in float64: cancellation
    ours = sin_over_x_derivative(torch.tensor(x, dtype=torch.float64)).item()
    assert rel(naive, sinc_exact(x)[1]) > 1e-8
    assert rel(ours, sinc_exact(x)[1]) <= 1e-15


def test_sin_over_x_matches_autograd_of_the_plain_formula_away_from_zero():
    x = f64([-9.0, -2.5, -0.75, 0.6, 1.3, 4.0])
    (ours,) = torch.autograd.grad(sin_over_x(x).sum(), x)
    (plain,) = torch.autograd.grad((torch.sin(x) / x).sum(), x)
    assert relative_error(ours, plain) <= 1e-10


def test_sin_over_x_keeps_shape_and_dtype_and_works_in_float32():
    x64 = torch.linspace(-3, 3, 12, dtype=torch.float64).reshape(3, 4)
    y32 = sin_over_x(x64.float())
    assert y32.shape == (3, 4) and y32.dtype == torch.float32
    assert torch.allclose(y32.double(), sin_over_x(x64), rtol=1e-6, atol=1e-7)


# ---- a x² + b x y + c y² -----------------------------------------------------------------

COEFFICIENTS = [(1.5, -2.0, 0.7), (0.0, 1.0, 0.0), (-3.0, 0.25, 2.0)]


@pytest.mark.parametrize("a, b, c", COEFFICIENTS)
def test_quadratic_form_gradcheck_and_gradgradcheck(a, b, c):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, dtype=torch.float64, generator=generator).requires_grad_()
    y = torch.randn(6, dtype=torch.float64, generator=generator).requires_grad_()

    def f(x, y):
        return quadratic_form(x, y, a, b, c)

    assert gradcheck(f, (x, y))
    assert gradgradcheck(f, (x, y))


@pytest.mark.parametrize("a, b, c", COEFFICIENTS)
def test_quadratic_form_gradient_and_hessian_match_closed_forms(a, b, c):
    x, y = f64([0.3, -1.2, 2.0]), f64([1.1, 0.4, -0.5])
    gx, gy = torch.autograd.grad(quadratic_form(x, y, a, b, c).sum(), (x, y))
    assert relative_error(gx, 2 * a * x + b * y) <= 1e-15
    assert relative_error(gy, b * x + 2 * c * y) <= 1e-15
    plain = torch.autograd.grad((a * x ** 2 + b * x * y + c * y ** 2).sum(), (x, y))
    assert relative_error(gx, plain[0]) <= 1e-10 and relative_error(gy, plain[1]) <= 1e-10
    hessian = torch.autograd.functional.hessian(lambda p: quadratic_form(p[0], p[1], a, b, c),
                                                torch.tensor([0.3, 1.1], dtype=torch.float64))
    assert torch.equal(hessian, torch.tensor([[2 * a, b], [b, 2 * c]], dtype=torch.float64))


def test_quadratic_form_only_differentiates_what_requires_grad():
    x, y = f64([2.0]), f64([3.0], requires_grad=False)
    (gx,) = torch.autograd.grad(quadratic_form(x, y, 1.0, 2.0, 3.0).sum(), x)
    assert gx.item() == 2 * 1.0 * 2.0 + 2.0 * 3.0


# ---- softplus and sigmoid ------------------------------------------------------------------

SOFTPLUS_POINTS = [-800.0, -50.0, -20.0, -1.0, 0.0, 0.5, 20.0, 50.0, 800.0]


def softplus_exact(x: float):
    """ln(1 + eˣ), σ(x), σ(x)(1 - σ(x)), σ(x)(1 - σ(x))(1 - 2σ(x)) in 50 digits."""
    with mpmath.workdps(50):
        X = mpmath.mpf(x)
        s = 1 / (1 + mpmath.exp(-X))
        return mpmath.log1p(mpmath.exp(X)), s, s * (1 - s), s * (1 - s) * (1 - 2 * s)


@pytest.mark.parametrize("function, points", [
    (sin_over_x, SINC_POINTS),  # 0, tiny x and both sides of the Taylor branch's edge
    (softplus, SOFTPLUS_POINTS),  # ±50 and ±800
    (sigmoid, SOFTPLUS_POINTS),
], ids=["sin_over_x", "softplus", "sigmoid"])
def test_gradcheck_and_gradgradcheck(function, points):
    x = f64(points)
    assert gradcheck(function, (x,))
    assert gradgradcheck(function, (x,))


def test_softplus_and_its_derivatives_match_closed_forms_for_every_x():
    x = f64(SOFTPLUS_POINTS)
    computed = derivatives(softplus, x, 3)
    for i, point in enumerate(SOFTPLUS_POINTS):
        exact = softplus_exact(point)
        for order, tolerance in enumerate((1e-15, 1e-15, 1e-15, 1e-14)):
            assert rel(computed[order][i].item(), exact[order]) <= tolerance, (point, order)


def test_softplus_stays_finite_where_the_naive_formula_does_not():
    x = f64([-800.0, 800.0], requires_grad=False)
    assert torch.isinf(torch.log(1 + torch.exp(x))).any()  # why the stable form exists
    assert softplus(x).tolist() == [0.0, 800.0]


def test_sigmoid_matches_torch():
    x = f64([-800.0, -30.0, -2.0, 0.0, 1.5, 30.0, 800.0])
    value, slope = derivatives(sigmoid, x, 1)
    assert relative_error(value, torch.sigmoid(x)) <= 1e-15
    assert relative_error(slope, torch.sigmoid(x) * torch.sigmoid(-x)) <= 1e-15


# ---- bad input -----------------------------------------------------------------------------

def test_non_tensors_and_integer_tensors_are_refused():
    with pytest.raises(TypeError, match=r"sin_over_x expects x to be a torch.Tensor, got list; wrap it"):
        sin_over_x([0.0, 1.0])
    with pytest.raises(TypeError, match=r"softplus expects a floating-point x \(float32 or float64\), got torch.int64"):
        softplus(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="quadratic_form expects y to be a torch.Tensor, got float"):
        quadratic_form(f64([1.0]), 2.0)


def test_quadratic_form_coefficients_must_be_plain_scalars():
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    with pytest.raises(ValueError, match=r"coefficient a must be a scalar .* got a tensor of shape \(2,\)"):
        quadratic_form(x, y, a=torch.ones(2))
    with pytest.raises(ValueError, match="coefficient b requires grad, but quadratic_form has no gradient"):
        quadratic_form(x, y, b=torch.tensor(1.0, requires_grad=True))
    with pytest.raises(TypeError, match="coefficient c must be a real number, got str"):
        quadratic_form(x, y, c="1")
    with pytest.raises(ValueError, match="coefficient a must be finite, got inf"):
        quadratic_form(x, y, a=math.inf)
    with pytest.raises(ValueError, match=r"same shape, dtype and device, got \(2,\) .* and \(3,\)"):
        quadratic_form(x, f64([1.0, 2.0, 3.0]))
    assert quadratic_form(x, y, a=torch.tensor(2.0)).tolist() == [2 + 3 + 9, 8 + 8 + 16]
