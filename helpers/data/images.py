"""Operations on batches of float images, (N, C, H, W) tensors with values in [0, 1].

Nothing here knows about a model: checking an image batch, blurring, resizing, a noise start image,
random views (shift, zoom, flip) and a roughness score. :mod:`helpers.dream` builds on them.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def seeded_generator(seed: int | None) -> torch.Generator | None:
    """A CPU generator seeded with ``seed``; ``None`` means torch's global generator."""
    return None if seed is None else torch.Generator().manual_seed(seed)


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
