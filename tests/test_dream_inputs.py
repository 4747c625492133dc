"""helpers.dream refuses bad input with an error naming the argument, before any work (issue 12, item 4).

Each case used to give a silent wrong result or a raw error from deep inside torch: a uint8 image
normalised to all inf, an (H, W) image silently broadcast to (1, 3, H, W), std 0 giving ±inf, a float
jitter step failing inside torch.randint, lr=inf returning an image of only 0s and 1s, a NaN blur
sigma silently switching the blur off. Valid input of any numeric kind still gives the same result.
"""
import math

import numpy as np
import pytest
import torch

from helpers import classifier_probes, dream
from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD

from test_dream import TinyNet, start_image

NAN, INF = math.nan, math.inf


def image(*shape):
    return torch.rand(*(shape or (2, 3, 8, 8)), generator=torch.Generator().manual_seed(0))


# ---------------------------------------------------------------------------- normalize_and_jitter

@pytest.mark.parametrize("bad, error, message", [
    ((image() * 255).to(torch.uint8), TypeError, r"img must be a float tensor.*torch\.uint8.*float\(\) / 255"),
    (image(8, 8), ValueError, r"img must have shape \(N, C, H, W\), got \(8, 8\).*image\[None, None\]"),
    (image(3, 8, 8), ValueError, r"img must have shape \(N, C, H, W\), got \(3, 8, 8\).*unsqueeze\(0\)"),
    (image(1, 3, 1, 8, 8), ValueError, r"img must have shape \(N, C, H, W\), got \(1, 3, 1, 8, 8\)"),
    (image().to(torch.complex64), TypeError, r"img must be a float tensor.*complex64"),
    (image().tolist(), TypeError, "img must be a torch.Tensor"),
])
def test_jitter_refuses_images_that_are_not_float_batches(bad, error, message):
    with pytest.raises(error, match=message):
        dream.normalize_and_jitter(bad, 1)


@pytest.mark.parametrize("step, error", [(2.0, TypeError), (True, TypeError), ("2", TypeError), (-1, ValueError)])
def test_jitter_step_must_be_a_non_negative_int(step, error):
    with pytest.raises(error, match=f"step must be an int >= 0, got {step!r}"):
        dream.normalize_and_jitter(image(), step)


@pytest.mark.parametrize("stats, error, message", [
    (dict(std=(0.2, 0.0, 0.2)), ValueError, r"std must hold finite numbers > 0, got \(0.2, 0.0, 0.2\)"),
    (dict(std=(0.2, -0.1, 0.2)), ValueError, "std must hold finite numbers > 0"),
    (dict(std=(0.2, INF, 0.2)), ValueError, "std must hold finite numbers > 0"),
    (dict(mean=(0.5, NAN, 0.5)), ValueError, r"mean must hold finite numbers, got \(0.5, nan, 0.5\)"),
    (dict(mean=(0.5, 0.5)), ValueError, r"one entry per channel \(the image has 3\), got 2 and 3"),
    (dict(std=(0.2,) * 4), ValueError, r"one entry per channel \(the image has 3\), got 3 and 4"),
    (dict(mean=0.5), TypeError, "mean must be a sequence of numbers, one per channel, got 0.5"),
    (dict(std=[[0.2], [0.2], [0.2]]), TypeError, "std must be a sequence of numbers"),
    (dict(mean="abc"), TypeError, "mean must be a sequence of numbers"),
    (dict(mean=None), TypeError, "mean must be a sequence of numbers"),
])
def test_jitter_mean_and_std_need_one_finite_entry_per_channel(stats, error, message):
    with pytest.raises(error, match=message):
        dream.normalize_and_jitter(image(), 1, **stats)


def test_jitter_still_takes_its_arguments_positionally_and_numbers_of_any_kind():
    img = image()
    reference = dream.normalize_and_jitter(img, 2, CIFAR_MEAN, CIFAR_STD, torch.Generator().manual_seed(3))
    assert torch.equal(dream.normalize_and_jitter(img, step=2, mean=CIFAR_MEAN, std=CIFAR_STD,
                                                  generator=torch.Generator().manual_seed(3)), reference)
    same = dream.normalize_and_jitter(img, np.int64(2), np.array(CIFAR_MEAN),
                                      torch.tensor(CIFAR_STD, dtype=torch.float64), torch.Generator().manual_seed(3))
    assert torch.equal(same, reference)
    expected = (img - torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    assert torch.equal(dream.normalize_and_jitter(img, 0, CIFAR_MEAN, CIFAR_STD), expected)
    one_channel = dream.normalize_and_jitter(img[:, :1], 0, [0.5], [0.25])  # any channel count, given its stats
    assert torch.equal(one_channel, (img[:, :1] - 0.5) / 0.25)


# ------------------------------------------------------------------------------- gradient_descent

class CountingNet(TinyNet):
    """TinyNet that counts its forward passes: a refused option must stop before the first one."""
    calls = 0

    def forward(self, x):
        self.calls += 1
        return super().forward(x)


@pytest.mark.parametrize("name, value, error, message", [
    ("lr", INF, ValueError, "lr must be a finite number > 0, got inf"),
    ("lr", NAN, ValueError, "lr must be a finite number > 0, got nan"),
    ("lr", 0, ValueError, "lr must be a finite number > 0, got 0.0"),
    ("lr", -0.1, ValueError, "lr must be a finite number > 0"),
    ("lr", True, TypeError, "lr must be a finite number > 0, got True"),
    ("lr", "0.1", TypeError, "lr must be a finite number > 0, got '0.1'"),
    ("blur_sigma", NAN, ValueError, "blur_sigma must be a finite number >= 0, got nan"),
    ("blur_sigma", INF, ValueError, "blur_sigma must be a finite number >= 0, got inf"),
    ("blur_sigma", -0.5, ValueError, "blur_sigma must be a finite number >= 0"),
    ("grad_blur_sigma", NAN, ValueError, "grad_blur_sigma must be a finite number >= 0, got nan"),
    ("grad_blur_sigma", -1.0, ValueError, "grad_blur_sigma must be a finite number >= 0"),
    ("iterations", 4.0, TypeError, "iterations must be an int >= 1, got 4.0"),
    ("iterations", True, TypeError, "iterations must be an int >= 1, got True"),
    ("iterations", 0, ValueError, "iterations must be an int >= 1, got 0"),
    ("octaves", 2.0, TypeError, "octaves must be an int >= 1, got 2.0"),
    ("octaves", 0, ValueError, "octaves must be an int >= 1, got 0"),
    ("octave_scale", NAN, ValueError, "octave_scale must be a finite number >= 1, got nan"),
    ("octave_scale", INF, ValueError, "octave_scale must be a finite number >= 1, got inf"),
    ("octave_scale", 0.5, ValueError, "octave_scale must be a finite number >= 1, got 0.5"),
    ("weight_decay", NAN, ValueError, r"weight_decay must be a finite number in \[0, 1\), got nan"),
    ("weight_decay", -0.1, ValueError, r"weight_decay must be a finite number in \[0, 1\)"),
    ("weight_decay", 1, ValueError, r"weight_decay must be a finite number in \[0, 1\), got 1.0"),
    ("blur_every", 1.5, TypeError, "blur_every must be an int >= 0, got 1.5"),
    ("blur_every", -1, ValueError, "blur_every must be an int >= 0, got -1"),
    ("jitter", 1.0, TypeError, "jitter must be an int >= 0, got 1.0"),
    ("jitter", -2, ValueError, "jitter must be an int >= 0, got -2"),
    ("mean", (0.5, NAN, 0.5), ValueError, "mean must hold finite numbers"),
    ("std", (0.2, 0.0, 0.2), ValueError, "std must hold finite numbers > 0"),
    ("std", (0.2, INF, 0.2), ValueError, "std must hold finite numbers > 0"),
])
def test_gradient_descent_refuses_each_bad_numeric_option_before_any_step(name, value, error, message):
    model = CountingNet()
    with pytest.raises(error, match=message):
        dream.gradient_descent(start_image(), model, dream.class_loss(0), **{"iterations": 4, name: value})
    assert model.calls == 0


def test_a_nan_sigma_is_refused_even_where_its_blur_is_off():
    # blur_every=0 never blurs the image, grad_blur_sigma NaN used to fail `> 0` and switch the blur off
    for options in (dict(blur_every=0, blur_sigma=NAN), dict(grad_blur_sigma=NAN)):
        with pytest.raises(ValueError, match="sigma must be a finite number >= 0, got nan"):
            dream.gradient_descent(start_image(), TinyNet(), dream.class_loss(0), 2, **options)


def test_numbers_of_any_numeric_kind_give_the_same_image():
    start, model = start_image(2), TinyNet()
    options = dict(lr=0.05, jitter=1, blur_every=2, blur_sigma=0.7, octaves=2, octave_scale=1.5, weight_decay=0.01)
    reference = dream.gradient_descent(start, model, dream.class_loss(1), 6, **options)
    as_numpy = {k: (np.int64(v) if isinstance(v, int) else np.float64(v)) for k, v in options.items()}
    assert torch.equal(dream.gradient_descent(start, model, dream.class_loss(1), np.int64(6), **as_numpy), reference)


# ------------------------------------------------------------------------- the checks at their root

def test_octave_sizes_check_their_arguments():
    assert dream.octave_sizes(32, 3, 1.4) == [16, 23, 32]
    assert dream.octave_sizes(np.int64(32), np.int64(2), np.float32(2)) == [16, 32]
    with pytest.raises(ValueError, match="octave_scale must be a finite number >= 1, got nan"):
        dream.octave_sizes(32, 2, NAN)
    with pytest.raises(TypeError, match="octaves must be an int >= 1, got 2.5"):
        dream.octave_sizes(32, 2.5, 1.4)


def test_model_stats_are_checked_for_the_probes_too():
    class NanStd(TinyNet):
        std = (0.2, NAN, 0.2)

    with pytest.raises(ValueError, match="std must hold finite numbers > 0"):
        dream.target_probability(start_image(), NanStd(), 0)
    with pytest.raises(ValueError, match="mean must hold finite numbers"):
        dream.robustness(start_image(), TinyNet(), 0, mean=(0.5, 0.5, INF))
    assert classifier_probes.input_stats(TinyNet(), np.array([0.5, 0.5, 0.5]), torch.tensor([0.25] * 3)) == \
        ((0.5,) * 3, (0.25,) * 3)
