"""Reference results for notebook 05's exercises while they are not done yet, each computed another way.

The checks of notebook 05 (:mod:`helpers.checks.nb05_dream`) compute their expected values from these
complete solutions, each computed another way than the lesson's: the update as ``torch.optim.SGD`` computes it (``torch.lerp`` for the decay), the
input gradient at the jittered input rolled back by hand (no autograd through the roll), a channel's
objective one image at a time. Each takes the same arguments as its exercise function and returns the
same thing. Instructor only: the student edition leaves this file out (``tools.editions.INSTRUCTOR_ONLY``) and
gets the expected values for its own inputs instead.
"""
from __future__ import annotations

import inspect
from typing import Callable, Sequence

import torch

from helpers import dream
from helpers.data.cifar import normalize
from helpers.data.images import gaussian_blur, resize
from helpers.dream import checked_objective, plan_run, record_step


def step_by_add_and_lerp(image: torch.Tensor, energy_grad: torch.Tensor, iteration: int, *, lr: float,
                         normalize_step: bool = False, grad_blur_sigma: float = 0.0, weight_decay: float = 0.0,
                         centre: torch.Tensor | None = None, blur_every: int = 0, blur_sigma: float = 0.0,
                         clamp: bool = False) -> torch.Tensor:
    """Stand-in for :func:`helpers.dream.dream_step`: (N, C, H, W) image and gradient -> the new image.

    The gradient is smoothed and rescaled by its L1 norm, the step taken as ``torch.optim.SGD`` takes it
    (``torch.add`` with ``alpha``), the decay by ``torch.lerp``.
    """
    direction = gaussian_blur(energy_grad.detach(), grad_blur_sigma)  # sigma 0 leaves it as it is
    if normalize_step:
        mean_size = torch.linalg.vector_norm(direction.flatten(1), ord=1, dim=1) / direction[0].numel()
        direction = direction / mean_size.clamp_min(1e-12).view(-1, *[1] * (direction.dim() - 1))
    new = torch.add(image.detach(), direction, alpha=-lr)  # SGD's own form of the step (torch.optim imports slowly)
    if weight_decay > 0:
        new = torch.lerp(centre.expand_as(new), new, 1 - weight_decay)
    if blur_every > 0 and iteration % blur_every == blur_every - 1:
        new = gaussian_blur(new, blur_sigma)
    return torch.clip(new, min=0.0, max=1.0) if clamp else new


def energy_gradient_at_jittered_input(model: torch.nn.Module, loss: Callable[[torch.Tensor], torch.Tensor],
                                      image: torch.Tensor, offsets: tuple[int, int], mean: Sequence[float],
                                      std: Sequence[float], iteration: int = 0
                                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(energy gradient w.r.t. ``image`` (N, C, H, W), model output, objective) with the image rolled by ``offsets``.

    The gradient is taken at the jittered, normalised input (a leaf) and carried back by hand: divided
    by the per-channel ``std`` (the normalisation's slope) and rolled back by ``-offsets``.
    """
    with torch.enable_grad():
        jittered = normalize(image.detach().roll(shifts=offsets, dims=(-2, -1)), mean, std).requires_grad_(True)
        out = model(jittered)
        value = checked_objective(loss, out, iteration)
        (input_grad,) = torch.autograd.grad(value, jittered)
    spread = torch.as_tensor(std, dtype=image.dtype, device=image.device).view(1, -1, 1, 1)
    rolled_back = input_grad.roll(shifts=(-offsets[0], -offsets[1]), dims=(-2, -1))
    return -(rolled_back / spread), out.detach(), value.detach()


def descent_undoing_jitter_by_hand(*args, **kwargs) -> torch.Tensor:
    """Stand-in for :func:`helpers.dream.gradient_descent` (same arguments, same image and history).

    Each step's jitter offsets are drawn here (:func:`helpers.dream.jitter_offsets`, from the run's
    generator) and undone by :func:`energy_gradient_at_jittered_input`; the update is
    :func:`helpers.dream.dream_step`.
    """
    arguments = inspect.signature(dream.gradient_descent).bind(*args, **kwargs)
    arguments.apply_defaults()
    given = arguments.arguments
    plan = plan_run(given)
    image, model = given["input"].detach(), given["model"].eval()
    for iteration in range(given["iterations"]):
        image = resize(image, plan.shapes[iteration])
        offsets = dream.jitter_offsets(plan.jitter, plan.generator)
        energy_grad, out, value = energy_gradient_at_jittered_input(model, given["loss"], image, offsets,
                                                                    plan.mean, plan.std, iteration)
        with torch.no_grad():
            image = dream.dream_step(image, energy_grad, iteration, **plan.step_options)
        record_step(plan, iteration, image, value, out, given["history"])
    return resize(image, tuple(given["input"].shape[-2:]))


def channel_objective_one_by_one(activation: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """Stand-in for :func:`helpers.dream.channel_objective`: activation (N, C, ...), channels (N,) -> 0-d."""
    per_image = [activation[i, c].mean() for i, c in enumerate(channels.tolist())]
    return torch.stack(per_image).sum()
