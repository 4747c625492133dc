"""CIFAR-10 cat vs car at 16×16 RGB (768 inputs): splits, normalisation, augmented batches.

Label mapping (documented once, used everywhere): ``0 = cat`` (CIFAR-10 label 3, "cat") and
``1 = car`` (CIFAR-10 label 1, "automobile"); see :data:`CLASS_NAMES` and :data:`CIFAR_LABELS`.

* train / val: the 10,000 CIFAR-10 training images of the two classes, split per class (stratified)
  with a seeded permutation; by default 8,000 / 2,000, i.e. 4,000 / 1,000 of each class.
* test: the 2,000 CIFAR-10 test images of the two classes (1,000 each), never used for choices.

Images are shrunk 32×32 → 16×16 by averaging each 2×2 block ("area" resizing, the antialiased
choice: every original pixel counts once). The subset is cached in ``data/cache`` the first time
(a few seconds) and loads in well under a second afterwards; delete ``data/cache/catcar_v1.pt`` to
rebuild it (e.g. after adding the torchvision copy of CIFAR-10).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from helpers.data.cache import cached_tensors
from helpers.data.cifar import CLASSES as CIFAR_CLASSES
from helpers.data.cifar import load_cifar10, normalize
from helpers.data.paths import cache_dir

CLASS_NAMES = ("cat", "car")
CIFAR_LABELS = (CIFAR_CLASSES.index("cat"), CIFAR_CLASSES.index("automobile"))  # (3, 1)
IMAGE_SIZE = 16  # 3 × 16 × 16 = 768 inputs
DEFAULT_VAL_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 265
CACHE_VERSION = 1
# dtype and shape of every cached tensor; n_train and n_test are the numbers of cats and cars
_CACHE_SPEC = {key: spec for split in ("train", "test") for key, spec in (
    (f"{split}_images32", (torch.uint8, (f"n_{split}", 3, 32, 32))),
    (f"{split}_images16", (torch.float32, (f"n_{split}", 3, IMAGE_SIZE, IMAGE_SIZE))),
    (f"{split}_cifar_index", (torch.int64, (f"n_{split}",))),
    (f"{split}_labels", (torch.int64, (f"n_{split}",))))}


@dataclass(frozen=True)
class Split:
    """One split of the cat/car data.

    images: (N, 3, 16, 16) float32 in [0, 1] (not normalised); labels: (N,) int64, 0 = cat, 1 = car;
    originals: (N, 3, 32, 32) uint8, the same images at full size (for display);
    cifar_index: (N,) int64, each image's index in :func:`helpers.data.cifar.load_cifar10`'s split.
    """
    images: torch.Tensor
    labels: torch.Tensor
    originals: torch.Tensor
    cifar_index: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> "Split":
        return Split(self.images[index], self.labels[index], self.originals[index], self.cifar_index[index])

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels, minlength=len(CLASS_NAMES))
        return {name: int(count) for name, count in zip(CLASS_NAMES, counts)}


@dataclass(frozen=True)
class CatCarData:
    """train, val and test :class:`Split`\\ s plus the per-channel statistics of the training split.

    mean, std: (3,) float32, per RGB channel over every pixel of ``train.images`` (16×16, [0, 1] scale).
    """
    train: Split
    val: Split
    test: Split
    mean: torch.Tensor
    std: torch.Tensor

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> (N, 3, H, W) with the training split's channels at mean 0, std 1."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (N, 3, H, W), got {tuple(images.shape)}")
        return normalize(images, self.mean, self.std)

    def inputs(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised images (N, 3, 16, 16) and labels (N,) of ``split`` ('train', 'val' or 'test')."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        part = getattr(self, split)
        return self.normalize(part.images), part.labels


def shrink(images: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """(N, 3, 32, 32) uint8 -> (N, 3, size, size) float32 in [0, 1], averaging blocks of pixels."""
    if images.dim() != 4 or images.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images of shape (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    return F.interpolate(images.float().div_(255), size=(size, size), mode="area")


def _select_classes(split: str) -> dict[str, torch.Tensor]:
    images, cifar_labels = load_cifar10(split)
    keep = (cifar_labels == CIFAR_LABELS[0]) | (cifar_labels == CIFAR_LABELS[1])
    index = torch.nonzero(keep).squeeze(1)
    labels = (cifar_labels[index] == CIFAR_LABELS[1]).long()  # car -> 1, cat -> 0
    originals = images[index].clone()
    return {f"{split}_images32": originals, f"{split}_images16": shrink(originals),
            f"{split}_cifar_index": index, f"{split}_labels": labels}


def _load_subset() -> dict[str, torch.Tensor]:
    """The cat and car images of both CIFAR-10 splits at 32×32 and 16×16, cached under ``data/cache``."""
    return cached_tensors(cache_dir() / f"catcar_v{CACHE_VERSION}.pt",
                          lambda: {**_select_classes("train"), **_select_classes("test")}, _CACHE_SPEC)


def stratified_split(labels: torch.Tensor, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, val) into ``labels`` (N,) int64 >= 0: two sorted int64 tensors that together hold
    every index once, with ``round(val_fraction * n_c)`` of the n_c images of every class c in val, drawn at
    random with a ``torch.Generator`` seeded by ``seed`` (so the same seed gives the same split)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be strictly between 0 and 1, got {val_fraction}")
    if labels.dim() != 1 or labels.dtype != torch.int64 or (len(labels) and labels.min() < 0):
        raise ValueError(f"labels must be a 1-D int64 tensor of class numbers >= 0, got {labels.dtype} "
                         f"{tuple(labels.shape)}")
    generator = torch.Generator().manual_seed(seed)
    train_parts, val_parts = [], []
    ### BEGIN SOLUTION
    for label in torch.unique(labels):  # per class: the split keeps each class's share in both parts
        members = torch.nonzero(labels == label).squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        n_val = round(val_fraction * len(members))
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    ### END SOLUTION
    return torch.sort(torch.cat(train_parts)).values, torch.sort(torch.cat(val_parts)).values


def load_catcar(val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = DEFAULT_SPLIT_SEED) -> CatCarData:
    """Cat vs car: stratified seeded train/val split of the 10,000 training images, the 2,000 test images.

    Returns a :class:`CatCarData`; ``mean`` and ``std`` come from the training split only, so no
    information from val or test leaks into the preprocessing.
    """
    stored = _load_subset()

    def whole(split: str) -> Split:
        return Split(stored[f"{split}_images16"], stored[f"{split}_labels"], stored[f"{split}_images32"],
                     stored[f"{split}_cifar_index"])

    full_train, test = whole("train"), whole("test")
    train_index, val_index = stratified_split(full_train.labels, val_fraction, seed)
    train = full_train.subset(train_index)
    mean = train.images.mean(dim=(0, 2, 3))
    std = train.images.std(dim=(0, 2, 3))
    return CatCarData(train, full_train.subset(val_index), test, mean, std)


def flip_and_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips (p = 1/2) and integer shifts of up to ``max_shift`` pixels per axis.

    images: (N, C, H, W), normalised (the border revealed by a shift is filled with 0, the mean
    colour). Returns a new (N, C, H, W) tensor; one flip and one (dy, dx) drawn per image.
    """
    return _flip_and_crop(F.pad(images, (max_shift,) * 4), max_shift, generator)


def _flip_and_crop(padded: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """(N, C, H + 2s, W + 2s) -> (N, C, H, W): each image's window at a random offset, mirrored with p = 1/2.

    One gather does it all (the flip is a window read right to left), which keeps an epoch's
    augmentation cheap next to the training itself.
    """
    n, channels, padded_height, padded_width = padded.shape
    height, width = padded_height - 2 * max_shift, padded_width - 2 * max_shift
    flip = torch.rand(n, generator=generator) < 0.5
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    cols = torch.arange(width).expand(n, width)
    cols = torch.where(flip.view(n, 1), cols.flip(1), cols) + dx.view(n, 1)
    rows = torch.arange(height).view(1, height) + dy.view(n, 1)
    flat_index = (rows.view(n, height, 1) * padded_width + cols.view(n, 1, width)).view(n, 1, height * width)
    windows = padded.flatten(2).gather(2, flat_index.expand(n, channels, height * width))
    return windows.view(n, channels, height, width)


class BatchLoader:
    """Mini-batches ``(x, y)`` from in-memory tensors; an iterable like a ``DataLoader``, but faster.

    images: (N, ...) inputs; labels: (N,). Each pass (epoch) draws its own order, and with
    ``augment=True`` its own flips and shifts (:func:`flip_and_shift`), from a generator seeded with ``seed``: two loaders
    built with the same arguments give exactly the same batches, epoch by epoch.
    ``shuffle=False`` and ``augment=False`` give the data in order, untouched.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 64, *,
                 shuffle: bool = True, augment: bool = False, max_shift: int = 1, seed: int = 0):
        if len(images) != len(labels) or len(labels) == 0:
            raise ValueError(f"need as many labels as images (at least one), got {len(images)} and {len(labels)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size}")
        if not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
        if augment and images.dim() != 4:
            raise ValueError(f"augmentation needs images of shape (N, C, H, W), got {tuple(images.shape)}")
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.shuffle, self.augment, self.max_shift = shuffle, augment, max_shift
        self.generator = torch.Generator().manual_seed(seed)
        self._padded = F.pad(images, (max_shift,) * 4) if augment else None  # padded once, cropped per epoch

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self):
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        if self.augment:
            images = _flip_and_crop(self._padded[order], self.max_shift, self.generator)
        else:
            images = self.images[order]
        labels = self.labels[order]
        for start in range(0, n, self.batch_size):
            yield images[start:start + self.batch_size], labels[start:start + self.batch_size]
