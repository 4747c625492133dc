"""Maps for the rainfall task: a field (true or predicted) over Michigan's two peninsulas."""
from __future__ import annotations

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

from helpers.data.rainfall import BOUNDS, in_michigan

MAP_ASPECT = 1 / np.cos(np.radians(44.5))
"""A degree of longitude is shorter than one of latitude at Michigan's latitude: keep shapes true."""
CMAP = "viridis"


def map_grid(resolution: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lon, lat, inside)``: a regular grid over both peninsulas (``resolution`` columns) and its mask."""
    (lon_lo, lon_hi), (lat_lo, lat_hi) = BOUNDS
    rows = int(round(resolution * (lat_hi - lat_lo) / (lon_hi - lon_lo) * MAP_ASPECT))
    lon, lat = np.meshgrid(np.linspace(lon_lo, lon_hi, resolution), np.linspace(lat_lo, lat_hi, rows))
    return lon, lat, in_michigan(lon, lat)


def grid_points(lon: np.ndarray, lat: np.ndarray, inside: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    """The grid's points on land as model inputs (M, 2), in the data's (longitude, latitude) order."""
    return torch.tensor(np.stack([lon[inside], lat[inside]], axis=1), dtype=dtype)


def on_grid(values, inside: np.ndarray) -> np.ndarray:
    """Values at the land points back on the grid, NaN (blank) over water."""
    image = np.full(inside.shape, np.nan)
    image[inside] = np.asarray(values, dtype=np.float64).reshape(-1)
    return image


def plot_map(ax, lon, lat, image, title: str, vmin: float, vmax: float):
    """Draw ``image`` (NaN over water) on ``ax``; returns the mappable for a colour bar."""
    mappable = ax.pcolormesh(lon, lat, image, cmap=CMAP, vmin=vmin, vmax=vmax, shading="auto")
    _finish(ax, title)
    return mappable


def plot_points(ax, x: torch.Tensor, y: torch.Tensor, title: str, vmin: float, vmax: float):
    """Scatter the observations ``y`` at their locations ``x`` (N, 2)."""
    mappable = ax.scatter(x[:, 0], x[:, 1], c=y, s=4, cmap=CMAP, vmin=vmin, vmax=vmax, linewidths=0)
    _finish(ax, title)
    return mappable


def _finish(ax, title: str) -> None:
    (lon_lo, lon_hi), (lat_lo, lat_hi) = BOUNDS
    ax.set_xlim(lon_lo, lon_hi)
    ax.set_ylim(lat_lo, lat_hi)
    ax.set_aspect(MAP_ASPECT)
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.set_title(title)
    ax.grid(False)


def plot_curves(ax, histories, noise_floor: float | None = None) -> None:
    """Train (dashed) and validation (solid) MSE per epoch, log scale, one colour per history.

    Non-finite values (a diverged run) are left out; a vertical line marks the epoch where the run
    diverged, and runs with one or two finite points get markers (a line through one point is invisible).
    """
    last_epoch = 1
    for history, colour in zip(histories, _colours()):
        epochs = np.arange(len(history.val_mse))
        val, train = np.asarray(history.val_mse), np.asarray(history.train_mse)
        finite = np.isfinite(val) & np.isfinite(train)
        marker = "o" if finite.sum() <= 2 else None
        label = f"lr={history.lr:g}"
        ax.plot(epochs[finite], val[finite], color=colour, marker=marker, label=label + ", validation")
        ax.plot(epochs[finite], train[finite], color=colour, linestyle="--", alpha=0.7, marker=marker,
                label=label + ", train")
        if history.diverged:
            diverged_at = int(np.argmin(finite)) if not finite.all() else len(finite) - 1
            ax.axvline(diverged_at, color=colour, linestyle="-.", linewidth=1,
                       label=f"{label}: diverged at epoch {diverged_at}")
        last_epoch = max(last_epoch, len(epochs) - 1)
    if noise_floor is not None:
        ax.axhline(noise_floor, color="black", linewidth=1, linestyle=":", label="noise floor")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, last_epoch)  # at least epochs 0-1, so a run that diverged at once has an axis to sit on
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (inch²)")
    ax.legend(fontsize=7)


def _colours() -> list[str]:
    return [entry["color"] for entry in mpl.rcParams["axes.prop_cycle"]] * 4
