"""Notebook 05's improvement ladder: DeepDream from plain gradient steps to every improvement, one at a time,
and the notebook's findings written from its numbers."""
from __future__ import annotations

import torch
import torch.nn as nn

from helpers.dream import (DEFAULT_OPTIONS, PLAIN_OPTIONS, Target, logit_margin, roughness,
                           target_probability)
from helpers.runtime import edition
from helpers.runtime.exercises import HIDDEN_OBSERVATIONS


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


def ladder_scores(images: torch.Tensor, model: nn.Module, second_model: nn.Module, target: Target) -> dict[str, torch.Tensor]:
    """What a reader can check about dreamed ``images`` (N, 3, H, W) in [0, 1], each score (N,).

    ``p`` and ``margin`` (target logit minus the best other logit) on ``model``, the network the images
    were optimised against; ``transfer_p`` and ``transfer_margin`` the same on ``second_model``, an
    independently trained network that never saw the optimisation (adversarial noise rarely
    transfers to it, a picture of the class does); ``roughness`` the pixel noise of each image.
    """
    return {"p": target_probability(images, model, target), "margin": logit_margin(images, model, target),
            "transfer_p": target_probability(images, second_model, target),
            "transfer_margin": logit_margin(images, second_model, target), "roughness": roughness(images)}


def observations(rungs: list[str], scores: dict[str, torch.Tensor], adversarial: tuple[float, float, float],
                 class_scores: dict[str, torch.Tensor], accuracies: tuple[float, float]) -> str:
    """Notebook 05's findings in one Markdown paragraph.

    ``rungs``: the ladder's rung names, first = plain, last = the defaults; ``scores``: :func:`ladder_scores`
    of the rungs' images (each (rungs,)); ``adversarial``: (p(cat), robustness, second network's p(cat))
    of the attacked photo; ``class_scores``: :func:`ladder_scores` of the ten class images (each (10,));
    ``accuracies``: test accuracy of the CNN and of the second network. In the student edition,
    :data:`helpers.runtime.exercises.HIDDEN_OBSERVATIONS` instead: the student's answer.
    """
    if not edition.SHOWS_ANSWERS:
        return HIDDEN_OBSERVATIONS
    ### BEGIN SOLUTION
    transfer, rough = scores["transfer_p"], scores["roughness"]
    best = int(transfer.argmax())
    return (
        f"Every rung convinces the CNN it was optimised against (p(cat) ≥ {scores['p'].min():.4f}, logit margins "
        f"{scores['margin'].min():.1f} to {scores['margin'].max():.1f}), so those numbers cannot tell a noise pattern "
        f"from a picture. A second network trained independently (other seed, other architecture, test accuracy "
        f"{accuracies[1]:.4f} against {accuracies[0]:.4f}) can: it gives the plain dream (roughness {rough[0]:.3f}) "
        f"p(cat) = {transfer[0]:.4f} (margin {scores['transfer_margin'][0]:+.2f}), the rung '{rungs[best]}' "
        f"p(cat) = {transfer[best]:.4f} (margin {scores['transfer_margin'][best]:+.2f}, roughness {rough[best]:.3f}) "
        f"and the defaults p(cat) = {transfer[-1]:.4f} (roughness {rough[-1]:.3f}). An airplane photo pushed to "
        f"p(cat) = {adversarial[0]:.4f} in 8 small steps has robustness {adversarial[1]:.4f} and fools the second "
        f"network to p(cat) = {adversarial[2]:.4f} only. Over the ten classes the defaults give p ≥ "
        f"{class_scores['p'].min():.4f} on the CNN and p ≥ {class_scores['transfer_p'].min():.4f} (mean "
        f"{class_scores['transfer_p'].mean():.4f}) on the second network.")
    ### END SOLUTION
