"""CIFAR-10 as uint8 tensors, from the best source available, cached under ``data/cache``.

Sources, tried in this order:

1. ``torchvision.datasets.CIFAR10`` already under ``data/`` (``data/cifar-10-batches-py``), or under
   the folder ``$BACKPROP_LAB_CIFAR10`` points at;
2. the offline JPEG copy ``cifar10-images.tar.gz`` (ImageFolder layout, see
   ``../shared/datasets/README.md``), found at ``$BACKPROP_LAB_CIFAR10`` (the archive itself or its
   folder) or in the shared datasets folder; its sha256 is verified before it is extracted into
   ``data/cache`` (checked against its member list, see :mod:`helpers.data.extraction`) and read
   with ``torchvision.datasets.ImageFolder``, each file checked against its sha256 in the archive (a damaged
   one is named and the folder extracted again);
3. a download with torchvision (``download=True``) for users who are online;

and otherwise a :class:`FileNotFoundError` that says where to put the data (also when
``$BACKPROP_LAB_CIFAR10`` is set but holds neither form). ``$BACKPROP_LAB_DATA`` moves ``data/``.

Whatever the source, images come back in one canonical order: by label, then in the order of the
original batches within a label (the JPEG copy's file order), so splits made from them are the same.
The JPEG copy differs from the original pixels by a few grey levels (JPEG re-encoding); labels and
image identity are exact.

The tensor caches are verified (sha256, dtypes, shapes) before use and rebuilt when they fail
(:mod:`helpers.data.cache`).

``CIFAR_MEAN`` / ``CIFAR_STD`` are the training images' channel statistics, and :func:`normalize`
standardises images with them (the input the CIFAR-10 CNN of :mod:`helpers.models.cnn` expects).
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from helpers.data.cache import cached_tensors
from helpers.data.checksums import sha256_of, verify_sha256  # noqa: F401 (part of this module's API)
from helpers.data.extraction import with_extraction
from helpers.data.paths import cache_dir, data_dir, shared_datasets_dir
from helpers.runtime.progress import progress

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# Per-channel mean and standard deviation of the CIFAR-10 training images (values in [0, 1]).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

ARCHIVE_NAME = "cifar10-images.tar.gz"
ARCHIVE_SHA256 = "902f7d169c17b367f6f2f62c06bcdb81dcde7ba278bbed370554311d65252d2c"
CIFAR_ENV = "BACKPROP_LAB_CIFAR10"
SPLITS = ("train", "test")
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
CACHE_VERSION = 1


def normalize(images: torch.Tensor, mean=CIFAR_MEAN, std=CIFAR_STD) -> torch.Tensor:
    """(N, C, H, W) float images in [0, 1] -> ``(images - mean) / std`` per channel (default: CIFAR-10's)."""
    mean = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - mean) / std


def _env_path() -> Path | None:
    value = os.environ.get(CIFAR_ENV)
    return Path(value).expanduser() if value else None


def _torchvision_root_at(path: Path) -> Path | None:
    """The folder holding ``cifar-10-batches-py`` that ``path`` names (it or its parent), if any."""
    root = path.parent if path.name == "cifar-10-batches-py" else path
    return root if (root / "cifar-10-batches-py").is_dir() else None


def _archive_at(path: Path) -> Path | None:
    """The archive that ``path`` names (the file itself, or a folder containing it), if any."""
    candidate = path if path.suffix == ".gz" else path / ARCHIVE_NAME
    return candidate if candidate.is_file() else None


def _torchvision_roots() -> list[Path]:
    env = _env_path()
    roots = [_torchvision_root_at(env)] if env is not None else []
    roots.append(_torchvision_root_at(data_dir()))
    return [root for root in roots if root is not None]


def find_archive() -> Path | None:
    """The offline JPEG archive, from ``$BACKPROP_LAB_CIFAR10`` or the shared datasets folder."""
    env = _env_path()
    candidates = [_archive_at(env)] if env is not None else []
    shared = shared_datasets_dir()
    if shared is not None:
        candidates.append(_archive_at(shared))
    return next((c for c in candidates if c is not None), None)


def _canonical_order(images: torch.Tensor, labels: torch.Tensor):
    order = torch.sort(labels, stable=True).indices
    return images[order].contiguous(), labels[order].contiguous()


def _from_torchvision(root: Path, split: str, download: bool):
    from torchvision.datasets import CIFAR10
    dataset = CIFAR10(str(root), train=(split == "train"), download=download)
    images = torch.from_numpy(np.ascontiguousarray(dataset.data)).permute(0, 3, 1, 2)
    return _canonical_order(images, torch.tensor(dataset.targets, dtype=torch.int64))


def _decoder(read: Callable[[str], bytes]) -> Callable[[str], np.ndarray]:
    """An ImageFolder loader: the file's bytes through ``read`` (which checks them), decoded to RGB; a file
    that does not decode is an error naming it."""
    from PIL import Image

    def decode(path: str) -> np.ndarray:
        data = read(path)
        try:
            return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        except OSError as error:  # PIL's own message names no file
            raise ValueError(f"cannot decode {path}: {error}") from error
    return decode


def _from_image_folder(folder: Path, split: str, read: Callable[[str], bytes]):
    from torchvision.datasets import ImageFolder
    dataset = ImageFolder(str(folder / split), loader=_decoder(read))
    if tuple(dataset.classes) != CLASSES:
        raise ValueError(f"{folder / split} has classes {dataset.classes}, expected {list(CLASSES)}")
    images = np.empty((len(dataset), 32, 32, 3), dtype=np.uint8)
    for i in progress(range(len(dataset)), desc=f"decoding CIFAR-10 {split}", leave=False):
        images[i] = dataset[i][0]
    labels = torch.tensor(dataset.targets, dtype=torch.int64)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), labels


def _check_env_target() -> None:
    """A ``$BACKPROP_LAB_CIFAR10`` that holds neither form is a mistake worth a clear message."""
    env = _env_path()
    if env is not None and _torchvision_root_at(env) is None and _archive_at(env) is None:
        raise FileNotFoundError(
            f"${CIFAR_ENV} is {env}, which holds neither the torchvision copy (a folder containing "
            f"cifar-10-batches-py) nor the archive {ARCHIVE_NAME} (the file, or a folder containing it). "
            f"Fix the path or unset ${CIFAR_ENV}.")


def _load_uncached(split: str, download: bool):
    _check_env_target()
    roots = _torchvision_roots()
    if roots:
        return _from_torchvision(roots[0], split, download=False), f"torchvision:{roots[0]}"
    archive = find_archive()
    if archive is not None:
        images = with_extraction(archive, ARCHIVE_SHA256, cache_dir() / "cifar10-images",
                                 lambda folder, read: _from_image_folder(folder, split, read))
        return images, f"archive:{archive}"
    if download:
        try:
            return _from_torchvision(data_dir(), split, download=True), "torchvision-download"
        except Exception as error:  # no network, or the host is down
            reason = f" (download failed: {error})"
    else:
        reason = ""
    raise FileNotFoundError(
        "CIFAR-10 not found" + reason + ". Do one of: run online once (it downloads to "
        f"{data_dir()}/cifar-10-batches-py); put the python version of CIFAR-10 there; or put "
        f"{ARCHIVE_NAME} in ../shared/datasets/ or point ${CIFAR_ENV} at it.")


def load_cifar10(split: str, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``split`` ('train' or 'test') as ``(images, labels)``.

    images: uint8, shape (N, 3, 32, 32); labels: int64, shape (N,), values 0..9 (see ``CLASSES``);
    N = 50,000 (train) or 10,000 (test). The first call reads the source (tens of seconds for the
    JPEG copy) and caches a tensor file; later calls load it in well under a second.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")

    def build():
        (images, labels), source = _load_uncached(split, download)
        if images.shape != (SPLIT_SIZES[split], 3, 32, 32) or images.dtype != torch.uint8:
            raise ValueError(f"unexpected CIFAR-10 {split} tensor {tuple(images.shape)} {images.dtype} from "
                             f"{source}: expected uint8 ({SPLIT_SIZES[split]}, 3, 32, 32); the source is incomplete")
        return {"images": images, "labels": labels, "source": source}

    n = SPLIT_SIZES[split]
    spec = {"images": (torch.uint8, (n, 3, 32, 32)), "labels": (torch.int64, (n,))}
    stored = cached_tensors(cache_dir() / f"cifar10_{split}_v{CACHE_VERSION}.pt", build, spec)
    return stored["images"], stored["labels"]
