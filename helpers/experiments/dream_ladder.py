"""Notebook 05's improvement ladder: DeepDream from plain gradient steps to every improvement, one at a time,
and the notebook's findings written from its numbers."""
from __future__ import annotations

import torch

from helpers.dream import DEFAULT_OPTIONS, PLAIN_OPTIONS


def improvement_ladder(plain_lr: float) -> list[tuple[str, dict]]:
    """``(name, options changed)`` per rung; applying every rung's changes in turn gives exactly
    :data:`helpers.dream.DEFAULT_OPTIONS` at the last rung.

    ``plain_lr`` is the first rung's step size on the raw gradient; from the normalised step on, ``lr``
    is the default one (pixels per step).
    """
    defaults = DEFAULT_OPTIONS
    return [("plain", dict(PLAIN_OPTIONS, lr=plain_lr)),
            ("+ normalised step", dict(normalize_step=True, lr=defaults["lr"])),
            ("+ clamp", dict(clamp=True)),
            ("+ jitter", dict(jitter=defaults["jitter"])),
            ("+ weight decay", dict(weight_decay=defaults["weight_decay"])),
            ("+ image blur", dict(blur_every=defaults["blur_every"])),
            ("+ gradient blur", dict(grad_blur_sigma=defaults["grad_blur_sigma"])),
            ("+ octaves", dict(octaves=defaults["octaves"]))]


def observations(probability: torch.Tensor, robustness: torch.Tensor, roughness: torch.Tensor,
                 adversarial: tuple[float, float], class_probability: torch.Tensor,
                 class_robustness: torch.Tensor, test_accuracy: float) -> str:
    """Notebook 05's findings in one Markdown paragraph.

    ``probability``, ``robustness``, ``roughness``: (rungs,) per rung of the ladder, first = plain, last =
    defaults; ``adversarial``: (p(cat), robustness) of the attacked photo; ``class_*``: (10,) over the classes.
    """
    plain, best = 0, len(probability) - 1
    return (
        f"Plain gradient descent on the input image reaches p(cat) = {probability[plain]:.4f} with a noisy mosaic "
        f"(roughness {roughness[plain]:.3f}); with every improvement (the defaults) p(cat) = "
        f"{probability[best]:.4f} and the roughness falls to {roughness[best]:.3f}. Robustness (mean p over 32 "
        f"shifted, zoomed and mirrored views) is {robustness[plain]:.4f} for the plain dream and "
        f"{robustness[best]:.4f} for the default one, but only {adversarial[1]:.4f} for an airplane photo pushed "
        f"to p(cat) = {adversarial[0]:.4f} in 8 small steps. Over the ten classes the defaults give p ≥ "
        f"{class_probability.min():.4f} and robustness ≥ {class_robustness.min():.4f}. The classifier (CifarCNN) "
        f"has test accuracy {test_accuracy:.4f}.")
