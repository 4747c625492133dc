"""DeepDream: visualise what a classifier looks for by gradient descent on its *input* image.

Training adjusts the weights to lower the loss on fixed images; here the weights are fixed and the
image is the variable. With ``loss = lambda out: -out[:, label].sum()`` (the *negative* class logit),
a gradient-descent step ``x <- x - lr * dloss/dx`` moves every pixel in the direction that raises
the logit: descending the negative logit is ascending the logit.

Public API:

- :func:`normalize_and_jitter` -- roll the image by a random offset, then normalise it for the model;
- :func:`gradient_descent` -- optimise an image (values in [0, 1]); every improvement over plain
  gradient steps is a keyword option (see its docstring); returns the optimised image and, if you
  pass a ``history`` list, appends one :class:`DreamStep` per iteration (loss, target probability);
- :func:`class_loss`, :func:`channel_loss` -- the usual losses; :class:`LayerOutput` exposes a
  named layer's activations through a forward hook, and :func:`visualize_channels` maximises the
  mean activation of chosen channels of that layer;
- :func:`target_probability`, :func:`robustness` -- softmax probability of the target class on the
  image itself and averaged over random shifts, rescalings and flips of it; :func:`roughness` --
  how much pixel-level noise an image carries.

Any classifier works: an ``nn.Module`` taking normalised (N, 3, H, W) images. The model's ``mean``
and ``std`` attributes are used when present (as for :class:`helpers.models.cnn.CifarCNN`); otherwise pass
``mean=`` and ``std=``. For example, with torchvision's ImageNet VGG-13-BN (online users; labels
0 = tench, 12 = house finch, 954 = banana, as in the course)::

    from torchvision.models import vgg13_bn, VGG13_BN_Weights
    vgg = vgg13_bn(weights=VGG13_BN_Weights.IMAGENET1K_V1).eval()
    start = noise_image(size=224)
    image = gradient_descent(start, vgg, class_loss(954), target=954, mean=IMAGENET_MEAN,
                             std=IMAGENET_STD, jitter=16, blur_sigma=1.0, grad_blur_sigma=2.0)
    robustness(image, vgg, 954, mean=IMAGENET_MEAN, std=IMAGENET_STD)

Scale the pixel-sized options with the image (jitter, blurs); layer names for
:func:`visualize_channels` are those of ``vgg.named_modules()``, e.g. ``"features.10"``. On a
CPU a 224-pixel VGG costs a second or more per step: lower ``iterations`` or use a GPU (move the
model and the start image there; everything follows the input's device).
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers.models.cnn import CIFAR_MEAN, CIFAR_STD, normalize
from helpers.runtime.progress import progress

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Target = int | Sequence[int] | torch.Tensor | None

# gradient_descent(..., **PLAIN_OPTIONS): plain gradient steps, every improvement switched off.
PLAIN_OPTIONS = dict(jitter=0, blur_every=0, clamp=False, weight_decay=0.0, grad_blur_sigma=0.0,
                     normalize_step=False, octaves=1)


@dataclass(frozen=True)
class DreamStep:
    """One iteration of :func:`gradient_descent`: its loss and the target probability.

    ``probabilities`` holds each image's softmax probability of its target class on the jittered
    input of that step (empty when no ``target`` was given); ``size`` is the side length the image
    had at that step (it grows with the octaves).
    """
    iteration: int
    size: int
    loss: float
    probabilities: tuple[float, ...]

    @property
    def probability(self) -> float:
        """Mean target probability over the batch (NaN without a target)."""
        return sum(self.probabilities) / len(self.probabilities) if self.probabilities else math.nan


# ----------------------------------------------------------------------------------------- checks

def _model_stats(model: nn.Module, mean, std) -> tuple[tuple[float, ...], tuple[float, ...]]:
    mean = getattr(model, "mean", None) if mean is None else mean
    std = getattr(model, "std", None) if std is None else std
    if mean is None or std is None:
        raise ValueError(f"{type(model).__name__} has no `mean`/`std` attributes: pass the normalisation "
                         "it was trained with, e.g. mean=IMAGENET_MEAN, std=IMAGENET_STD for torchvision "
                         "ImageNet models")
    mean, std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
    if len(mean) != len(std) or any(s <= 0 for s in std):
        raise ValueError(f"mean and std need one entry per channel and std > 0, got {mean} and {std}")
    return mean, std


def check_image(image: torch.Tensor, channels: int = 3, name: str = "image") -> None:
    """Raise a clear error unless ``image`` is a finite float (N, channels, H, W) tensor in [0, 1]."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, {channels}, H, W), got {type(image).__name__}")
    if image.dim() != 4 or image.shape[1] != channels:
        hint = "; add the batch dimension with image.unsqueeze(0)" if image.dim() == 3 else ""
        raise ValueError(f"{name} must have shape (N, {channels}, H, W), got {tuple(image.shape)}{hint}")
    if not image.is_floating_point():
        raise TypeError(f"{name} must be a float tensor with values in [0, 1], got {image.dtype} "
                        "(for uint8 pixels use image.float() / 255)")
    if not torch.isfinite(image).all():
        raise ValueError(f"{name} contains NaN or inf")
    low, high = image.min().item(), image.max().item()
    if low < 0 or high > 1:
        raise ValueError(f"{name} values must lie in [0, 1], got min {low:.4g} and max {high:.4g}")


def _target_tensor(target: Target, batch: int, num_classes: int | None = None) -> torch.Tensor | None:
    if target is None:
        return None
    labels = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if labels.numel() == 1:
        labels = labels.expand(batch)
    if labels.numel() != batch:
        raise ValueError(f"target needs one label per image ({batch}), got {labels.numel()}")
    if num_classes is not None and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"target labels must lie in [0, {num_classes - 1}], got {labels.tolist()}")
    return labels


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------ image operations

def normalize_and_jitter(img: torch.Tensor, step: int = 2, mean: Sequence[float] = CIFAR_MEAN,
                         std: Sequence[float] = CIFAR_STD, generator: torch.Generator | None = None) -> torch.Tensor:
    """Roll ``img`` (N, C, H, W) by a random offset in each of H and W, then normalise it.

    The offsets are drawn uniformly from ``-step .. step`` (one pair for the whole batch, from
    ``generator``); pixels that leave one edge come back at the other, so the jittered image holds
    exactly the same pixel values. ``step=0`` only normalises. Default mean/std: CIFAR-10's.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    ### BEGIN SOLUTION
    dy, dx = torch.randint(-step, step + 1, (2,), generator=generator).tolist()
    return normalize(img.roll(shifts=(dy, dx), dims=(-2, -1)), mean, std)
    ### END SOLUTION


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel of (N, C, H, W) ``image`` with a Gaussian of std ``sigma`` pixels.

    Separable kernel of radius ``ceil(2 sigma)``, reflected borders; ``sigma=0`` returns ``image``.
    """
    if sigma <= 0:
        return image
    radius = max(1, math.ceil(2 * sigma))
    radius = min(radius, image.shape[-1] - 1, image.shape[-2] - 1)  # reflect padding needs radius < size
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    weights = (weights / weights.sum()).tolist()
    height, width = image.shape[-2:]
    # A sum of shifted copies: for these small kernels much faster on a CPU than a grouped conv2d.
    padded = F.pad(image, (radius, radius, 0, 0), mode="reflect")
    rows = sum(w * padded[..., :, k:k + width] for k, w in enumerate(weights))
    padded = F.pad(rows, (0, 0, radius, radius), mode="reflect")
    return sum(w * padded[..., k:k + height, :] for k, w in enumerate(weights))


def octave_sizes(size: int, octaves: int, octave_scale: float) -> list[int]:
    """Side lengths from the smallest octave up to ``size``: ``size / octave_scale**k``, k = octaves-1..0."""
    if octaves < 1 or octave_scale < 1:
        raise ValueError(f"need octaves >= 1 and octave_scale >= 1, got {octaves} and {octave_scale}")
    return [max(8, round(size / octave_scale ** k)) for k in range(octaves - 1, -1, -1)]


def resize(image: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to ``size`` (anti-aliased when shrinking)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(image.shape[-2:]) == size:
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def noise_image(n: int = 1, size: int = 32, seed: int = 0, spread: float = 0.1) -> torch.Tensor:
    """A start image: mid-grey plus uniform noise of width ``spread``, (n, 3, size, size) in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return 0.5 + spread * (torch.rand(n, 3, size, size, generator=generator) - 0.5)


# ---------------------------------------------------------------------------------------- losses

def class_loss(target: Target) -> Callable[[torch.Tensor], torch.Tensor]:
    """``out -> -sum_i out[i, target_i]``: minimising it raises each image's target logit.

    The sum (not the mean) keeps each image's gradient independent of the batch size.
    """
    def loss(out: torch.Tensor) -> torch.Tensor:
        labels = _target_tensor(target, out.shape[0], out.shape[1]).to(out.device)
        return -out.gather(1, labels[:, None]).sum()
    return loss


def channel_loss(channels: int | Sequence[int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``activation -> -sum_i mean(activation[i, channel_i])``: raises each image's channel."""
    def loss(activation: torch.Tensor) -> torch.Tensor:
        if activation.dim() < 2:
            raise ValueError(f"channel_loss needs an (N, C, ...) activation, got {tuple(activation.shape)}")
        index = _target_tensor(channels, activation.shape[0], activation.shape[1]).to(activation.device)
        picked = activation[torch.arange(activation.shape[0], device=activation.device), index]
        return -picked.reshape(activation.shape[0], -1).mean(dim=1).sum()
    return loss


# ------------------------------------------------------------------------------ the optimisation

def gradient_descent(input: torch.Tensor, model: nn.Module, loss: Callable[[torch.Tensor], torch.Tensor],
                     iterations: int = 256, *, lr: float = 0.02, jitter: int = 2,
                     blur_every: int = 4, blur_sigma: float = 0.5, clamp: bool = True,
                     weight_decay: float = 1e-3, grad_blur_sigma: float = 1.0, normalize_step: bool = True,
                     octaves: int = 3, octave_scale: float = 1.4, target: Target = None,
                     history: list | None = None, mean: Sequence[float] | None = None,
                     std: Sequence[float] | None = None, seed: int | None = 0,
                     show_progress: bool = False) -> torch.Tensor:
    """Minimise ``loss(model(normalize_and_jitter(image)))`` over the image; return the image.

    Args:
        input: start image(s), float (N, 3, H, W) in [0, 1]; not modified.
        model: any ``nn.Module`` mapping normalised images to outputs; it is put in eval mode and
            its parameters receive no gradient.
        loss: maps the model output to a scalar, e.g. :func:`class_loss` (``-out[:, label].sum()``).
        iterations: gradient steps in total (shared between the octaves).
        lr: step size. With ``normalize_step`` it is in pixel units: the mean |change| of a pixel per
            step; without, it multiplies the raw gradient.
        jitter: the ``step`` of :func:`normalize_and_jitter` (random roll of up to this many pixels
            each iteration; 0 = none).

    Improvements, each switchable (``**PLAIN_OPTIONS`` switches them all off, jitter included):
        blur_every, blur_sigma: every ``blur_every`` steps blur the image with a Gaussian of
            ``blur_sigma`` pixels (0 = never): removes the high frequencies the model ignores.
        clamp: clamp the pixels to [0, 1] after every step, so the result stays a valid image.
        weight_decay: L2 penalty on the image, applied as a decoupled decay of every pixel towards
            the model's mean colour, ``x <- mean + (1 - weight_decay) (x - mean)`` (0 = off).
        grad_blur_sigma: blur the gradient with this sigma before the step (0 = off): smooth steps.
        normalize_step: divide each image's gradient by its mean absolute value, so every step
            changes pixels by ``lr`` on average whatever the gradient's scale.
        octaves, octave_scale: optimise first at ``H / octave_scale**(octaves-1)`` pixels and
            upsample (bilinear) ``octaves - 1`` times, the iterations split evenly: coarse
            structure first, detail last (1 = single scale).

    Recording:
        target: the target class (an int, or one per image); when given, each step's softmax
            probability of it on the jittered input is recorded.
        history: a list to which one :class:`DreamStep` per iteration is appended (loss and target
            probabilities); the return value stays the image.
        mean, std: the model's input normalisation (default: ``model.mean``, ``model.std``).
        seed: seeds the jitter (None: torch's global generator); equal seeds give equal images.
        show_progress: a progress bar over the iterations (silent when headless).

    Returns the optimised image, (N, 3, H, W), detached, on the input's device (in [0, 1] when
    ``clamp``; without it pixels may leave that range). Raises
    ``FloatingPointError`` if the loss or the image becomes NaN or inf (lower ``lr``).
    """
    mean, std = _model_stats(model, mean, std)
    check_image(input, channels=len(mean), name="input")
    if iterations < 1 or lr <= 0:
        raise ValueError(f"need iterations >= 1 and lr > 0, got {iterations} and {lr}")
    if blur_every < 0 or blur_sigma < 0 or grad_blur_sigma < 0 or not 0 <= weight_decay < 1:
        raise ValueError("blur_every, blur_sigma and grad_blur_sigma must be >= 0 and weight_decay in [0, 1)")
    model.eval()
    generator = _generator(seed)
    height, width = input.shape[-2:]
    sizes = octave_sizes(height, octaves, octave_scale)
    labels = _target_tensor(target, input.shape[0])
    centre = torch.tensor(mean, dtype=input.dtype, device=input.device).view(1, -1, 1, 1)
    image = resize(input.detach(), (sizes[0], round(sizes[0] * width / height)))
    steps = progress(range(iterations), desc="dreaming") if show_progress else range(iterations)
    for iteration in steps:
        octave = min(iteration * octaves // iterations, octaves - 1)
        if sizes[octave] != image.shape[-2]:
            image = resize(image, (sizes[octave], round(sizes[octave] * width / height)))
        image.requires_grad_(True)
        out = model(normalize_and_jitter(image, jitter, mean, std, generator))
        value = loss(out)
        if value.dim() != 0:
            raise ValueError(f"loss must return a scalar, got shape {tuple(value.shape)}")
        if not torch.isfinite(value):
            raise FloatingPointError(f"loss became {value.item()} at iteration {iteration}: lower lr")
        if iteration == 0 and labels is not None:
            labels = _target_tensor(labels, input.shape[0], out.shape[1])  # checks the label range
        (grad,) = torch.autograd.grad(value, image)
        with torch.no_grad():
            ### BEGIN SOLUTION
            if grad_blur_sigma > 0:
                grad = gaussian_blur(grad, grad_blur_sigma)
            if normalize_step:
                grad = grad / grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
            image = image.detach() - lr * grad  # a step *down* the loss = up the target logit
            if weight_decay > 0:
                image = centre + (1 - weight_decay) * (image - centre)
            if blur_every > 0 and (iteration + 1) % blur_every == 0:
                image = gaussian_blur(image, blur_sigma)
            if clamp:
                image = image.clamp(0, 1)
            ### END SOLUTION
            if not torch.isfinite(image).all():
                raise FloatingPointError(f"the image became NaN or inf at iteration {iteration}: lower lr")
            if history is not None:
                probabilities = () if labels is None else tuple(
                    out.detach().softmax(1).gather(1, labels[:, None].to(out.device)).squeeze(1).tolist())
                history.append(DreamStep(iteration, image.shape[-2], value.item(), probabilities))
    return resize(image.detach(), (height, width))


# The defaults of the step size and of every improvement, read from the signature (one source of truth).
DEFAULT_OPTIONS = {name: inspect.signature(gradient_descent).parameters[name].default
                   for name in ("lr", "blur_sigma", *PLAIN_OPTIONS)}


# ------------------------------------------------------------------------- middle-layer channels

class LayerOutput(nn.Module):
    """Wrap ``model`` so that calling it returns the output of its sub-module ``layer``.

    ``layer`` is a name from ``model.named_modules()`` (e.g. ``"features.block2"``); a forward hook
    catches the activation and stops the forward pass there (later layers are not computed).
    ``mean`` and ``std`` are passed through from ``model``.
    """

    class _Stop(Exception):
        pass

    def __init__(self, model: nn.Module, layer: str):
        super().__init__()
        modules = dict(model.named_modules())
        if layer not in modules or layer == "":
            names = [name for name in modules if name]
            raise KeyError(f"{type(model).__name__} has no layer {layer!r}; its layers are: {', '.join(names)}")
        self.model, self.layer = model, layer
        self.module = modules[layer]
        for attribute in ("mean", "std"):
            if hasattr(model, attribute):
                setattr(self, attribute, getattr(model, attribute))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        caught = []

        def hook(module, inputs, output):
            caught.append(output)
            raise LayerOutput._Stop

        handle = self.module.register_forward_hook(hook)
        try:
            self.model(x)
        except LayerOutput._Stop:
            pass
        finally:
            handle.remove()
        if not caught:
            raise RuntimeError(f"layer {self.layer!r} was not called during the forward pass")
        return caught[0]


def visualize_channels(model: nn.Module, layer: str, channels: Sequence[int], start: torch.Tensor,
                       iterations: int = 128, **options) -> torch.Tensor:
    """Images that maximise the mean activation of ``channels`` of ``layer``, one per channel.

    start: (1, 3, H, W) or (len(channels), 3, H, W) start image(s) in [0, 1]; ``options`` go to
    :func:`gradient_descent` (``history`` records the loss, no probability). Returns
    (len(channels), 3, H, W).
    """
    wrapped = LayerOutput(model, layer)
    channels = list(channels)
    with torch.no_grad():
        probe = wrapped(normalize(start[:1], *_model_stats(model, options.get("mean"), options.get("std"))))
    if any(not 0 <= c < probe.shape[1] for c in channels):
        raise ValueError(f"layer {layer!r} has {probe.shape[1]} channels, got channels {channels}")
    if start.dim() == 4 and start.shape[0] == 1:
        start = start.expand(len(channels), -1, -1, -1)
    return gradient_descent(start, wrapped, channel_loss(channels), iterations, **options)


# ------------------------------------------------------------------------------------ evaluation

@torch.no_grad()
def target_probability(image: torch.Tensor, model: nn.Module, target: Target,
                       mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> torch.Tensor:
    """Softmax probability of each image's target class, (N,), on the image as it is."""
    mean, std = _model_stats(model, mean, std)
    check_image(image, channels=len(mean))
    model.eval()
    out = model(normalize(image, mean, std))
    labels = _target_tensor(target, image.shape[0], out.shape[1]).to(out.device)
    return out.softmax(1).gather(1, labels[:, None]).squeeze(1)


def roughness(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (down plus right), per image: (N,).

    Pixel noise scores high (about 0.67 for uniform noise in [0, 1]), smooth pictures low (0 for a
    constant image): a number for how much high-frequency noise a dream carries.
    """
    down = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    right = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    return down + right


def random_views(image: torch.Tensor, views: int = 32, max_shift: float = 0.1,
                 scale_range: tuple[float, float] = (0.9, 1.1), flip: bool = True,
                 seed: int | None = 0) -> torch.Tensor:
    """``views`` random views of each image: (N, C, H, W) -> (views, N, C, H, W).

    Each view shifts by up to ``max_shift`` of the image size in x and y, zooms by a factor in
    ``scale_range`` and (with ``flip``) mirrors left-right with probability 1/2; borders are
    reflected. The same ``views`` transforms are applied to every image of the batch.
    """
    generator = _generator(seed)
    shift = (torch.rand(views, 2, generator=generator) * 2 - 1) * max_shift * 2  # grid units span 2
    low, high = scale_range
    zoom = low + (high - low) * torch.rand(views, generator=generator)
    mirror = torch.where(torch.rand(views, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(views)
    theta = torch.zeros(views, 2, 3)
    theta[:, 0, 0] = mirror / zoom
    theta[:, 1, 1] = 1 / zoom
    theta[:, :, 2] = shift
    n = image.shape[0]
    theta = theta.to(image).repeat_interleave(n, dim=0)
    batch = image.repeat(views, 1, 1, 1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out.view(views, *image.shape)


@torch.no_grad()
def robustness(image: torch.Tensor, model: nn.Module, target: Target, views: int = 32, seed: int = 0,
               mean: Sequence[float] | None = None, std: Sequence[float] | None = None, **view_options) -> torch.Tensor:
    """Mean target probability over ``views`` random shifts/zooms/flips of each image, (N,).

    Near 1: the model sees the class in the image however it is framed; an adversarial speck
    scores high on :func:`target_probability` but falls apart here. ``view_options`` go to
    :func:`random_views` (defaults: shifts up to 10 %, zoom 0.9-1.1, flips).
    """
    mean, std = _model_stats(model, mean, std)
    check_image(image, channels=len(mean))
    model.eval()
    batch = random_views(image, views, seed=seed, **view_options)
    out = model(normalize(batch.flatten(0, 1), mean, std))
    labels = _target_tensor(target, image.shape[0], out.shape[1]).to(out.device).repeat(views)
    probabilities = out.softmax(1).gather(1, labels[:, None]).view(views, image.shape[0])
    return probabilities.mean(0)
