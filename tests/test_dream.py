"""helpers.dream: jitter, the input optimisation and each of its options, hooks, robustness, errors; the NYU
course's DeepDream contract (homework 1, section 2.2); bad input refused with an error naming the argument,
before any work (issue 12, item 4).

Everything runs on small random-weight networks (milliseconds); the trained CIFAR-10 CNN is only
needed by the notebook.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers import dream
from helpers.data import images as image_ops
from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD, normalize


# -- the lesson module ---------------------------------------------------------------------------------

PLAIN = dream.PLAIN_OPTIONS


class TinyNet(nn.Module):
    """conv -> ReLU -> conv -> ReLU -> global average pool -> linear: (N, 3, H, W) -> (N, 5)."""
    mean = CIFAR_MEAN
    std = CIFAR_STD

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 6, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(6, 5)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1))


class LinearScore(nn.Module):
    """out = <w, x> per image, one output: its input gradient is exactly ``w``."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(1, keepdim=True)


def start_image(n=1, size=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return 0.4 + 0.2 * torch.rand(n, 3, size, size, generator=generator)


def zero_loss(out):
    """A loss with zero gradient: the image then changes only through the options."""
    return 0.0 * out.sum()


# ------------------------------------------------------------------------------------- jitter

def test_jitter_keeps_shape_and_is_a_roll_of_the_imagenet_normalised_image():
    image = torch.rand(2, 3, 10, 12)
    step = 3
    # the course's normalize_and_jitter normalises with ImageNet's statistics unless told otherwise
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    normalised = (image - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        jittered = dream.normalize_and_jitter(image, step=step, generator=generator)
        assert jittered.shape == image.shape
        matches = [(dy, dx) for dy in range(-step, step + 1) for dx in range(-step, step + 1)
                   if torch.allclose(jittered, normalised.roll((dy, dx), dims=(-2, -1)), atol=1e-6)]
        assert len(matches) == 1  # exactly one offset within the range explains it


def test_jitter_offsets_cover_the_range_symmetrically():
    image = torch.arange(7 * 7, dtype=torch.float32).view(1, 1, 7, 7) / 49
    generator = torch.Generator().manual_seed(0)
    offsets = []
    for _ in range(600):
        jittered = dream.normalize_and_jitter(image, step=2, mean=(0.0,), std=(1.0,), generator=generator)
        row, col = (jittered[0, 0] == 0).nonzero()[0].tolist()  # where pixel (0, 0) went
        offsets.append((row, col))
    dys = [(dy + 3) % 7 - 3 for dy, _ in offsets]
    dxs = [(dx + 3) % 7 - 3 for _, dx in offsets]
    assert set(dys) == set(dxs) == {-2, -1, 0, 1, 2}
    assert abs(sum(dys) / len(dys)) < 0.25 and abs(sum(dxs) / len(dxs)) < 0.25  # centred: undone on average


def test_jitter_zero_only_normalises():
    image = torch.rand(1, 3, 5, 5)
    expected = (image - torch.tensor([0.5, 0.25, 0.0]).view(1, 3, 1, 1)) / 2
    torch.testing.assert_close(dream.normalize_and_jitter(image, step=0, mean=(0.5, 0.25, 0.0), std=(2, 2, 2)),
                               expected)


# ------------------------------------------------------------------------------ optimisation

@pytest.mark.parametrize("options", [PLAIN, {}], ids=["plain", "defaults"])
def test_few_steps_raise_the_target_logit_of_a_random_network(options):
    model = TinyNet()
    image = start_image()
    options = {**options, **({"lr": 20.0} if options is PLAIN else {})}  # raw gradients are ~1e-3
    with torch.no_grad():
        before = model(normalize(image, CIFAR_MEAN, CIFAR_STD))[0, 2].item()
    result = dream.gradient_descent(image, model, dream.class_loss(2), iterations=5, **options)
    with torch.no_grad():
        after = model(normalize(result, CIFAR_MEAN, CIFAR_STD))[0, 2].item()
    assert after > before + 1e-3


def test_plain_step_is_minus_lr_times_the_gradient():
    weight = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    model = LinearScore(weight)
    image = start_image(size=8)
    result = dream.gradient_descent(image, model, lambda out: out.sum(), 1, lr=0.01, mean=(0, 0, 0),
                                    std=(1, 1, 1), **PLAIN)
    # loss = <w, x> is raised: the energy -<w, x> has gradient -w, and x - lr * (-w) moves *up* the score
    torch.testing.assert_close(result, image + 0.01 * weight)


def test_normalize_step_makes_the_mean_pixel_change_equal_lr():
    weight = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(3)) * torch.tensor([[[[1.0]]], [[[50.0]]]])
    model = LinearScore(weight)
    image = start_image(n=2, size=8)
    result = dream.gradient_descent(image, model, lambda out: out.sum(), 1, lr=0.01, mean=(0, 0, 0),
                                    std=(1, 1, 1), **{**PLAIN, "normalize_step": True})
    change = (result - image).abs().mean(dim=(1, 2, 3))
    torch.testing.assert_close(change, torch.full((2,), 0.01))  # per image, whatever the gradient scale


def test_grad_blur_blurs_the_step():
    weight = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    image = start_image(size=8)
    result = dream.gradient_descent(image, LinearScore(weight), lambda out: out.sum(), 1, lr=0.01,
                                    mean=(0, 0, 0), std=(1, 1, 1), **{**PLAIN, "grad_blur_sigma": 1.0})
    torch.testing.assert_close(result, image + 0.01 * dream.gaussian_blur(weight, 1.0))


def test_blur_every_k_steps_blurs_the_image_every_k_steps():
    image = start_image()
    result = dream.gradient_descent(image, TinyNet(), zero_loss, 6, **{**PLAIN, "blur_every": 3, "blur_sigma": 0.7})
    expected = dream.gaussian_blur(dream.gaussian_blur(image, 0.7), 0.7)  # after steps 3 and 6
    torch.testing.assert_close(result, expected)
    unchanged = dream.gradient_descent(image, TinyNet(), zero_loss, 6, **PLAIN)
    torch.testing.assert_close(unchanged, image)


def test_weight_decay_shrinks_towards_the_mean_colour():
    image = start_image()
    result = dream.gradient_descent(image, TinyNet(), zero_loss, 4, **{**PLAIN, "weight_decay": 0.1})
    centre = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    torch.testing.assert_close(result, centre + 0.9 ** 4 * (image - centre))


def test_clamp_keeps_pixels_in_the_unit_interval():
    weight = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    image = start_image(size=8)
    options = dict(lr=1.0, mean=(0, 0, 0), std=(1, 1, 1))
    loose = dream.gradient_descent(image, LinearScore(weight), lambda out: out.sum(), 1, **options, **PLAIN)
    clamped = dream.gradient_descent(image, LinearScore(weight), lambda out: out.sum(), 1, **options,
                                     **{**PLAIN, "clamp": True})
    assert loose.min() < 0 and loose.max() > 1
    torch.testing.assert_close(clamped, loose.clamp(0, 1))


def test_octaves_grow_the_image_and_return_the_input_size():
    history = []
    result = dream.gradient_descent(start_image(size=32), TinyNet(), dream.class_loss(0), 9, octaves=3,
                                    octave_scale=1.4, history=history)
    assert result.shape == (1, 3, 32, 32)
    assert [step.size for step in history] == [16] * 3 + [23] * 3 + [32] * 3
    assert dream.octave_sizes(32, 3, 1.4) == [16, 23, 32]
    history = []
    dream.gradient_descent(start_image(size=32), TinyNet(), dream.class_loss(0), 4, octaves=1, history=history)
    assert {step.size for step in history} == {32}


def test_history_records_loss_and_target_probability_per_step():
    model = TinyNet()
    history = []
    image = dream.gradient_descent(start_image(n=2), model, dream.class_loss([1, 3]), 6, target=[1, 3],
                                   history=history, **{**PLAIN, "lr": 0.05})
    assert [step.iteration for step in history] == list(range(6))
    assert all(len(step.probabilities) == 2 and 0 < step.probability < 1 for step in history)
    # the first record is the start image's forward pass (no jitter): its loss and probabilities
    with torch.no_grad():
        out = model(normalize(start_image(n=2), CIFAR_MEAN, CIFAR_STD))
    assert history[0].objective == pytest.approx((out[0, 1] + out[1, 3]).item(), rel=1e-5)
    assert history[0].energy == history[0].loss == -history[0].objective
    assert history[0].probabilities == pytest.approx([out.softmax(1)[0, 1].item(), out.softmax(1)[1, 3].item()])
    assert history[-1].objective > history[0].objective  # the objective (the logits) is raised
    assert image.shape == (2, 3, 16, 16)
    no_target = []
    dream.gradient_descent(start_image(), model, dream.class_loss(1), 2, history=no_target)
    assert no_target[0].probabilities == () and math.isnan(no_target[0].probability)


def test_seed_makes_runs_repeatable_and_input_is_untouched():
    image = start_image()
    copy = image.clone()
    first = dream.gradient_descent(image, TinyNet(), dream.class_loss(0), 8, seed=7)
    second = dream.gradient_descent(image, TinyNet(), dream.class_loss(0), 8, seed=7)
    other = dream.gradient_descent(image, TinyNet(), dream.class_loss(0), 8, seed=8)
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert torch.equal(image, copy)


def test_model_parameters_get_no_gradient():
    model = TinyNet()
    dream.gradient_descent(start_image(), model, dream.class_loss(0), 3)
    assert all(p.grad is None for p in model.parameters())


def test_a_module_without_mean_and_std_gets_imagenet_normalisation():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    implicit = dream.gradient_descent(start_image(), model, dream.class_loss(1), 3)
    imagenet = dream.gradient_descent(start_image(), model, dream.class_loss(1), 3, mean=(0.485, 0.456, 0.406),
                                      std=(0.229, 0.224, 0.225))
    cifar = dream.gradient_descent(start_image(), model, dream.class_loss(1), 3, mean=CIFAR_MEAN, std=CIFAR_STD)
    assert implicit.shape == (1, 3, 16, 16)
    assert torch.equal(implicit, imagenet) and not torch.equal(implicit, cifar)
    assert dream.input_stats(model) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert dream.input_stats(TinyNet()) == (CIFAR_MEAN, CIFAR_STD)  # a model's own statistics win


# --------------------------------------------------------------------------- hooks, channels

def test_layer_output_returns_the_named_activation_and_stops_there():
    model = TinyNet()
    calls = []
    model.head.register_forward_hook(lambda *args: calls.append("head"))
    x = torch.randn(2, 3, 8, 8)
    activation = dream.LayerOutput(model, "features.1")(x)
    torch.testing.assert_close(activation, model.features[:2](x))
    assert calls == []  # the head was never run
    assert not model.features[1]._forward_hooks  # the hook is removed again


def test_visualize_channels_raises_each_channel():
    model = TinyNet()
    start = start_image()
    layer = dream.LayerOutput(model, "features.3")
    with torch.no_grad():
        before = layer(normalize(start, CIFAR_MEAN, CIFAR_STD))[0].mean(dim=(1, 2))
    channels = before.argsort(descending=True)[:2].tolist()  # two live ReLU channels
    images = dream.visualize_channels(model, "features.3", channels, start, iterations=6)
    assert images.shape == (2, 3, 16, 16)
    with torch.no_grad():
        after = layer(normalize(images, CIFAR_MEAN, CIFAR_STD)).mean(dim=(2, 3))
    for i, channel in enumerate(channels):
        assert after[i, channel] > before[channel]


# ---------------------------------------------------------------------------------- robustness

class ConstantLogits(nn.Module):
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.logits.expand(x.shape[0], -1) + 0 * self.dummy


def test_robustness_of_a_constant_classifier_is_its_probability():
    model = ConstantLogits([0.0, math.log(3.0)])  # softmax = (1/4, 3/4) whatever the image
    image = start_image(n=2)
    torch.testing.assert_close(dream.robustness(image, model, 1), torch.full((2,), 0.75))
    torch.testing.assert_close(dream.target_probability(image, model, [0, 1]), torch.tensor([0.25, 0.75]))


def test_identity_views_give_the_plain_probability_and_flips_mirror():
    model = TinyNet()
    image = start_image(n=2)
    still = dream.random_views(image, 4, max_shift=0.0, scale_range=(1.0, 1.0), flip=False)
    torch.testing.assert_close(still, image.expand(4, -1, -1, -1, -1), atol=1e-6, rtol=0)
    plain = dream.target_probability(image, model, 3)
    torch.testing.assert_close(dream.robustness(image, model, 3, max_shift=0.0, scale_range=(1.0, 1.0),
                                                flip=False), plain, atol=1e-6, rtol=0)
    flipped = dream.random_views(image, 16, max_shift=0.0, scale_range=(1.0, 1.0), flip=True)
    mirrored = [torch.allclose(view, image.flip(-1), atol=1e-6) for view in flipped]
    same = [torch.allclose(view, image, atol=1e-6) for view in flipped]
    assert all(m or s for m, s in zip(mirrored, same)) and any(mirrored) and any(same)


# ------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("bad, error, message", [
    (torch.rand(3, 16, 16), ValueError, r"shape \(N, 3, H, W\).*unsqueeze\(0\)"),
    (torch.rand(1, 1, 16, 16), ValueError, r"shape \(N, 3, H, W\), got \(1, 1, 16, 16\)"),
    (torch.rand(1, 3, 16, 16) * 2 - 0.5, ValueError, r"values must lie in \[0, 1\]"),
    (torch.full((1, 3, 16, 16), float("nan")), ValueError, "NaN or inf"),
    (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), TypeError, "float tensor.*255"),
    ([[0.5]], TypeError, "torch.Tensor"),
])
def test_bad_images_get_clear_errors(bad, error, message):
    with pytest.raises(error, match=message):
        dream.gradient_descent(bad, TinyNet(), dream.class_loss(0), 2)
    with pytest.raises(error, match=message):
        dream.robustness(bad, TinyNet(), 0)


def test_unknown_layer_lists_the_layers():
    with pytest.raises(KeyError, match=r"no layer 'features\.9'.*features\.0, features\.1"):
        dream.LayerOutput(TinyNet(), "features.9")
    with pytest.raises(ValueError, match="has 6 channels"):
        dream.visualize_channels(TinyNet(), "features.3", [6], start_image())


@pytest.mark.parametrize("kwargs, message", [
    (dict(iterations=0), "iterations must be an int >= 1, got 0"),
    (dict(lr=-1.0), "lr must be a finite number > 0, got -1.0"),
    (dict(weight_decay=1.0), r"weight_decay must be a finite number in \[0, 1\), got 1.0"),
    (dict(octaves=0), "octaves must be an int >= 1, got 0"),
    (dict(target=[0, 1, 2]), "one label per image"),
])
def test_bad_options_get_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dream.gradient_descent(start_image(), TinyNet(), dream.class_loss(0), **{"iterations": 2, **kwargs})


def test_out_of_range_target_and_non_scalar_loss():
    with pytest.raises(ValueError, match=r"target labels must lie in \[0, 4\]"):
        dream.target_probability(start_image(), TinyNet(), 7)
    with pytest.raises(ValueError, match=r"target labels must lie in \[0, 4\]"):
        dream.gradient_descent(start_image(), TinyNet(), dream.class_loss(0), 2, target=5, history=[])
    with pytest.raises(ValueError, match="loss must return a scalar"):
        dream.gradient_descent(start_image(), TinyNet(), lambda out: -out, 2)


def test_divergence_is_reported():
    class Exploding(TinyNet):
        def forward(self, x):
            return super().forward(x) * float("inf")

    with pytest.raises(FloatingPointError, match="lower lr"):
        dream.gradient_descent(start_image(), Exploding(), dream.class_loss(0), 3)


def test_defaults_switch_every_improvement_on():
    import inspect
    defaults = {name: p.default for name, p in inspect.signature(dream.gradient_descent).parameters.items()}
    assert set(dream.PLAIN_OPTIONS) <= set(defaults)
    for name, plain_value in dream.PLAIN_OPTIONS.items():
        assert defaults[name] != plain_value, name
    assert defaults["iterations"] == 256
    # DEFAULT_OPTIONS is what gradient_descent does when an option is left out (pixel-sized ones: None,
    # scaled to the image)
    assert set(dream.DEFAULT_OPTIONS) == {"lr", "blur_sigma", *dream.PLAIN_OPTIONS}
    pixel_sized = {"jitter", "blur_sigma", "grad_blur_sigma"}
    assert all(defaults[name] is None for name in pixel_sized)
    assert {name: defaults[name] for name in set(dream.DEFAULT_OPTIONS) - pixel_sized} == \
        {name: value for name, value in dream.DEFAULT_OPTIONS.items() if name not in pixel_sized}


@pytest.mark.parametrize("size", [32, 20, 64])
def test_leaving_options_out_equals_passing_the_defaults_scaled_to_the_image(size):
    image = start_image(size=size)
    implicit = dream.gradient_descent(image, TinyNet(), dream.class_loss(1), 9, seed=2)
    # stated for 32 px: 2 px jitter, 0.5 px image blur, 1 px gradient blur; scaled by size / 32
    scaled = dict(dream.DEFAULT_OPTIONS, jitter=round(2 * size / 32), blur_sigma=0.5 * size / 32,
                  grad_blur_sigma=1.0 * size / 32)
    explicit = dream.gradient_descent(image, TinyNet(), dream.class_loss(1), 9, seed=2, **scaled)
    assert torch.equal(implicit, explicit)
    if size != 32:  # the unscaled values give another image
        unscaled = dream.gradient_descent(image, TinyNet(), dream.class_loss(1), 9, seed=2, **dream.DEFAULT_OPTIONS)
        assert not torch.equal(implicit, unscaled)


def test_helpers_defined_elsewhere_stay_importable_from_dream():
    for name in ("check_image", "gaussian_blur", "resize", "noise_image", "random_views", "roughness"):
        assert getattr(dream, name) is getattr(image_ops, name), name
    assert dream.normalize is normalize and (dream.CIFAR_MEAN, dream.CIFAR_STD) == (CIFAR_MEAN, CIFAR_STD)


# -- the course's contract --------------------------------------------------------------------------

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet statistics, written out independently
IMAGENET_STD = (0.229, 0.224, 0.225)


class SmallVGGStyle(nn.Module):
    """torchvision's VGG layout in miniature: (N, 3, 224, 224) -> (N, 1000) logits, no mean/std."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(16, 1000)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def course_start_image() -> torch.Tensor:
    """The driver's start: N(128, 8²) pixel values scaled to [0, 1], channels-last, then permuted."""
    image = ((torch.randn(1, 224, 224, 3) * 8 + 128) / 255).permute(0, 3, 1, 2)
    image.requires_grad_()
    return image


# The driver's call for each of its labels; the last label (the last class: an off-by-one shows there) with every
# default (256 iterations), the others, whose only difference is the label, with 24 iterations (octaves included).
DRIVER_ITERATIONS = {0: 24, 12: 24, 954: None}


def test_the_course_driver_raises_each_label_with_the_defaults():
    torch.manual_seed(0)
    model = SmallVGGStyle().eval()
    assert not hasattr(model, "mean") and not hasattr(model, "std")
    printed = []
    for label, iterations in DRIVER_ITERATIONS.items():
        image = course_start_image()
        start = image.detach().clone()
        objective = lambda tensor: tensor[0, label].mean()  # noqa: E731 - the driver's objective
        image = (dream.gradient_descent(image, model, objective) if iterations is None  # the driver's call, as written
                 else dream.gradient_descent(image, model, objective, iterations))
        answer = model(image).softmax(1)[0, label].item()
        printed.append(f"ANSWER_FOR_LABEL_{label}: {answer}")
        assert image.shape == (1, 3, 224, 224) and 0 <= image.min() and image.max() <= 1
        with torch.no_grad():
            # what the driver prints (the raw image) and what the model was optimised on (ImageNet-normalised)
            assert answer > model(start).softmax(1)[0, label].item()
            normalised = [model(dream.normalize(x, IMAGENET_MEAN, IMAGENET_STD))[0, label].item() for x in (start, image)]
        assert normalised[1] > normalised[0] + 0.01, (label, normalised)
    assert [line.split(":")[0] for line in printed] == ["ANSWER_FOR_LABEL_0", "ANSWER_FOR_LABEL_12",
                                                        "ANSWER_FOR_LABEL_954"]


def test_the_loss_is_raised_not_lowered():
    """A loss of the course's form raises that logit, and its negative lowers it: one convention."""
    torch.manual_seed(1)
    model = SmallVGGStyle().eval()
    start = course_start_image()[..., :64, :64].detach()
    logit = lambda x: model(dream.normalize(x, IMAGENET_MEAN, IMAGENET_STD))[0, 7].item()  # noqa: E731
    with torch.no_grad():
        before = logit(start)
    raised = dream.gradient_descent(start, model, lambda tensor: tensor[0, 7].mean(), 8)
    lowered = dream.gradient_descent(start, model, lambda tensor: -tensor[0, 7].mean(), 8)
    with torch.no_grad():
        assert logit(raised) > before > logit(lowered)
    # class_loss is the same objective: the same image
    assert torch.equal(dream.gradient_descent(start, model, dream.class_loss(7), 8), raised)


def test_a_model_without_mean_and_std_is_fed_imagenet_normalised_images():
    seen = []

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 2)

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.linear(x.mean(dim=(2, 3)))

    image = torch.full((1, 3, 8, 8), 0.5)
    dream.gradient_descent(image, Recorder(), dream.class_loss(0), 1, jitter=0, octaves=1)
    expected = torch.tensor([(0.5 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]).view(1, 3, 1, 1)
    torch.testing.assert_close(seen[0], expected.expand(1, 3, 8, 8))


def jitter_offset(out: torch.Tensor, image: torch.Tensor) -> tuple[int, int]:
    """The roll (dy, dx) that ``normalize_and_jitter`` applied: where pixel (0, 0) of ``image`` went."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    restored = out * std + mean
    height, width = image.shape[-2:]
    where = int((restored[0, 0] - image[0, 0, 0, 0]).abs().argmin())
    dy, dx = where // width, where % width
    return (dy + height // 2) % height - height // 2, (dx + width // 2) % width - width // 2


def test_normalize_and_jitter_the_courses_way():
    """``normalize_and_jitter(img, step=32)``: ImageNet-normalised, rolled by at most ``step`` pixels."""
    # every pixel value distinct, so a pixel's new position gives the roll
    image = torch.randperm(3 * 224 * 224, generator=torch.Generator().manual_seed(0)).float().view(1, 3, 224, 224)
    image = image / image.max()
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    normalised = (image - mean) / std
    torch.manual_seed(0)
    offsets = []
    for _ in range(12):
        out = dream.normalize_and_jitter(image, step=32)
        offsets.append(jitter_offset(out, image))
        assert max(map(abs, offsets[-1])) <= 32
        torch.testing.assert_close(out, normalised.roll(offsets[-1], dims=(-2, -1)))
    assert len(set(offsets)) > 1  # random offsets
    torch.testing.assert_close(dream.normalize_and_jitter(image, step=0), normalised)
    # without a step: the default jitter scaled to the image, 2 px per 32 px, i.e. at most 14 px at 224
    for _ in range(12):
        out = dream.normalize_and_jitter(image)
        assert max(map(abs, jitter_offset(out, image))) <= 14
        torch.testing.assert_close(out, normalised.roll(jitter_offset(out, image), dims=(-2, -1)))


def test_forward_and_return_activation_returns_the_modules_output():
    torch.manual_seed(2)
    model = SmallVGGStyle().eval()
    x = torch.randn(2, 3, 32, 32)
    activation = dream.forward_and_return_activation(model, x, model.features[2])
    torch.testing.assert_close(activation, model.features[:3](x))
    assert activation.shape == (2, 16, 8, 8)
    assert not model.features[2]._forward_hooks  # no hook left behind
    torch.testing.assert_close(dream.forward_and_return_activation(model, x, "features.2"), activation)
    with pytest.raises(KeyError, match="not a sub-module"):
        dream.forward_and_return_activation(model, x, nn.ReLU())


def test_a_middle_layer_channel_is_raised_through_the_courses_door():
    torch.manual_seed(3)
    model = SmallVGGStyle().eval()
    layer = model.features[3]
    start = torch.full((1, 3, 32, 32), 0.5) + 0.05 * torch.rand(1, 3, 32, 32)

    def channel_mean(x):
        with torch.no_grad():
            return dream.forward_and_return_activation(
                model, dream.normalize(x, IMAGENET_MEAN, IMAGENET_STD), layer)[0].mean(dim=(1, 2))

    channel = int(channel_mean(start).argmax())
    wrapped = dream.LayerOutput(model, layer)
    image = dream.gradient_descent(start, wrapped, lambda tensor: tensor[0, channel].mean(), 16)
    assert channel_mean(image)[channel] > channel_mean(start)[channel]


@pytest.mark.parametrize("size, jitter, blur, grad_blur", [(32, 2, 0.5, 1.0), (224, 14, 3.5, 7.0), (64, 4, 1.0, 2.0)])
def test_pixel_sized_defaults_scale_with_the_image(size, jitter, blur, grad_blur):
    assert [dream.scaled_default(name, size, size) for name in ("jitter", "blur_sigma", "grad_blur_sigma")] == \
        [jitter, blur, grad_blur]
    assert dream.scaled_default("jitter", size, 2 * size) == jitter  # the shorter side counts
    with pytest.raises(KeyError, match="not measured in pixels"):
        dream.scaled_default("lr", size, size)


# -- bad input --------------------------------------------------------------------------

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
    assert dream.input_stats(TinyNet(), np.array([0.5, 0.5, 0.5]), torch.tensor([0.25] * 3)) == \
        ((0.5,) * 3, (0.25,) * 3)


# ---- DreamRuns: notebook 05's live widget (helpers.experiments.dream_runs) ------------------------------------

def test_a_dream_run_is_the_notebooks_run_cached_by_setting():
    from helpers.experiments.dream_runs import DreamRuns
    model, start = TinyNet(), start_image()
    runs = DreamRuns(model, start, ["a", "b", "c", "d", "e"])
    *_, (result, history) = runs.dream("c", 8, 2, every_s=1e9)
    expected_history = []
    expected = dream.gradient_descent(start, model, dream.class_loss(2), 8, octaves=2, target=2,
                                      history=expected_history, seed=2)
    assert torch.equal(result.image, expected) and len(history) == len(expected_history) == 8
    assert result.probability == dream.target_probability(expected, model, 2).item()
    assert list(runs.dream("c", 8, 2)) == [(result, history)]  # a cache hit: one answer, at once


def test_a_superseded_dream_stops_at_its_next_step():
    from helpers.experiments.dream_runs import DreamRuns
    runs = DreamRuns(TinyNet(), start_image(size=32), ["a", "b"])
    steps = runs.dream("a", 5000, 1, every_s=0.01, first_s=0.01)
    result, history = next(steps)  # running: progress, no result yet
    assert result is None
    steps.close()  # what the widget does when a newer setting arrives; returns once the run has stopped
    assert ("a", 5000, 1) not in runs.done


def test_dreaming_ahead_fills_the_cache_for_the_next_settings():
    from helpers.experiments.dream_runs import DreamRuns
    runs = DreamRuns(TinyNet(), start_image(), ["a", "b"])
    assert all(item is None for item in runs.ahead("b", [4, 6], 1, every_s=0.001))
    assert {("b", 4, 1), ("b", 6, 1)} <= set(runs.done)
    assert len(list(runs.dream("b", 6, 1))) == 1  # answered at once
