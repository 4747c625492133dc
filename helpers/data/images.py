"""Operations on batches of float images, (N, C, H, W) tensors with values in [0, 1].

Nothing here knows about a model: checking an image batch and its per-channel statistics (and the
numeric options of the operations on it), blurring, resizing, a noise start image, random views (shift,
zoom, flip) and a roughness score. :mod:`helpers.dream` builds on them.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from helpers.runtime.validation import check_int, check_real


def seeded_generator(seed: int | None) -> torch.Generator | None:
    """A CPU generator seeded with ``seed``; ``None`` means torch's global generator."""
    return None if seed is None else torch.Generator().manual_seed(seed)


def check_batch(image: torch.Tensor, channels: int | None = None, name: str = "image") -> None:
    """Raise a clear error unless ``image`` is a float (N, C, H, W) tensor (C = ``channels`` when given).

    Only the type and shape: no pass over the values (see :func:`check_image` for those).
    """
    expected = f"(N, {'C' if channels is None else channels}, H, W)"
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {expected}, got {type(image).__name__}")
    if image.dim() != 4 or (channels is not None and image.shape[1] != channels):
        hint = {3: "; add the batch dimension with image.unsqueeze(0)",
                2: "; add the batch and channel dimensions with image[None, None]"}.get(image.dim(), "")
        raise ValueError(f"{name} must have shape {expected}, got {tuple(image.shape)}{hint}")
    if not image.is_floating_point():
        hint = "" if image.is_complex() else " (for uint8 pixels use image.float() / 255)"
        raise TypeError(f"{name} must be a float tensor with values in [0, 1], got {image.dtype}{hint}")


def check_image(image: torch.Tensor, channels: int = 3, name: str = "image") -> None:
    """Raise a clear error unless ``image`` is a finite float (N, channels, H, W) tensor in [0, 1]."""
    check_batch(image, channels, name)
    if image.numel() == 0:
        raise ValueError(f"{name} is empty, shape {tuple(image.shape)}: give at least one image of at least one pixel")
    if not torch.isfinite(image).all():
        raise ValueError(f"{name} contains NaN or inf")
    low, high = image.min().item(), image.max().item()
    if low < 0 or high > 1:
        raise ValueError(f"{name} values must lie in [0, 1], got min {low:.4g} and max {high:.4g}")


def _per_channel(name: str, given, positive: bool) -> tuple[float, ...]:
    """``given`` (a tuple, list, numpy array or 1-D tensor of numbers) as floats, each finite (and > 0)."""
    try:
        values = torch.as_tensor(given, dtype=torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError):
        values = None
    if values is None or values.dim() != 1:
        raise TypeError(f"{name} must be a sequence of numbers, one per channel, got {given!r}")
    if not torch.isfinite(values).all() or (positive and not (values > 0).all()):
        raise ValueError(f"{name} must hold finite numbers{' > 0' if positive else ''}, got {tuple(values.tolist())}")
    return tuple(values.tolist())


def channel_stats(mean: Sequence[float], std: Sequence[float],
                  channels: int | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``mean`` and ``std`` of a per-channel normalisation ``(x - mean) / std``, checked, as float tuples.

    Each needs one finite number per channel (``channels`` of them when given, else as many as the
    other), and every std > 0: a clear error otherwise, instead of images of NaN or inf.
    """
    mean, std = _per_channel("mean", mean, positive=False), _per_channel("std", std, positive=True)
    count = len(mean) if channels is None else channels
    if len(mean) != count or len(std) != count:
        where = "" if channels is None else f" (the image has {channels})"
        raise ValueError(f"mean and std need one entry per channel{where}, got {len(mean)} and {len(std)}")
    return mean, std


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel of (N, C, H, W) ``image`` with a Gaussian of std ``sigma`` pixels.

    Separable kernel of radius ``ceil(2 sigma)``, reflected borders; ``sigma=0`` returns ``image``.
    ``sigma`` must be a finite number >= 0.
    """
    check_real("sigma", sigma)
    if sigma == 0:
        return image
    radius = max(1, math.ceil(2 * sigma))
    radius = min(radius, image.shape[-1] - 1, image.shape[-2] - 1)  # reflect padding needs radius < size
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    weights = (weights / weights.sum()).tolist()
    # A sum of shifted copies, accumulated in place: on a CPU faster than a grouped conv2d for these
    # kernels (2.5x faster than summing new tensors at 224 px, where the blurs are run every step).
    rows = _weighted_shifts(F.pad(image, (radius, radius, 0, 0), mode="reflect"), weights, dim=-1)
    return _weighted_shifts(F.pad(rows, (0, 0, radius, radius), mode="reflect"), weights, dim=-2)


def _weighted_shifts(padded: torch.Tensor, weights: list[float], dim: int) -> torch.Tensor:
    """``sum_k weights[k] * padded`` shifted by k along ``dim``, cropped to the unpadded size."""
    size = padded.shape[dim] - len(weights) + 1
    total = weights[0] * padded.narrow(dim, 0, size)
    for k, weight in enumerate(weights[1:], start=1):
        total.add_(padded.narrow(dim, k, size), alpha=weight)
    return total


def resize(image: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to ``size`` (anti-aliased when shrinking)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(image.shape[-2:]) == size:
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def octave_sizes(size: int, octaves: int, octave_scale: float) -> list[int]:
    """Side lengths from the smallest octave up to ``size``: ``size / octave_scale**k``, k = octaves-1..0.

    ``octaves``: an int >= 1; ``octave_scale``: a finite number >= 1. No side below 8 pixels.
    """
    check_int("size", size, 1)
    check_int("octaves", octaves, 1)
    check_real("octave_scale", octave_scale, 1)
    return [max(8, round(size / octave_scale ** k)) for k in range(octaves - 1, -1, -1)]


def noise_image(n: int = 1, size: int = 32, seed: int = 0, spread: float = 0.1) -> torch.Tensor:
    """A start image: mid-grey plus uniform noise of width ``spread``, (n, 3, size, size) in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return 0.5 + spread * (torch.rand(n, 3, size, size, generator=generator) - 0.5)


def roughness(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (down plus right), per image: (N,).

    Pixel noise scores high (about 0.67 for uniform noise in [0, 1]), smooth pictures low (0 for a
    constant image): a number for how much high-frequency noise an image carries.
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
    generator = seeded_generator(seed)
    shift = (torch.rand(views, 2, generator=generator) * 2 - 1) * max_shift * 2  # grid units span 2
    low, high = scale_range
    zoom = low + (high - low) * torch.rand(views, generator=generator)
    mirror = torch.where(torch.rand(views, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(views)
    theta = torch.zeros(views, 2, 3)  # one affine map per view, in the [-1, 1] grid units of affine_grid
    theta[:, 0, 0] = mirror / zoom
    theta[:, 1, 1] = 1 / zoom
    theta[:, :, 2] = shift
    n = image.shape[0]
    theta = theta.to(image).repeat_interleave(n, dim=0)
    batch = image.repeat(views, 1, 1, 1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out.view(views, *image.shape)
