"""helpers.dream: jitter, the input optimisation and each of its options, hooks, robustness, errors.

Everything runs on small random-weight networks (milliseconds); the trained CIFAR-10 CNN is only
needed by the notebook.
"""
import math

import pytest
import torch
import torch.nn as nn

from helpers import classifier_probes, dream
from helpers.data import images as image_ops
from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD, normalize

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
    assert classifier_probes.input_stats(model) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert classifier_probes.input_stats(TinyNet()) == (CIFAR_MEAN, CIFAR_STD)  # a model's own statistics win


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
    for name in ("LayerOutput", "target_probability", "robustness", "logit_margin", "IMAGENET_MEAN", "IMAGENET_STD"):
        assert getattr(dream, name) is getattr(classifier_probes, name), name
    assert dream.normalize is normalize and (dream.CIFAR_MEAN, dream.CIFAR_STD) == (CIFAR_MEAN, CIFAR_STD)
