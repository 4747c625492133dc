import math

import pytest
import torch

from helpers.gradcheck import FINITE_DIFFERENCE_TOLERANCE, compare, numerical_gradient, relative_error
from helpers.spiral import START_BOX, gradient_descent, random_start, spiral, spiral_grad, steps_to_reach


def random_points(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1) * START_BOX


def test_spiral_matches_the_formula_in_polar_coordinates():
    r, theta = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64), torch.tensor([0.1, -1.2, 0.7], dtype=torch.float64)
    x = torch.stack((r * torch.cos(theta), r * torch.sin(theta)), dim=-1)
    expected = r**2 * (torch.sin(6 * theta + 2 * r) ** 2 + 1)
    assert torch.allclose(spiral(x), expected, rtol=1e-13, atol=0)


def test_spiral_keeps_batch_shape_and_dtype():
    x = random_points(24).reshape(2, 3, 4, 2)
    y = spiral(x)
    assert y.shape == (2, 3, 4) and y.dtype == torch.float64
    assert spiral(x.float()).dtype == torch.float32


def test_spiral_is_continuous_across_x1_equal_zero_and_zero_at_origin():
    for x2 in (-3.0, 0.4, 2.5):
        left, on, right = (spiral(torch.tensor([x1, x2], dtype=torch.float64)) for x1 in (-1e-9, 0.0, 1e-9))
        assert abs(left - on) < 1e-7 and abs(right - on) < 1e-7
    assert spiral(torch.zeros(2, dtype=torch.float64)) == 0


def test_spiral_grad_matches_autograd_at_many_points():
    x = random_points(20_000, seed=1).requires_grad_(True)
    expected, = torch.autograd.grad(spiral(x).sum(), x)
    assert relative_error(spiral_grad(x.detach()), expected) <= 1e-10


def test_spiral_grad_matches_central_differences_including_axis_and_origin():
    x = torch.cat([random_points(30, seed=2),
                   torch.tensor([[0.0, 1.5], [0.0, -4.0], [2.0, 0.0], [0.0, 0.0]], dtype=torch.float64)])
    numerical = numerical_gradient(lambda: spiral(x).sum(), x)  # points are independent
    assert compare("spiral_grad", spiral_grad(x), numerical, FINITE_DIFFERENCE_TOLERANCE, spiral(x).sum().item()).passed
    assert torch.isfinite(spiral_grad(x)).all()
    assert torch.equal(spiral_grad(torch.zeros(2, dtype=torch.float64)), torch.zeros(2, dtype=torch.float64))


@pytest.mark.parametrize("bad", [torch.zeros(3), torch.zeros(4, 3), torch.tensor(1.0), torch.zeros(2, dtype=torch.int64)])
def test_spiral_and_grad_reject_bad_input(bad):
    for f in (spiral, spiral_grad):
        with pytest.raises(ValueError, match="shape|floating"):
            f(bad)


def test_random_start_is_seeded_and_inside_the_box():
    starts = torch.stack([random_start(seed) for seed in range(200)])
    assert torch.equal(random_start(7), random_start(7)) and not torch.equal(random_start(7), random_start(8))
    assert starts.abs().max() <= START_BOX and starts.min() < -4 and starts.max() > 4


def test_gradient_descent_takes_exact_gradient_steps_and_descends_for_small_lr():
    x0, lr = random_start(0), 1e-3
    result = gradient_descent(x0, lr, 200)
    assert result.trajectory.shape == (201, 2) and result.gradients.shape == (200, 2) and result.losses.shape == (201,)
    assert not result.diverged and result.steps == 200
    assert torch.equal(result.trajectory[0], x0)
    sgd = result.trajectory[:-1].clone()
    sgd.grad = result.gradients.clone()
    torch.optim.SGD([sgd], lr=lr).step()  # every step is exactly torch.optim.SGD's with that gradient
    assert torch.equal(result.trajectory[1:], sgd)
    assert torch.equal(result.gradients, spiral_grad(result.trajectory[:-1]))
    assert torch.equal(result.losses, spiral(result.trajectory))
    assert (result.losses.diff() < 0).all()  # monotone descent: the step is far below 2/curvature


def test_gradient_descent_converges_to_the_origin_for_moderate_lr():
    result = gradient_descent(random_start(1), 1e-2, 1000)
    assert not result.diverged and float(result.losses[-1]) < 1e-12
    reached = steps_to_reach(result, 1e-3)
    assert reached is not None and result.losses[reached] <= 1e-3 < result.losses[reached - 1]


def test_gradient_descent_flags_divergence_for_large_lr_without_nan():
    result = gradient_descent(random_start(0), 1.0, 100)
    assert result.diverged and result.steps < 100 and "|x|" in result.reason
    assert torch.isfinite(result.trajectory).all() and torch.isfinite(result.losses).all()
    assert steps_to_reach(result, 1e-3) is None


def test_gradient_descent_flags_non_finite_iterates():
    huge = torch.tensor([1e200, 1e200], dtype=torch.float64)
    result = gradient_descent(huge, 1.0, 10, max_radius=1e300)  # |x0| < 1e300: the iterate is inf first
    assert result.diverged and result.steps == 0 and "non-finite" in result.reason


@pytest.mark.parametrize("lr", [0.0, -1e-3, math.nan, math.inf, "0.1", None])
def test_gradient_descent_rejects_bad_learning_rates(lr):
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        gradient_descent(random_start(0), lr, 10)


@pytest.mark.parametrize("x0, message", [(torch.zeros(3, dtype=torch.float64), "shape"),
                                         (torch.zeros(1, 2, dtype=torch.float64), r"shape \(2,\)"),
                                         (torch.tensor([math.nan, 0.0], dtype=torch.float64), "finite")])
def test_gradient_descent_rejects_bad_starts(x0, message):
    with pytest.raises(ValueError, match=message):
        gradient_descent(x0, 1e-3, 10)


@pytest.mark.parametrize("n_steps", [-1, 2.5, True])
def test_gradient_descent_rejects_bad_step_counts(n_steps):
    with pytest.raises(ValueError, match="n_steps"):
        gradient_descent(random_start(0), 1e-3, n_steps)


@pytest.mark.parametrize("max_radius", [0, 0.0, -1.0, math.nan, math.inf, True, "1e3", None])
def test_gradient_descent_rejects_bad_max_radius(max_radius):
    """0 flagged every run as diverged at once; NaN switched the radius check off."""
    with pytest.raises(ValueError, match="max_radius must be a finite number > 0"):
        gradient_descent(random_start(0), 1e-3, 10, max_radius=max_radius)


def test_gradient_descent_accepts_a_small_positive_max_radius():
    result = gradient_descent(torch.tensor([0.3, 0.0], dtype=torch.float64), 1e-3, 10, max_radius=0.5)
    assert not result.diverged and result.steps == 10


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.complex64, torch.int32, torch.bool], ids=str)
def test_every_spiral_function_refuses_dtypes_other_than_float32_and_float64(dtype):
    x = torch.ones(2).to(dtype)
    expected = f"must be a floating-point tensor of dtype float32 or float64.*got dtype {dtype}"
    for call in (lambda: spiral(x), lambda: spiral_grad(x), lambda: gradient_descent(x, 1e-3, 10)):
        with pytest.raises(ValueError, match=expected):
            call()
    with pytest.raises(ValueError, match="dtype must be a floating-point tensor of dtype float32 or float64"):
        random_start(0, dtype=dtype)


def test_float32_is_accepted_everywhere():
    x0 = random_start(0, dtype=torch.float32)
    result = gradient_descent(x0, 1e-3, 5)
    assert x0.dtype == result.trajectory.dtype == spiral_grad(x0).dtype == torch.float32 and result.steps == 5
