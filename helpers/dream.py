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

Defined elsewhere and importable from here too: the image operations (:func:`check_image`,
:func:`gaussian_blur`, :func:`resize`, :func:`octave_sizes`, :func:`noise_image`, :func:`random_views`,
:func:`roughness`) and the input checks in :mod:`helpers.data.images`; ``normalize`` in
:mod:`helpers.data.cifar`; :class:`LayerOutput`, :func:`target_probability` and :func:`robustness` in
:mod:`helpers.classifier_probes`.

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

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn as nn

from helpers.classifier_probes import (LayerOutput, Target, input_stats, robustness,  # noqa: F401 (re-exported)
                                       target_labels, target_probability)
from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD, normalize
from helpers.data.images import (channel_stats, check_batch, check_image,  # noqa: F401 (re-exported)
                                 gaussian_blur, noise_image, octave_sizes, random_views, resize, roughness,
                                 seeded_generator)
from helpers.runtime.progress import progress
from helpers.runtime.validation import check_int, check_real

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# gradient_descent's defaults, defined here once: the step size and every improvement switched on.
DEFAULT_OPTIONS = dict(lr=0.02, blur_sigma=0.5, jitter=2, blur_every=4, clamp=True, weight_decay=1e-3,
                       grad_blur_sigma=1.0, normalize_step=True, octaves=3)
# gradient_descent(..., **PLAIN_OPTIONS): plain gradient steps, every improvement switched off.
PLAIN_OPTIONS = dict(jitter=0, blur_every=0, clamp=False, weight_decay=0.0, grad_blur_sigma=0.0,
                     normalize_step=False, octaves=1)
_DEFAULT = DEFAULT_OPTIONS  # a short name for gradient_descent's signature


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

def _check_options(iterations: int, lr: float, jitter: int, blur_every: int, blur_sigma: float,
                   grad_blur_sigma: float, weight_decay: float) -> None:
    """The numeric options of :func:`gradient_descent`, each named in its error (octaves: :func:`octave_sizes`)."""
    for name, value, minimum in (("iterations", iterations, 1), ("jitter", jitter, 0), ("blur_every", blur_every, 0)):
        check_int(name, value, minimum)
    for name, value in (("blur_sigma", blur_sigma), ("grad_blur_sigma", grad_blur_sigma)):
        check_real(name, value)  # checked even where unused: a NaN sigma would silently switch its blur off
    check_real("lr", lr, strict=True)  # inf would push every pixel to 0 or 1
    check_real("weight_decay", weight_decay, below=1)


def _checked_loss(loss: Callable[[torch.Tensor], torch.Tensor], out: torch.Tensor, iteration: int) -> torch.Tensor:
    """``loss(out)``, which must be a finite scalar."""
    value = loss(out)
    if value.dim() != 0:
        raise ValueError(f"loss must return a scalar, got shape {tuple(value.shape)}")
    if not torch.isfinite(value):
        raise FloatingPointError(f"loss became {value.item()} at iteration {iteration}: lower lr")
    return value


# -------------------------------------------------------------------------------------- the input

def normalize_and_jitter(img: torch.Tensor, step: int = 2, mean: Sequence[float] = CIFAR_MEAN,
                         std: Sequence[float] = CIFAR_STD, generator: torch.Generator | None = None) -> torch.Tensor:
    """Roll ``img`` (N, C, H, W) by a random offset in each of H and W, then normalise it.

    The offsets are drawn uniformly from ``-step .. step`` (one pair for the whole batch, from
    ``generator``); pixels that leave one edge come back at the other, so the jittered image holds
    exactly the same pixel values. ``step=0`` only normalises. Default mean/std: CIFAR-10's; any
    other: one finite entry per channel, std > 0. ``img`` must be float; ``step`` an int >= 0.
    """
    check_batch(img, name="img")
    check_int("step", step)
    mean, std = channel_stats(mean, std, channels=img.shape[1])
    ### BEGIN SOLUTION
    dy, dx = torch.randint(-step, step + 1, (2,), generator=generator).tolist()
    return normalize(img.roll(shifts=(dy, dx), dims=(-2, -1)), mean, std)
    ### END SOLUTION


def _octave_schedule(height: int, width: int, iterations: int, octaves: int, octave_scale: float) -> list[tuple[int, int]]:
    """The image's (height, width) at each iteration: each octave for an equal share, aspect ratio kept."""
    sizes = octave_sizes(height, octaves, octave_scale)
    octave_of = [min(iteration * octaves // iterations, octaves - 1) for iteration in range(iterations)]
    return [(sizes[octave], round(sizes[octave] * width / height)) for octave in octave_of]


# ---------------------------------------------------------------------------------------- losses

def class_loss(target: Target) -> Callable[[torch.Tensor], torch.Tensor]:
    """``out -> -sum_i out[i, target_i]``: minimising it raises each image's target logit.

    The sum (not the mean) keeps each image's gradient independent of the batch size.
    """
    def loss(out: torch.Tensor) -> torch.Tensor:
        labels = target_labels(target, out.shape[0], out.shape[1]).to(out.device)
        return -out.gather(1, labels[:, None]).sum()
    return loss


def channel_loss(channels: int | Sequence[int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``activation -> -sum_i mean(activation[i, channel_i])``: raises each image's channel."""
    def loss(activation: torch.Tensor) -> torch.Tensor:
        if activation.dim() < 2:
            raise ValueError(f"channel_loss needs an (N, C, ...) activation, got {tuple(activation.shape)}")
        index = target_labels(channels, activation.shape[0], activation.shape[1]).to(activation.device)
        picked = activation[torch.arange(activation.shape[0], device=activation.device), index]
        return -picked.reshape(activation.shape[0], -1).mean(dim=1).sum()
    return loss


# ------------------------------------------------------------------------------ the optimisation

def _step(image: torch.Tensor, grad: torch.Tensor, iteration: int, *, lr: float, grad_blur_sigma: float,
          normalize_step: bool, weight_decay: float, centre: torch.Tensor, blur_every: int, blur_sigma: float,
          clamp: bool) -> torch.Tensor:
    """One update of ``image`` (N, 3, H, W) by the loss gradient ``grad`` (same shape): a new image.

    In this order, each only when its option is on (see :func:`gradient_descent`): blur the
    gradient; divide each image's gradient by its mean absolute value; step down the loss by ``lr``;
    decay the pixels towards ``centre`` (1, 3, 1, 1), the model's mean colour; blur the image on
    every ``blur_every``-th iteration (``iteration`` counts from 0); clamp to [0, 1].
    """
    ### BEGIN SOLUTION
    if grad_blur_sigma > 0:
        grad = gaussian_blur(grad, grad_blur_sigma)
    if normalize_step:
        grad = grad / grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    image = image - lr * grad  # a step *down* the loss = up the target logit
    if weight_decay > 0:
        image = centre + (1 - weight_decay) * (image - centre)
    if blur_every > 0 and (iteration + 1) % blur_every == 0:
        image = gaussian_blur(image, blur_sigma)
    if clamp:
        image = image.clamp(0, 1)
    ### END SOLUTION
    return image


def _history_entry(iteration: int, image: torch.Tensor, value: torch.Tensor, out: torch.Tensor,
                   labels: torch.Tensor | None) -> DreamStep:
    probabilities = () if labels is None else tuple(
        out.detach().softmax(1).gather(1, labels[:, None].to(out.device)).squeeze(1).tolist())
    return DreamStep(iteration, image.shape[-2], value.item(), probabilities)


def gradient_descent(input: torch.Tensor, model: nn.Module, loss: Callable[[torch.Tensor], torch.Tensor],
                     iterations: int = 256, *, lr: float = _DEFAULT["lr"], jitter: int = _DEFAULT["jitter"],
                     blur_every: int = _DEFAULT["blur_every"], blur_sigma: float = _DEFAULT["blur_sigma"],
                     clamp: bool = _DEFAULT["clamp"], weight_decay: float = _DEFAULT["weight_decay"],
                     grad_blur_sigma: float = _DEFAULT["grad_blur_sigma"],
                     normalize_step: bool = _DEFAULT["normalize_step"], octaves: int = _DEFAULT["octaves"],
                     octave_scale: float = 1.4, target: Target = None,
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

    Improvements, each switchable (``**PLAIN_OPTIONS`` switches them all off, jitter included;
    ``DEFAULT_OPTIONS`` holds the defaults):
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
    # Long only for its docstring (every option documented where it is passed); the work is in the helpers.
    mean, std = input_stats(model, mean, std)
    check_image(input, channels=len(mean), name="input")
    _check_options(iterations, lr, jitter, blur_every, blur_sigma, grad_blur_sigma, weight_decay)
    height, width = input.shape[-2:]
    shapes = _octave_schedule(height, width, iterations, octaves, octave_scale)  # checks octaves, octave_scale
    model.eval()
    generator = seeded_generator(seed)
    labels = target_labels(target, input.shape[0])
    centre = torch.tensor(mean, dtype=input.dtype, device=input.device).view(1, -1, 1, 1)
    image = input.detach()
    for iteration in progress(range(iterations), desc="dreaming") if show_progress else range(iterations):
        image = resize(image, shapes[iteration]).requires_grad_(True)
        out = model(normalize_and_jitter(image, jitter, mean, std, generator))
        value = _checked_loss(loss, out, iteration)
        if iteration == 0 and labels is not None:
            labels = target_labels(labels, input.shape[0], out.shape[1])  # checks the label range
        (grad,) = torch.autograd.grad(value, image)
        with torch.no_grad():
            image = _step(image.detach(), grad, iteration, lr=lr, grad_blur_sigma=grad_blur_sigma,
                          normalize_step=normalize_step, weight_decay=weight_decay, centre=centre,
                          blur_every=blur_every, blur_sigma=blur_sigma, clamp=clamp)
        if not torch.isfinite(image).all():
            raise FloatingPointError(f"the image became NaN or inf at iteration {iteration}: lower lr")
        if history is not None:
            history.append(_history_entry(iteration, image, value, out, labels))
    return resize(image.detach(), (height, width))


# ------------------------------------------------------------------------- middle-layer channels

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
        probe = wrapped(normalize(start[:1], *input_stats(model, options.get("mean"), options.get("std"))))
    if any(not 0 <= c < probe.shape[1] for c in channels):
        raise ValueError(f"layer {layer!r} has {probe.shape[1]} channels, got channels {channels}")
    if start.dim() == 4 and start.shape[0] == 1:
        start = start.expand(len(channels), -1, -1, -1)
    return gradient_descent(start, wrapped, channel_loss(channels), iterations, **options)
