"""The options of :func:`helpers.dream.gradient_descent`: their defaults, how the ones measured in
pixels follow the image's size, their checks, and the record kept of each step.

Support for :mod:`helpers.dream` (notebook 05), which re-exports the public names.

Pixel-sized options (``jitter``, ``blur_sigma``, ``grad_blur_sigma``) have their defaults stated for a
:data:`REFERENCE_SIZE` = 32-pixel image (CIFAR-10) and scaled with the image: for an image whose
shorter side has ``s`` pixels, the default is ``DEFAULT_OPTIONS[name] * s / 32`` (the jitter rounded
to whole pixels). A 224-pixel ImageNet image thus gets a jitter of 14 px, an image blur of 3.5 px and
a gradient blur of 7 px: the same blur and shift *relative to the image* that suit a 32-pixel one.
A value passed explicitly is used as given, in pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from helpers.classifier_probes import Target, input_stats, target_labels
from helpers.data.images import check_image, octave_sizes, seeded_generator
from helpers.runtime.validation import check_int, check_real

REFERENCE_SIZE = 32  # the image side, in pixels, for which DEFAULT_OPTIONS' pixel-sized values are stated
PIXEL_OPTIONS = ("jitter", "blur_sigma", "grad_blur_sigma")  # measured in pixels: scaled with the image

# gradient_descent's defaults, defined here once: the step size and every improvement switched on
# (the pixel-sized ones for a REFERENCE_SIZE image).
DEFAULT_OPTIONS = dict(lr=0.02, blur_sigma=0.5, jitter=2, blur_every=4, clamp=True, weight_decay=1e-3,
                       grad_blur_sigma=1.0, normalize_step=True, octaves=3)
# gradient_descent(..., **PLAIN_OPTIONS): plain gradient steps, every improvement switched off.
PLAIN_OPTIONS = dict(jitter=0, blur_every=0, clamp=False, weight_decay=0.0, grad_blur_sigma=0.0,
                     normalize_step=False, octaves=1)


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


def octave_schedule(height: int, width: int, iterations: int, octaves: int,
                    octave_scale: float) -> list[tuple[int, int]]:
    """The image's (height, width) at each iteration: each octave for an equal share, aspect ratio kept."""
    sizes = octave_sizes(height, octaves, octave_scale)
    octave_of = [min(iteration * octaves // iterations, octaves - 1) for iteration in range(iterations)]
    return [(sizes[octave], round(sizes[octave] * width / height)) for octave in octave_of]


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


@dataclass(frozen=True)
class DreamPlan:
    """What ``gradient_descent`` settles before its first step, from its arguments (see :func:`plan_run`).

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


def plan_run(input: torch.Tensor, model: torch.nn.Module, iterations: int, *, lr: float, jitter: int | None,
             blur_every: int, blur_sigma: float | None, clamp: bool, weight_decay: float,
             grad_blur_sigma: float | None, normalize_step: bool, octaves: int, octave_scale: float,
             target: Target, mean, std, seed: int | None) -> DreamPlan:
    """Check ``gradient_descent``'s arguments (input (N, C, H, W) in [0, 1]) and settle its :class:`DreamPlan`."""
    mean, std = input_stats(model, mean, std)
    check_image(input, channels=len(mean), name="input")
    height, width = input.shape[-2:]
    sized = pixel_options(height, width, jitter=jitter, blur_sigma=blur_sigma, grad_blur_sigma=grad_blur_sigma)
    check_options(iterations, lr, blur_every=blur_every, weight_decay=weight_decay, **sized)
    shapes = octave_schedule(height, width, iterations, octaves, octave_scale)  # checks octaves, octave_scale
    centre = torch.tensor(mean, dtype=input.dtype, device=input.device).view(1, -1, 1, 1)
    step_options = dict(lr=lr, normalize_step=normalize_step, grad_blur_sigma=sized["grad_blur_sigma"],
                        weight_decay=weight_decay, centre=centre, blur_every=blur_every,
                        blur_sigma=sized["blur_sigma"], clamp=clamp)
    return DreamPlan(mean, std, sized["jitter"], shapes, seeded_generator(seed), target_labels(target, input.shape[0]),
                     step_options)


def record_step(plan: DreamPlan, iteration: int, image: torch.Tensor, value: torch.Tensor, out: torch.Tensor,
                history: list | None) -> None:
    """After one step: check the new ``image`` (N, C, H, W) is finite and append its :class:`DreamStep`
    (``value`` the objective, ``out`` (N, classes) the model output) to ``history`` when given."""
    labels = None if plan.labels is None else target_labels(plan.labels, image.shape[0], out.shape[1])
    if not torch.isfinite(image).all():
        raise FloatingPointError(f"the image became NaN or inf at iteration {iteration}: lower lr")
    if history is not None:
        history.append(history_entry(iteration, image, value, out, labels))
