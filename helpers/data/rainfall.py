"""The rainfall regression data: a synthetic stand-in for the course's (non-public) Michigan file.

Inputs are places in Michigan, ``x = (longitude °E, latitude °N)``, drawn uniformly over outlines of
the Lower and the Upper Peninsula. Targets are annual precipitation relative to the Michigan
average, in inches: a smooth field shaped like the real climatology (wetter south, a lake-effect belt
downwind of Lake Michigan, the Lake Superior snow belt with the Keweenaw and the Marquette highlands,
a drier north-east and Thumb) plus Gaussian noise of known variance :data:`NOISE_VARIANCE`. No model
can beat that noise on average, so it is the *noise floor* of the test MSE.

``data/rainfall.pt`` holds ``x_train`` (N, 2), ``y_train`` (N,), ``x_val``, ``y_val``, ``x_test``
(float32); the test targets live apart in ``data/rainfall_test_targets.pt`` (``y_test`` and the
noise-free ``f_test``), for scoring only. ``python -m helpers.data.rainfall`` rewrites both files bit for
bit; loading checks their sha256 before unpickling anything.
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np
import torch

from helpers.data.checksums import sha256_of, verify_sha256
from helpers.data.paths import DATA_ENV, data_dir
from helpers.runtime.writable import writing_in

SEED = 849
SPLIT_SIZES = {"train": 3000, "val": 1000, "test": 3000}
NOISE_STD = 1.5
NOISE_VARIANCE = NOISE_STD ** 2
"""Variance (inch²) of the Gaussian noise on every target: the best achievable expected MSE."""

DATA_FILE = "rainfall.pt"
TARGETS_FILE = "rainfall_test_targets.pt"
DATA_SHA256 = "eece121341f77e6d33331fef319a4cffced6523b9b4a7643b404184937e72929"
TARGETS_SHA256 = "e1d1f07e8f12ccea4fe4ed08ab877f2b4e6a9ecda8775d6eb6d0efeff37d2b6f"

# Outlines (longitude, latitude), simplified to a few dozen vertices, counter-clockwise.
LOWER_PENINSULA = (
    (-86.82, 41.76), (-84.81, 41.76), (-83.45, 41.73), (-83.12, 42.05), (-83.08, 42.30), (-82.87, 42.45),
    (-82.47, 42.90), (-82.42, 43.00), (-82.52, 43.60), (-82.93, 44.05), (-83.35, 43.90), (-83.90, 43.60),
    (-83.70, 44.00), (-83.35, 44.30), (-83.30, 44.70), (-83.30, 45.05), (-83.80, 45.40), (-84.40, 45.65),
    (-84.75, 45.78), (-85.05, 45.70), (-84.95, 45.38), (-85.30, 45.30), (-85.60, 45.15), (-86.05, 44.90),
    (-86.25, 44.65), (-86.33, 44.25), (-86.45, 43.95), (-86.45, 43.60), (-86.25, 43.23), (-86.21, 42.80),
    (-86.28, 42.40), (-86.48, 42.12),
)
UPPER_PENINSULA = (
    (-90.42, 46.57), (-89.90, 46.78), (-89.31, 46.90), (-88.60, 47.15), (-88.20, 47.38), (-87.90, 47.47),
    (-88.25, 47.18), (-88.45, 46.85), (-87.95, 46.90), (-87.40, 46.54), (-86.65, 46.42), (-86.00, 46.67),
    (-84.97, 46.77), (-85.00, 46.50), (-84.35, 46.50), (-84.10, 46.25), (-83.60, 46.10), (-84.00, 45.95),
    (-84.72, 45.86), (-85.45, 46.09), (-86.25, 45.96), (-86.60, 45.70), (-87.05, 45.76), (-87.60, 45.10),
    (-87.80, 45.35), (-88.07, 45.80), (-88.70, 46.00), (-89.60, 46.20), (-90.12, 46.34),
)
PENINSULAS = (LOWER_PENINSULA, UPPER_PENINSULA)
BOUNDS = ((-90.5, -82.3), (41.6, 47.6))
"""(longitude range, latitude range) enclosing both peninsulas."""


def _inside(polygon, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Even-odd ray casting (only +, -, *, /, comparisons: bit-exact on every machine)."""
    inside = np.zeros(lon.shape, dtype=bool)
    vertices = list(polygon)
    for (x1, y1), (x2, y2) in zip(vertices, vertices[1:] + vertices[:1]):
        crosses = (y1 > lat) != (y2 > lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (x2 - x1) * (lat - y1) / (y2 - y1)
        inside ^= crosses & (lon < x_cross)
    return inside


def in_michigan(lon, lat) -> np.ndarray:
    """Boolean mask: which (lon, lat) points lie on one of the two peninsulas."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    return _inside(LOWER_PENINSULA, lon, lat) | _inside(UPPER_PENINSULA, lon, lat)


def _bump(lon, lat, lon0, lat0, width_lon, width_lat):
    return np.exp(-(((lon - lon0) / width_lon) ** 2 + ((lat - lat0) / width_lat) ** 2))


def raw_field(lon, lat) -> np.ndarray:
    """Annual precipitation anomaly (inches) before centring on the Michigan average; noise-free."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    lower = 1 / (1 + np.exp((lat - 45.9) / 0.15))   # ~1 on the Lower Peninsula, ~0 north of the Straits
    gulf_moisture = -1.8 * np.tanh((lat - 44.0) / 1.5)  # wetter towards the south
    lake_michigan = 3.0 * np.exp(-((lon + 86.2) / 0.9) ** 2) * lower   # lake-effect belt, decays inland
    superior = (2.5 * np.exp(-((lat - 46.9) / 0.45) ** 2)             # snow belt along the south shore
                + 2.0 * _bump(lon, lat, -88.4, 47.1, 0.6, 0.4)         # Keweenaw
                + 1.5 * _bump(lon, lat, -87.1, 46.45, 0.7, 0.35))      # Marquette-Munising highlands
    dry = (-2.5 * _bump(lon, lat, -83.9, 44.9, 0.8, 0.6)               # north-east Lower Peninsula
           - 1.5 * _bump(lon, lat, -83.0, 43.8, 0.5, 0.4))             # the Thumb
    return gulf_moisture + lake_michigan + superior + dry


def sample_locations(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform over the two peninsulas (rejection sampling), shape (n, 2), float64."""
    (lon_lo, lon_hi), (lat_lo, lat_hi) = BOUNDS
    chunks, count = [], 0
    while count < n:
        lon = lon_lo + (lon_hi - lon_lo) * rng.random(4 * n)
        lat = lat_lo + (lat_hi - lat_lo) * rng.random(4 * n)
        keep = in_michigan(lon, lat)
        chunks.append(np.stack([lon[keep], lat[keep]], axis=1))
        count += int(keep.sum())
    return np.concatenate(chunks)[:n]


def _stored_locations(seed: int) -> tuple[np.random.Generator, np.ndarray]:
    """The random generator after sampling, and every split's locations as stored (float32 values)."""
    rng = np.random.default_rng(seed)
    x = sample_locations(sum(SPLIT_SIZES.values()), rng)
    return rng, x.astype(np.float32).astype(np.float64)


def generate(seed: int = SEED) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The data set and its test targets, as written to the two files (deterministic in ``seed``)."""
    rng, x = _stored_locations(seed)
    sizes = list(SPLIT_SIZES.values())
    field = raw_field(x[:, 0], x[:, 1])
    field -= field.mean()                       # relative to the Michigan average
    y = field + NOISE_STD * rng.standard_normal(len(field))
    splits = np.cumsum(sizes)[:-1]
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    (x_train, x_val, x_test), (y_train, y_val, y_test) = np.split(x, splits), np.split(y, splits)
    data = dict(x_train=as_tensor(x_train), y_train=as_tensor(y_train), x_val=as_tensor(x_val),
                y_val=as_tensor(y_val), x_test=as_tensor(x_test))
    targets = dict(y_test=as_tensor(y_test), f_test=as_tensor(np.split(field, splits)[2]))
    return data, targets


@functools.lru_cache(maxsize=None)
def field_offset(seed: int = SEED) -> float:
    """The constant subtracted from :func:`raw_field` so that the sampled points average zero."""
    x = _stored_locations(seed)[1]
    return float(raw_field(x[:, 0], x[:, 1]).mean())


def rainfall_field(lon, lat, seed: int = SEED) -> np.ndarray:
    """The noise-free target field (inches relative to the Michigan average) at any (lon, lat)."""
    return raw_field(lon, lat) - field_offset(seed)


def write(folder: Path | None = None) -> tuple[Path, Path]:
    """Generate and save both files under ``folder`` (default ``data/``); returns their paths."""
    folder = Path(folder) if folder is not None else data_dir()
    data, targets = generate()
    paths = folder / DATA_FILE, folder / TARGETS_FILE
    with writing_in(folder, DATA_ENV, f"{DATA_FILE} and {TARGETS_FILE}"):
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(data, paths[0])
        torch.save(targets, paths[1])
    return paths


def _load_verified(path: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found. It ships with the course under data/; regenerate it "
                                "with `python -m helpers.data.rainfall`.")
    verify_sha256(path, expected_sha256, "Regenerate it with `python -m helpers.data.rainfall`.")  # before unpickling
    return torch.load(path, weights_only=True)


def load_rainfall(folder: Path | None = None) -> dict[str, torch.Tensor]:
    """``x_train`` (3000, 2), ``y_train`` (3000,), ``x_val`` (1000, 2), ``y_val`` (1000,), ``x_test`` (3000, 2)."""
    folder = Path(folder) if folder is not None else data_dir()
    return _load_verified(folder / DATA_FILE, DATA_SHA256)


def load_test_targets(folder: Path | None = None) -> dict[str, torch.Tensor]:
    """For scoring only: ``y_test`` (3000,) and the noise-free field ``f_test`` (3000,)."""
    folder = Path(folder) if folder is not None else data_dir()
    return _load_verified(folder / TARGETS_FILE, TARGETS_SHA256)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.data.rainfall", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder to write into (default: data/)")
    args = parser.parse_args(argv)
    status = 0
    for path, expected in zip(write(args.out), (DATA_SHA256, TARGETS_SHA256)):
        digest = sha256_of(path)
        if digest == expected:
            print(f"wrote {path}: sha256 {digest} (bit for bit the committed file)")
        else:
            status = 1
            print(f"wrote {path}: sha256 {digest} DIFFERS from the expected {expected}; if the generator "
                  "changed on purpose, update the constant in helpers/rainfall.py", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
