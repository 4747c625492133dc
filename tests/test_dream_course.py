"""The NYU course's DeepDream contract (homework 1, section 2.2), checked against helpers.dream.

The course grades ``gradient_descent`` with a driver students may not change. Restated here in our
own words: for each of three ImageNet labels, a 224-pixel start image that is grey plus a little
Gaussian noise, built channels-last and permuted to (1, 3, 224, 224), with ``requires_grad`` set; then
``gradient_descent(image, model, objective)`` with only three positional arguments (every option at
its default, so the default iteration count too), where the objective is the label's logit of the
single image; then the softmax probability of the label on the returned image, fed to the model as
it is. The model is torchvision's VGG-13-BN, which has no ``mean``/``std`` attributes. VGG's weights
cannot be downloaded here, so a small randomly initialised network with torchvision's layout stands
in (features, avgpool, classifier; 1000 classes).
"""
import pytest
import torch
import torch.nn as nn

from helpers import dream

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


def test_the_course_driver_raises_each_label_with_the_defaults():
    torch.manual_seed(0)
    model = SmallVGGStyle().eval()
    assert not hasattr(model, "mean") and not hasattr(model, "std")
    printed = []
    for label in (0, 12, 954):
        image = course_start_image()
        start = image.detach().clone()
        image = dream.gradient_descent(image, model, lambda tensor: tensor[0, label].mean())
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
