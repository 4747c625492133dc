"""Image figures: a grid of images with titles and captions (notebooks 04 and 05), and the
probability curves of DeepDream runs (notebook 05)."""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import torch


def to_rgb(image: torch.Tensor):
    """(3, H, W) tensor -> (H, W, 3) NumPy array for ``imshow``: uint8 pixels scaled by 1/255, then
    clipped to [0, 1]."""
    image = image.detach()
    image = image.float() / 255 if image.dtype == torch.uint8 else image.float()
    return image.clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def stretch(image: torch.Tensor) -> torch.Tensor:
    """Rescale each image of (N, 3, H, W) to span [0, 1]: shows faint patterns (display only)."""
    low = image.amin(dim=(1, 2, 3), keepdim=True)
    high = image.amax(dim=(1, 2, 3), keepdim=True)
    return (image - low) / (high - low).clamp_min(1e-12)


_CHAR_WIDTH = 0.6  # a caption character's width, in units of its font size (a safe over-estimate)
_LINE_HEIGHT = 1.35  # a text line's height, in units of its font size


def _fit_caption(caption: str, width_inches: float, fontsize: float) -> str:
    """``caption`` with its " · "-separated parts on their own lines when it is wider than the panel."""
    if len(caption) * _CHAR_WIDTH * fontsize / 72 <= width_inches:
        return caption
    return "\n".join(caption.split(" · "))


def image_grid(images: torch.Tensor, titles: Sequence[str] = (), captions: Sequence[str] = (),
               ncols: int | None = None, size: float = 1.7, suptitle: str | None = None, *,
               text_height: float | None = None, fontsize: float = 9):
    """A figure with one image of (N, 3, H, W) per panel (uint8, or floats shown clipped to [0, 1]).

    ``titles`` go above the images and ``captions`` below (each empty or one per image); a caption
    wider than its panel is broken at its " · " separators. ``ncols`` panels per row (default: all
    in one row), each ``size`` inches wide, plus ``text_height`` inches per row for the titles and
    captions (default: just what their lines need). Titles are set in ``fontsize`` points, captions
    one smaller.
    """
    n = len(images)
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) images, got shape {tuple(images.shape)}")
    for name, texts in (("titles", titles), ("captions", captions)):
        if len(texts) not in (0, n):
            raise ValueError(f"{name}: expected one per image ({n}) or none, got {len(texts)}")
    ncols = ncols or n
    nrows = max(1, math.ceil(n / ncols))
    captions = [_fit_caption(caption, size, fontsize - 1) for caption in captions]
    if text_height is None:
        title_lines = max((title.count("\n") + 1 for title in titles), default=0)
        caption_lines = max((caption.count("\n") + 1 for caption in captions), default=0)
        text_height = 0.1 + _LINE_HEIGHT * (title_lines * fontsize + caption_lines * (fontsize - 1)) / 72
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + text_height) * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(to_rgb(images[i]), interpolation="nearest")
        if titles:
            ax.set_title(titles[i], fontsize=fontsize)
        if captions:
            ax.text(0.5, -0.04, captions[i], transform=ax.transAxes, ha="center", va="top", fontsize=fontsize - 1)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_histories(ax, histories: dict[str, list], quantity: str = "probability", title: str | None = None):
    """One line per run of :func:`helpers.dream.gradient_descent` against the iteration.

    ``histories`` maps a run's name to its ``history`` list of ``DreamStep``; ``quantity`` is
    ``"probability"`` (mean target probability) or ``"objective"`` (what the loss returns and
    gradient descent raises: the target logit for :func:`helpers.dream.class_loss` on one image).
    """
    if quantity not in ("probability", "objective"):
        raise ValueError(f"quantity must be 'probability' or 'objective', got {quantity!r}")
    for name, history in histories.items():
        values = [step.probability if quantity == "probability" else step.objective for step in history]
        ax.plot([step.iteration for step in history], values, label=name)
    if quantity == "probability":
        ax.set(ylabel="p(target | jittered image)", ylim=(-0.02, 1.02))
    else:
        ax.set(ylabel="−loss (target logit)")
    ax.set(xlabel="iteration", title=title or "")
    ax.legend(fontsize=8)
