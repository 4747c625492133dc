"""Figures for notebook 05 (DeepDream): image grids with captions, probability curves."""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import torch


def to_rgb(image: torch.Tensor):
    """(3, H, W) tensor in [0, 1] -> (H, W, 3) NumPy array for ``imshow`` (clipped to [0, 1])."""
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def stretch(image: torch.Tensor) -> torch.Tensor:
    """Rescale each image of (N, 3, H, W) to span [0, 1]: shows faint patterns (display only)."""
    low = image.amin(dim=(1, 2, 3), keepdim=True)
    high = image.amax(dim=(1, 2, 3), keepdim=True)
    return (image - low) / (high - low).clamp_min(1e-12)


def image_grid(images: torch.Tensor, titles: Sequence[str] = (), captions: Sequence[str] = (),
               ncols: int | None = None, size: float = 1.7, suptitle: str | None = None):
    """A figure with one image of (N, 3, H, W) per panel; ``titles`` above, ``captions`` below."""
    n = len(images)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.45) * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(to_rgb(images[i]), interpolation="nearest")
        if i < len(titles):
            ax.set_title(titles[i], fontsize=9)
        if i < len(captions):
            ax.text(0.5, -0.04, captions[i], transform=ax.transAxes, ha="center", va="top", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_histories(ax, histories: dict[str, list], quantity: str = "probability", title: str | None = None):
    """One line per run of :func:`helpers.dream.gradient_descent` against the iteration.

    ``histories`` maps a run's name to its ``history`` list of ``DreamStep``; ``quantity`` is
    ``"probability"`` (mean target probability) or ``"objective"`` (minus the loss: the target
    logit for :func:`helpers.dream.class_loss` on one image).
    """
    if quantity not in ("probability", "objective"):
        raise ValueError(f"quantity must be 'probability' or 'objective', got {quantity!r}")
    for name, history in histories.items():
        values = [step.probability if quantity == "probability" else -step.loss for step in history]
        ax.plot([step.iteration for step in history], values, label=name)
    if quantity == "probability":
        ax.set(ylabel="p(target | jittered image)", ylim=(-0.02, 1.02))
    else:
        ax.set(ylabel="−loss (target logit)")
    ax.set(xlabel="iteration", title=title or "")
    ax.legend(fontsize=8)
