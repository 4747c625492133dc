"""helpers.data.images: the input checks, blur, resize, noise start image, random views and roughness."""
import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from helpers.data import images


def test_check_image_accepts_unit_float_batches_and_names_the_problem():
    images.check_image(torch.rand(2, 3, 4, 4))
    images.check_image(torch.rand(1, 1, 4, 4), channels=1)
    with pytest.raises(ValueError, match=r"photo must have shape \(N, 3, H, W\), got \(3, 4, 4\).*unsqueeze"):
        images.check_image(torch.rand(3, 4, 4), name="photo")
    with pytest.raises(TypeError, match="float tensor.*255"):
        images.check_image(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"min -0.5 and max 1.5"):
        images.check_image(torch.tensor([-0.5, 1.5]).view(1, 1, 1, 2).expand(1, 3, 1, 2))


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7])
def test_gaussian_blur_matches_torchvision(sigma):
    image = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(6))
    radius = math.ceil(2 * sigma)
    expected = TF.gaussian_blur(image, [2 * radius + 1] * 2, [sigma, sigma])
    torch.testing.assert_close(images.gaussian_blur(image, sigma), expected, atol=1e-6, rtol=1e-5)
    assert torch.equal(images.gaussian_blur(image, 0.0), image)


def test_resize_keeps_constant_images_and_returns_same_size_input_untouched():
    image = torch.full((2, 3, 8, 12), 0.25)
    out = images.resize(image, (4, 6))
    assert out.shape == (2, 3, 4, 6)
    torch.testing.assert_close(out, torch.full((2, 3, 4, 6), 0.25))
    assert images.resize(image, (8, 12)) is image
    assert images.resize(torch.rand(1, 3, 5, 5), 7).shape == (1, 3, 7, 7)


def test_noise_image_is_grey_plus_seeded_noise_of_the_given_spread():
    noise = images.noise_image(n=2, size=16, seed=4, spread=0.2)
    assert noise.shape == (2, 3, 16, 16)
    assert 0.4 <= noise.min() and noise.max() <= 0.6
    assert torch.equal(noise, images.noise_image(n=2, size=16, seed=4, spread=0.2))
    assert not torch.equal(noise, images.noise_image(n=2, size=16, seed=5, spread=0.2))


def test_random_views_vary_and_repeat_with_the_seed():
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    views = images.random_views(image, 8, seed=3)
    assert views.shape == (8, 1, 3, 32, 32)
    assert not torch.allclose(views[0], views[1])
    assert torch.equal(views, images.random_views(image, 8, seed=3))


def test_roughness_of_constant_stripes_and_noise():
    assert images.roughness(torch.full((1, 3, 8, 8), 0.3)).item() == 0.0
    stripes = torch.zeros(1, 3, 8, 8)
    stripes[..., ::2] = 1.0  # columns alternate 1, 0: every right-neighbour differs by 1, down by 0
    assert images.roughness(stripes).item() == pytest.approx(1.0)
    noise = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(images.roughness(noise), torch.full((2,), 2 / 3), atol=0.01, rtol=0)


def test_seeded_generator():
    assert images.seeded_generator(None) is None
    first, second = images.seeded_generator(3), images.seeded_generator(3)
    assert torch.equal(torch.rand(4, generator=first), torch.rand(4, generator=second))


def test_check_batch_checks_type_and_shape_only():
    images.check_batch(torch.tensor([-2.0, 3.0]).view(1, 1, 1, 2))  # values outside [0, 1]: fine here
    images.check_batch(torch.rand(2, 5, 3, 3), channels=5)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3, H, W\), got \(2, 5, 3, 3\)"):
        images.check_batch(torch.rand(2, 5, 3, 3), channels=3, name="x")
    with pytest.raises(TypeError, match="float tensor.*int64"):
        images.check_batch(torch.zeros(1, 3, 2, 2, dtype=torch.long))


def test_check_int_and_check_real_name_the_argument_and_the_range():
    images.check_int("n", np.int64(3), 1)
    images.check_real("x", np.float32(0.5), 0, below=1)
    for value in (3.0, True, "3", None):
        with pytest.raises(TypeError, match=f"n must be an int >= 1, got {value!r}"):
            images.check_int("n", value, 1)
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        images.check_int("n", 0, 1)
    for value, expected in ((0.0, "> 0"), (math.nan, "> 0"), (-math.inf, "> 0")):
        with pytest.raises(ValueError, match=f"x must be a finite number {expected}, got {value}"):
            images.check_real("x", value, strict=True)
    with pytest.raises(ValueError, match=r"x must be a finite number in \[0, 1\), got 1.0"):
        images.check_real("x", 1, below=1)
    with pytest.raises(TypeError, match="x must be a finite number >= 0, got False"):
        images.check_real("x", False)


def test_channel_stats_returns_floats_and_refuses_non_finite_or_mismatched_entries():
    assert images.channel_stats(np.array([0.5, 0.25]), torch.tensor([1.0, 2.0])) == ((0.5, 0.25), (1.0, 2.0))
    with pytest.raises(ValueError, match=r"one entry per channel, got 2 and 1"):
        images.channel_stats((0.5, 0.5), (1.0,))
    with pytest.raises(ValueError, match=r"std must hold finite numbers > 0, got \(nan,\)"):
        images.channel_stats((0.5,), (math.nan,))


@pytest.mark.parametrize("sigma, error", [(math.nan, ValueError), (math.inf, ValueError), (-0.5, ValueError),
                                          (None, TypeError), (True, TypeError)])
def test_gaussian_blur_refuses_sigma_that_is_not_finite_and_non_negative(sigma, error):
    # NaN used to fail deep in math.ceil, a negative sigma to return the image unblurred
    with pytest.raises(error, match=f"sigma must be a finite number >= 0, got {sigma!r}"):
        images.gaussian_blur(torch.rand(1, 3, 8, 8), sigma)
