"""DeepDream: visualise what a classifier looks for by gradient descent on its *input* image.

Training adjusts the weights to lower the loss on fixed images; here the weights are fixed and the
image is the variable. The convention is the course's (NYU homework 1, section 2.2): ``loss`` maps the
model output to the quantity to **raise**, e.g. ``lambda tensor: tensor[0, label].mean()``, the class
logit. Its negative is the class's *energy*; :func:`gradient_descent` descends the energy, which is
ascending the logit. :func:`class_loss` and :func:`channel_loss` follow the same convention (they
return a logit, a mean activation).

Exercises (notebook 05; the student edition stubs them; ``check_exercise("5.1")`` etc. check them):
5.1 :func:`dream_step` (one update with its options), 5.2 :func:`gradient_descent` (the loop, the
course's task), 5.3 :func:`channel_objective` (what a channel visualisation raises). No stand-in
replaces them while they are undone (there is no library tool for a DeepDream step): the notebook's
cells that need one start with ``if dream.ready("5.1", ...):``, which says which exercise to do first
and skips the cell.

The module reads top to bottom: the options (their defaults, and the :class:`DreamPlan` that
``gradient_descent`` settles from its arguments once, at its entry: :func:`plan_run`); the model's input
(normalisation, jitter, a middle layer's output); the objectives (5.3); the step (5.1); the loop (5.2, and
what it records per iteration); channel visualisation; probes of a classifier (probability, robustness,
margin); which exercises are done.

Public API:

- :func:`normalize_and_jitter` -- roll the image by a random offset, then normalise it for the model
  (``normalize_and_jitter(img, step=32)`` as in the course: ImageNet statistics by default);
  :func:`jitter_offsets` draws its offsets;
- :func:`gradient_descent` -- optimise an image (values in [0, 1]); every improvement over plain
  gradient steps is a keyword option (see its docstring) and the pixel-sized ones scale with the
  image (see *The options* below); returns the optimised image and, if you pass a ``history``
  list, appends one :class:`DreamStep` per iteration (objective, target probability);
  :func:`dream_step` is one of its updates;
- :func:`forward_and_return_activation` -- the output of one module of the model during a forward
  pass (the course's door to middle-layer visualisations); :class:`LayerOutput` wraps a model so
  that it returns that activation, and :func:`visualize_channels` raises the mean activation of
  chosen channels of a layer;
- :func:`class_loss`, :func:`channel_loss` -- the usual objectives (a logit, a channel's mean, computed
  by :func:`channel_objective`);
- :func:`target_probability`, :func:`robustness`, :func:`logit_margin` -- softmax probability of the
  target class on the image itself and averaged over random shifts, rescalings and flips of it, and
  the target logit's lead over the runner-up; :func:`roughness` -- how much pixel-level noise an image
  carries.

Defined elsewhere and importable from here too: the image operations (:func:`check_image`,
:func:`gaussian_blur`, :func:`resize`, :func:`octave_sizes`, :func:`noise_image`, :func:`random_views`,
:func:`roughness`) in :mod:`helpers.data.images`; ``normalize`` in :mod:`helpers.data.cifar`.

Any classifier works: an ``nn.Module`` taking normalised (N, 3, H, W) images. The model's ``mean``
and ``std`` attributes are used when present (as for :class:`helpers.models.cnn.CifarCNN`); a model
without them gets ImageNet's (``IMAGENET_MEAN``, ``IMAGENET_STD``), as torchvision's pretrained
models expect; ``mean=`` and ``std=`` override both. The course's own driver runs unchanged with
torchvision's ImageNet VGG-13-BN (labels 0 = tench, 12 = house finch, 954 = banana)::

    from torchvision.models import vgg13_bn, VGG13_BN_Weights
    model = vgg13_bn(weights=VGG13_BN_Weights.IMAGENET1K_V1).eval()
    for label in (0, 12, 954):
        image = ((torch.randn(1, 224, 224, 3) * 8 + 128) / 255).permute(0, 3, 1, 2)
        image.requires_grad_()
        image = gradient_descent(image, model, lambda tensor: tensor[0, label].mean())
        print(f"ANSWER_FOR_LABEL_{label}: {model(image).softmax(1)[0, label].item()}")

Layer names for :func:`visualize_channels` are those of ``model.named_modules()``, e.g.
``"features.10"``. On a CPU a 224-pixel VGG costs a second or more per step: lower ``iterations``
or use a GPU (move the model and the start image there; everything follows the input's device).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
import torch.nn as nn

from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD, normalize  # noqa: F401 (re-exported)
from helpers.data.images import (channel_stats, check_batch, check_image,  # noqa: F401 (re-exported)
                                 gaussian_blur, noise_image, octave_sizes, random_views, resize, roughness,
                                 seeded_generator)
from helpers.runtime.exercises import ExerciseNotDone
from helpers.runtime.progress import progress
from helpers.runtime.validation import check_int, check_real

# A class label for every image: one int for all, or one per image.
Target = int | Sequence[int] | torch.Tensor | None

# The ImageNet channel statistics torchvision's pretrained models are trained with (RGB, images in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ----------------------------------------------------------------------------------------- the options
#
# Pixel-sized options (``jitter``, ``blur_sigma``, ``grad_blur_sigma``) have their defaults stated for a
# REFERENCE_SIZE = 32-pixel image (CIFAR-10) and scaled with the image: for an image whose shorter side has
# ``s`` pixels, the default is ``DEFAULT_OPTIONS[name] * s / 32`` (the jitter rounded to whole pixels). A
# 224-pixel ImageNet image thus gets a jitter of 14 px, an image blur of 3.5 px and a gradient blur of 7 px:
# the same blur and shift *relative to the image* that suit a 32-pixel one. A value passed explicitly is used
# as given, in pixels.

REFERENCE_SIZE = 32  # the image side, in pixels, for which DEFAULT_OPTIONS' pixel-sized values are stated
PIXEL_OPTIONS = ("jitter", "blur_sigma", "grad_blur_sigma")  # measured in pixels: scaled with the image

# gradient_descent's defaults, defined here once: the step size and every improvement switched on
# (the pixel-sized ones for a REFERENCE_SIZE image).
DEFAULT_OPTIONS = dict(lr=0.02, blur_sigma=0.5, jitter=2, blur_every=4, clamp=True, weight_decay=1e-3,
                       grad_blur_sigma=1.0, normalize_step=True, octaves=3)
# gradient_descent(..., **PLAIN_OPTIONS): plain gradient steps, every improvement switched off.
PLAIN_OPTIONS = dict(jitter=0, blur_every=0, clamp=False, weight_decay=0.0, grad_blur_sigma=0.0,
                     normalize_step=False, octaves=1)

_DEFAULT = DEFAULT_OPTIONS  # a short name for gradient_descent's signature


def scaled_default(name: str, height: int, width: int) -> int | float:
    """The default of the pixel-sized option ``name`` for an (height, width) image: see the module docstring.

    >>> scaled_default("jitter", 224, 224), scaled_default("blur_sigma", 224, 224)
    (14, 3.5)
    """
    if name not in PIXEL_OPTIONS:
        raise KeyError(f"{name!r} is not measured in pixels; those are {PIXEL_OPTIONS}")
    value = DEFAULT_OPTIONS[name] * min(height, width) / REFERENCE_SIZE
    return round(value) if name == "jitter" else value


def pixel_options(height: int, width: int, **given: int | float | None) -> dict[str, int | float]:
    """``given`` (jitter, blur_sigma, grad_blur_sigma) with each ``None`` replaced by its scaled default."""
    return {name: scaled_default(name, height, width) if value is None else value for name, value in given.items()}


def check_options(iterations: int, lr: float, jitter: int, blur_every: int, blur_sigma: float,
                  grad_blur_sigma: float, weight_decay: float) -> None:
    """The numeric options of ``gradient_descent``, each named in its error (octaves: :func:`octave_schedule`)."""
    for name, value, minimum in (("iterations", iterations, 1), ("jitter", jitter, 0), ("blur_every", blur_every, 0)):
        check_int(name, value, minimum)
    for name, value in (("blur_sigma", blur_sigma), ("grad_blur_sigma", grad_blur_sigma)):
        check_real(name, value)  # checked even where unused: a NaN sigma would silently switch its blur off
    check_real("lr", lr, strict=True)  # inf would push every pixel to 0 or 1
    check_real("weight_decay", weight_decay, below=1)


def octave_schedule(height: int, width: int, iterations: int, octaves: int,
                    octave_scale: float) -> list[tuple[int, int]]:
    """The image's (height, width) at each iteration: each octave for an equal share, aspect ratio kept."""
    sizes = octave_sizes(height, octaves, octave_scale)
    octave_of = [min(iteration * octaves // iterations, octaves - 1) for iteration in range(iterations)]
    return [(sizes[octave], round(sizes[octave] * width / height)) for octave in octave_of]


@dataclass(frozen=True)
class DreamPlan:
    """What ``gradient_descent`` settles before its first step, from its arguments (:func:`plan_run`).

    ``mean``, ``std``: the model's input normalisation, one float per channel; ``jitter``: the roll
    range in pixels for ``normalize_and_jitter``; ``shapes``: the image's (height, width) at each
    iteration (the octaves); ``generator``: the seeded source of the jitter offsets (None: torch's
    global one); ``labels``: (N,) target classes or None; ``step_options``: the keyword arguments of
    ``dream_step`` (``centre`` (1, C, 1, 1) among them).
    """
    mean: tuple[float, ...]
    std: tuple[float, ...]
    jitter: int
    shapes: list[tuple[int, int]]
    generator: torch.Generator | None
    labels: torch.Tensor | None
    step_options: dict


def plan_run(arguments: Mapping[str, object]) -> DreamPlan:
    """Check ``gradient_descent``'s arguments once, at its entry, and settle its :class:`DreamPlan`.

    ``arguments``: gradient_descent's arguments by name (input (N, C, H, W) in [0, 1], model, iterations and
    the keyword options), as its first line hands them over; each bad one gets an error naming it.
    """
    input, model, iterations = arguments["input"], arguments["model"], arguments["iterations"]
    options = {name: arguments[name] for name in DEFAULT_OPTIONS}
    mean, std = input_stats(model, arguments["mean"], arguments["std"])
    check_image(input, channels=len(mean), name="input")
    height, width = input.shape[-2:]
    options.update(pixel_options(height, width, **{name: options[name] for name in PIXEL_OPTIONS}))
    check_options(iterations, options["lr"], options["jitter"], options["blur_every"], options["blur_sigma"],
                  options["grad_blur_sigma"], options["weight_decay"])
    shapes = octave_schedule(height, width, iterations, options["octaves"], arguments["octave_scale"])
    centre = torch.tensor(mean, dtype=input.dtype, device=input.device).view(1, -1, 1, 1)
    step_options = dict(lr=options["lr"], normalize_step=options["normalize_step"],
                        grad_blur_sigma=options["grad_blur_sigma"], weight_decay=options["weight_decay"],
                        centre=centre, blur_every=options["blur_every"], blur_sigma=options["blur_sigma"],
                        clamp=options["clamp"])
    return DreamPlan(mean, std, options["jitter"], shapes, seeded_generator(arguments["seed"]),
                     target_labels(arguments["target"], input.shape[0]), step_options)


# -------------------------------------------------------------------------------------- the input

def normalize_and_jitter(img: torch.Tensor, step: int | None = None, mean: Sequence[float] = IMAGENET_MEAN,
                         std: Sequence[float] = IMAGENET_STD, generator: torch.Generator | None = None) -> torch.Tensor:
    """Roll ``img`` (N, C, H, W) by a random offset in each of H and W, then normalise it: (N, C, H, W).

    The offsets are drawn uniformly from ``-step .. step`` (one pair for the whole batch, from
    ``generator``); pixels that leave one edge come back at the other, so the jittered image holds
    exactly the same pixel values. ``step=0`` only normalises; ``step=None``: the default jitter
    scaled to the image (2 px per 32 px, see *the options* above). Default mean/std: ImageNet's,
    as in the course (``gradient_descent`` passes the model's); any other: one finite entry per
    channel, std > 0. ``img`` must be float; ``step`` an int >= 0 or None.
    """
    check_batch(img, name="img")  # type and shape only: no pass over the pixels
    step = scaled_default("jitter", *img.shape[-2:]) if step is None else step
    check_int("step", step)
    if not (_plain_stats(mean, img.shape[1]) and _plain_stats(std, img.shape[1], positive=True)):
        mean, std = channel_stats(mean, std, channels=img.shape[1])  # converts, or names what is wrong
    return normalize(img.roll(shifts=jitter_offsets(step, generator), dims=(-2, -1)), mean, std)


def _plain_stats(values, channels: int, positive: bool = False) -> bool:
    """Whether ``values`` is already a tuple of ``channels`` finite floats (> 0 if ``positive``), as
    ``gradient_descent`` passes them on every iteration: then no conversion is needed (a few Python compares)."""
    return (type(values) is tuple and len(values) == channels
            and all(type(v) is float and math.isfinite(v) and (v > 0 or not positive) for v in values))


def jitter_offsets(step: int, generator: torch.Generator | None = None) -> tuple[int, int]:
    """The (rows, columns) roll of one :func:`normalize_and_jitter` call: two ints in ``-step .. step``."""
    dy, dx = torch.randint(-step, step + 1, (2,), generator=generator).tolist()
    return dy, dx


def forward_and_return_activation(model: nn.Module, input: torch.Tensor, module: nn.Module | str) -> torch.Tensor:
    """The output of ``module`` (a sub-module of ``model``, or its name) when ``model(input)`` runs.

    The course's door to middle-layer visualisations: with ``module=model.features[20]`` and
    ``loss = lambda tensor: tensor[0, channel].mean()`` it shows what a channel responds to.
    ``input`` is what the model takes (normalised); the result has the module's output shape, e.g.
    (N, C, H', W') for a convolution. Computed with :class:`LayerOutput` (the layers after ``module``
    are skipped, the result is the same).
    """
    return LayerOutput(model, module)(input)


def input_stats(model: nn.Module, mean: Sequence[float] | None = None,
                std: Sequence[float] | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The per-channel (mean, std) ``model`` expects its input normalised with, as float tuples.

    ``mean``/``std`` when given, else the model's ``mean``/``std`` attributes, else ImageNet's
    (:data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`: what torchvision's pretrained models, e.g. the
    course's VGG-13-BN, expect). A clear error unless each holds one finite number per channel with
    every std > 0.
    """
    mean = getattr(model, "mean", IMAGENET_MEAN) if mean is None else mean
    std = getattr(model, "std", IMAGENET_STD) if std is None else std
    return channel_stats(mean, std)


def target_labels(target: Target, batch: int, num_classes: int | None = None) -> torch.Tensor | None:
    """``target`` as int64 labels (batch,), one int broadcast to every image (None stays None).

    With ``num_classes`` the labels are also checked to lie in ``0 .. num_classes - 1``.
    """
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


class LayerOutput(nn.Module):
    """Wrap ``model`` so that calling it returns the output of its sub-module ``layer``.

    ``layer`` is a name from ``model.named_modules()`` (e.g. ``"features.block2"``) or the sub-module
    itself (e.g. ``model.features[20]``); a forward hook catches the activation and stops the forward
    pass there (later layers are not computed). ``mean`` and ``std`` are passed through from ``model``.
    """

    class _Stop(Exception):
        pass

    def __init__(self, model: nn.Module, layer: str | nn.Module):
        super().__init__()
        modules = dict(model.named_modules())
        if isinstance(layer, nn.Module):
            names = [name for name, module in modules.items() if module is layer and name]
            if not names:
                raise KeyError(f"the {type(layer).__name__} given is not a sub-module of {type(model).__name__}")
            layer = names[0]
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


# ------------------------------------------------------------------------------------ the objectives

def class_loss(target: Target) -> Callable[[torch.Tensor], torch.Tensor]:
    """``out -> sum_i out[i, target_i]``: the target logits, to be raised (the course's convention).

    For one image it is the course's ``tensor[0, label].mean()``; the sum (not the mean) over a
    batch keeps each image's gradient independent of the batch size.
    """
    def loss(out: torch.Tensor) -> torch.Tensor:
        labels = target_labels(target, out.shape[0], out.shape[1]).to(out.device)
        return out.gather(1, labels[:, None]).sum()
    return loss


def channel_loss(channels: int | Sequence[int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``activation -> channel_objective(activation, channel of each image)``: what to raise for a channel."""
    def loss(activation: torch.Tensor) -> torch.Tensor:
        if activation.dim() < 2:
            raise ValueError(f"channel_loss needs an (N, C, ...) activation, got {tuple(activation.shape)}")
        index = target_labels(channels, activation.shape[0], activation.shape[1]).to(activation.device)
        return channel_objective(activation, index)
    return loss


def channel_objective(activation: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """Exercise 5.3: the scalar to raise so that image i lights up its channel ``channels[i]``.

    ``activation``: (N, C) or (N, C, H', W') (any trailing axes), the output of a layer;
    ``channels``: (N,) int64, one channel index per image. Returns a 0-d tensor: over the images,
    the sum of each image's mean activation of its channel (a mean over the trailing axes, so a
    channel's value does not depend on the layer's spatial size; a sum over the images, so each
    image's gradient does not depend on the batch size). It must stay differentiable.
    """
    ### BEGIN SOLUTION
    picked = activation[torch.arange(activation.shape[0], device=activation.device), channels]
    return picked.reshape(activation.shape[0], -1).mean(dim=1).sum()
    ### END SOLUTION


def checked_objective(loss: Callable[[torch.Tensor], torch.Tensor], out: torch.Tensor,
                      iteration: int) -> torch.Tensor:
    """``loss(out)``, the quantity the image is optimised to raise, which must be a finite scalar."""
    value = loss(out)
    if not isinstance(value, torch.Tensor) or value.dim() != 0:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"loss must return a scalar tensor (e.g. tensor[0, label].mean()), got {shape}")
    if not torch.isfinite(value):
        raise FloatingPointError(f"loss became {value.item()} at iteration {iteration}: lower lr")
    return value


# -------------------------------------------------------------------------------------- the step

def dream_step(image: torch.Tensor, energy_grad: torch.Tensor, iteration: int, *, lr: float,
               normalize_step: bool = False, grad_blur_sigma: float = 0.0, weight_decay: float = 0.0,
               centre: torch.Tensor | None = None, blur_every: int = 0, blur_sigma: float = 0.0,
               clamp: bool = False) -> torch.Tensor:
    """Exercise 5.1: one update of ``image`` (N, C, H, W) by ``energy_grad`` (same shape); the new image.

    ``energy_grad`` is the gradient of the energy (minus the objective) with respect to the image;
    ``iteration`` counts from 0. In this order, each only when its option is on (``gradient_descent``'s
    docstring defines each option): blur the gradient (``grad_blur_sigma`` > 0); normalise each image's
    step (``normalize_step``); step by ``lr`` so that the energy goes down; decay the pixels towards
    ``centre`` (1, C, 1, 1) (``weight_decay`` > 0); blur the image (``blur_sigma``) after every
    ``blur_every``-th step (``blur_every`` > 0); clamp to [0, 1] (``clamp``). Every option is off by default.
    Runs under ``torch.no_grad``.
    """
    ### BEGIN SOLUTION
    if grad_blur_sigma > 0:
        energy_grad = gaussian_blur(energy_grad, grad_blur_sigma)
    if normalize_step:
        energy_grad = energy_grad / energy_grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    image = image - lr * energy_grad  # a step *down* the energy = up the objective (the logit)
    if weight_decay > 0:
        image = centre + (1 - weight_decay) * (image - centre)
    if blur_every > 0 and (iteration + 1) % blur_every == 0:
        image = gaussian_blur(image, blur_sigma)
    if clamp:
        image = image.clamp(0, 1)
    ### END SOLUTION
    return image


# -------------------------------------------------------------------------------------- the loop

@dataclass(frozen=True)
class DreamStep:
    """One iteration of ``gradient_descent``: what ``loss`` returned and the target probability.

    ``objective`` is the value of ``loss(model output)`` at that step, the quantity being raised (the
    class logit for :func:`helpers.dream.class_loss`); ``probabilities`` holds each image's softmax
    probability of its target class on the jittered input of that step (empty when no ``target``
    was given); ``size`` is the side length the image had at that step (it grows with the octaves).
    """
    iteration: int
    size: int
    objective: float
    probabilities: tuple[float, ...]

    @property
    def energy(self) -> float:
        """``-objective``: the energy that gradient descent lowers (the course's term)."""
        return -self.objective

    @property
    def loss(self) -> float:
        """The same as :attr:`energy` (its minus is the objective, as ``plot_histories`` reads it)."""
        return self.energy

    @property
    def probability(self) -> float:
        """Mean target probability over the batch (NaN without a target)."""
        return sum(self.probabilities) / len(self.probabilities) if self.probabilities else math.nan


def history_entry(iteration: int, image: torch.Tensor, value: torch.Tensor, out: torch.Tensor,
                  labels: torch.Tensor | None) -> DreamStep:
    """The :class:`DreamStep` of one iteration: ``image`` (N, C, H, W) after the step, ``value`` the
    objective, ``out`` (N, classes) the model output before it, ``labels`` (N,) the targets or None."""
    probabilities = () if labels is None else tuple(
        out.detach().softmax(1).gather(1, labels[:, None].to(out.device)).squeeze(1).tolist())
    return DreamStep(iteration, image.shape[-2], value.item(), probabilities)


def record_step(plan: DreamPlan, iteration: int, image: torch.Tensor, value: torch.Tensor, out: torch.Tensor,
                history: list | None) -> None:
    """After one step: check the new ``image`` (N, C, H, W) is finite and append its :class:`DreamStep`
    (``value`` the objective, ``out`` (N, classes) the model output) to ``history`` when given."""
    if iteration == 0 and plan.labels is not None:  # the class count is known once the model has run
        target_labels(plan.labels, image.shape[0], out.shape[1])
    if not torch.isfinite(image).all():
        raise FloatingPointError(f"the image became NaN or inf at iteration {iteration}: lower lr")
    if history is not None:
        history.append(history_entry(iteration, image, value, out, plan.labels))


def gradient_descent(input: torch.Tensor, model: nn.Module, loss: Callable[[torch.Tensor], torch.Tensor],
                     iterations: int = 256, *, lr: float = _DEFAULT["lr"], jitter: int | None = None,
                     blur_every: int = _DEFAULT["blur_every"], blur_sigma: float | None = None,
                     clamp: bool = _DEFAULT["clamp"], weight_decay: float = _DEFAULT["weight_decay"],
                     grad_blur_sigma: float | None = None,
                     normalize_step: bool = _DEFAULT["normalize_step"], octaves: int = _DEFAULT["octaves"],
                     octave_scale: float = 1.4, target: Target = None,
                     history: list | None = None, mean: Sequence[float] | None = None,
                     std: Sequence[float] | None = None, seed: int | None = 0,
                     show_progress: bool = False) -> torch.Tensor:
    """Exercise 5.2: raise ``loss(model(normalize_and_jitter(image)))``, descending its negative (the energy).

    Args:
        input: start image(s), float (N, 3, H, W) in [0, 1]; not modified (``requires_grad`` is fine).
        model: any ``nn.Module`` mapping normalised images to outputs; it is put in eval mode and
            its parameters receive no gradient.
        loss: maps the model output to the scalar to *raise* (the course's convention), e.g.
            ``lambda tensor: tensor[0, label].mean()`` or :func:`class_loss` (a class logit).
        iterations: gradient steps in total (shared between the octaves).
        lr: step size. With ``normalize_step`` it is in pixel units: the mean |change| of a pixel per
            step; without, it multiplies the raw gradient.
        jitter: the ``step`` of :func:`normalize_and_jitter` (random roll of up to this many pixels
            each iteration; 0 = none).

    Improvements, each switchable (``**PLAIN_OPTIONS`` switches them all off, jitter included;
    ``DEFAULT_OPTIONS`` holds the defaults; ``jitter``, ``blur_sigma`` and ``grad_blur_sigma`` left at
    None take their default scaled to the image, 2, 0.5 and 1 px per 32 px: see *the options* above):
        blur_every, blur_sigma: after every ``blur_every``-th step (steps ``blur_every``, ``2 blur_every``,
            ...) blur the image with a Gaussian of ``blur_sigma`` pixels (0 = never): removes the high
            frequencies the model ignores.
        clamp: clamp the pixels to [0, 1] after every step, so the result stays a valid image.
        weight_decay: a decoupled decay of every pixel towards the model's mean colour, after the
            step: each pixel keeps the fraction ``1 - weight_decay`` of its distance from it (0 = off).
        grad_blur_sigma: blur the gradient with this sigma before the step (0 = off): smooth steps.
        normalize_step: scale each image's step so that its pixels move by ``lr`` on average (mean
            absolute change), whatever the gradient's scale.
        octaves, octave_scale: optimise first at ``H / octave_scale**(octaves-1)`` pixels and
            upsample (bilinear) ``octaves - 1`` times, the iterations split evenly: coarse
            structure first, detail last (1 = single scale).

    Recording:
        target: the target class (an int, or one per image); when given, each step's softmax
            probability of it on the jittered input is recorded.
        history: a list to which one :class:`DreamStep` per iteration is appended (objective and
            target probabilities); the return value stays the image.
        mean, std: the model's input normalisation (default: ``model.mean``, ``model.std``, else ImageNet's).
        seed: seeds the jitter (None: torch's global generator); equal seeds give equal images.
        show_progress: a progress bar over the iterations (silent when headless).

    Returns the optimised image, (N, 3, H, W), detached, on the input's device (in [0, 1] when
    ``clamp``; without it pixels may leave that range). Raises
    ``FloatingPointError`` if the loss or the image becomes NaN or inf (lower ``lr``).
    """
    plan = plan_run(locals())  # the arguments above, by name: checked once, settled into what the loop needs
    model.eval()
    image = input.detach()
    for iteration in progress(range(iterations), desc="dreaming") if show_progress else range(iterations):
        # Each iteration sets `image` (the image after the step), `out` (the model output) and `value` (the objective).
        ### BEGIN SOLUTION
        image = resize(image, plan.shapes[iteration]).requires_grad_(True)
        out = model(normalize_and_jitter(image, plan.jitter, plan.mean, plan.std, plan.generator))
        value = checked_objective(loss, out, iteration)
        (energy_grad,) = torch.autograd.grad(-value, image)  # the energy is minus the objective
        with torch.no_grad():
            image = dream_step(image.detach(), energy_grad, iteration, **plan.step_options)
        ### END SOLUTION
        record_step(plan, iteration, image, value, out, history)
    return resize(image.detach(), tuple(input.shape[-2:]))


# ------------------------------------------------------------------------- middle-layer channels

def visualize_channels(model: nn.Module, layer: str | nn.Module, channels: Sequence[int], start: torch.Tensor,
                       iterations: int = 128, **options) -> torch.Tensor:
    """Images that raise the mean activation of ``channels`` of ``layer``, one per channel.

    layer: a name from ``model.named_modules()`` or the sub-module itself; start: (1, 3, H, W) or
    (len(channels), 3, H, W) start image(s) in [0, 1]; ``options`` go to :func:`gradient_descent`
    (``history`` records the objective, no probability). Returns (len(channels), 3, H, W).
    """
    wrapped = LayerOutput(model, layer)
    channels = list(channels)
    with torch.no_grad():
        probe = wrapped(normalize(start[:1], *input_stats(model, options.get("mean"), options.get("std"))))
    if any(not 0 <= c < probe.shape[1] for c in channels):
        raise ValueError(f"layer {wrapped.layer!r} has {probe.shape[1]} channels, got channels {channels}")
    if start.dim() == 4 and start.shape[0] == 1:
        start = start.expand(len(channels), -1, -1, -1)
    return gradient_descent(start, wrapped, channel_loss(channels), iterations, **options)



# ------------------------------------------------------------------ probes of a trained classifier

@torch.no_grad()
def target_probability(image: torch.Tensor, model: nn.Module, target: Target,
                       mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> torch.Tensor:
    """Softmax probability of each image's target class, (N,), on the image as it is."""
    mean, std = input_stats(model, mean, std)
    check_image(image, channels=len(mean))
    model.eval()
    out = model(normalize(image, mean, std))
    labels = target_labels(target, image.shape[0], out.shape[1]).to(out.device)
    return out.softmax(1).gather(1, labels[:, None]).squeeze(1)


@torch.no_grad()
def robustness(image: torch.Tensor, model: nn.Module, target: Target, views: int = 32, seed: int = 0,
               mean: Sequence[float] | None = None, std: Sequence[float] | None = None, **view_options) -> torch.Tensor:
    """Mean target probability over ``views`` random shifts/zooms/flips of each image, (N,).

    Near 1: the model sees the class in the image however it is framed; an adversarial speck
    scores high on :func:`target_probability` but falls apart here. ``view_options`` go to
    :func:`helpers.data.images.random_views` (defaults: shifts up to 10 %, zoom 0.9-1.1, flips).
    """
    mean, std = input_stats(model, mean, std)
    check_image(image, channels=len(mean))
    model.eval()
    batch = random_views(image, views, seed=seed, **view_options)
    out = model(normalize(batch.flatten(0, 1), mean, std))
    labels = target_labels(target, image.shape[0], out.shape[1]).to(out.device).repeat(views)
    probabilities = out.softmax(1).gather(1, labels[:, None]).view(views, image.shape[0])
    return probabilities.mean(0)


@torch.no_grad()
def logit_margin(image: torch.Tensor, model: nn.Module, target: Target,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> torch.Tensor:
    """Target logit minus the largest other logit, per image: (N,), on the image as it is.

    Positive when the model picks the target class; unlike the probability it does not saturate at 1,
    so it still says *how much* more the model sees the target than its runner-up.
    """
    mean, std = input_stats(model, mean, std)
    check_image(image, channels=len(mean))
    model.eval()
    out = model(normalize(image, mean, std))
    labels = target_labels(target, image.shape[0], out.shape[1]).to(out.device)
    target_logit = out.gather(1, labels[:, None]).squeeze(1)
    others = out.scatter(1, labels[:, None], float("-inf"))
    return target_logit - others.max(dim=1).values


# ------------------------------------------------------------------------- which exercises are done

_EXERCISE_FUNCTIONS = {"5.1": "dream_step", "5.2": "gradient_descent", "5.3": "channel_objective"}


def _probe(exercise_id: str) -> None:
    """Call the exercise's function on a tiny input (its stub raises ExerciseNotDone); no random draw."""
    image = torch.full((1, 3, 4, 4), 0.5)
    if exercise_id == "5.1":
        dream_step(image, torch.ones_like(image), 0, lr=0.1)
    elif exercise_id == "5.2":
        gradient_descent(image, nn.Flatten(), lambda out: out.sum(), 1, lr=0.1, **PLAIN_OPTIONS)
    else:
        channel_objective(torch.ones(1, 2, 3, requires_grad=True), torch.tensor([1]))


def ready(*exercise_ids: str) -> bool:
    """Whether exercises ``exercise_ids`` ("5.1", "5.2", "5.3") are done, for a notebook cell that needs them.

    When one is still a stub it prints ``[not done yet] ...`` naming the first to do (function and file) and
    returns False: the cell's ``if dream.ready(...):`` then skips its body. A done exercise whose code raises
    another error counts as done (the cell then shows that error).
    """
    for exercise_id in exercise_ids:
        function = _EXERCISE_FUNCTIONS[exercise_id]
        try:
            with torch.random.fork_rng(devices=[]):
                _probe(exercise_id)
        except ExerciseNotDone as not_done:
            if not_done.function != function:
                continue  # its own block ran: the stub that raised is another exercise's (checked on its own)
            print(f"[not done yet] this cell needs exercise {exercise_id} (`{function}` in {not_done.path}): "
                  "do it first, then re-run this cell. Skipped.")
            return False
        except Exception:  # noqa: BLE001 - done, with a mistake: the cell itself shows it
            continue
    return True
