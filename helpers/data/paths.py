"""Where files live: the project root, ``data/`` (shipped data and caches) and the offline datasets."""
from __future__ import annotations

import os
from pathlib import Path

from helpers.runtime.writable import writing_in

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # helpers/data/paths.py -> the project
DATA_ENV = "BACKPROP_LAB_DATA"
SHARED_DATASETS_ENV = "BACKPROP_LAB_SHARED_DATASETS"
SHARED_CACHE_ENV = "BACKPROP_LAB_SHARED_CACHE"


def data_dir() -> Path:
    """The data folder: ``$BACKPROP_LAB_DATA`` when set, else ``<project>/data``."""
    override = os.environ.get(DATA_ENV)
    return Path(override).expanduser().resolve() if override else PROJECT_ROOT / "data"


def cache_dir() -> Path:
    """``<data>/cache``: downloads, extractions and preprocessed tensors (never committed)."""
    path = data_dir() / "cache"
    with writing_in(data_dir(), DATA_ENV, "the cache folder"):
        path.mkdir(parents=True, exist_ok=True)
    return path


def shared_cache_dir() -> Path | None:
    """A read-only cache built once for a whole class: ``$BACKPROP_LAB_SHARED_CACHE`` when it is set and is a
    folder other than :func:`cache_dir`, else None. Verified caches are read from it; nothing is written there."""
    override = os.environ.get(SHARED_CACHE_ENV)
    if not override or not Path(override).expanduser().is_dir():
        return None
    shared = Path(override).expanduser().resolve()
    return None if shared == (data_dir() / "cache").resolve() else shared


def shared_datasets_dir() -> Path | None:
    """Offline dataset copies: ``$BACKPROP_LAB_SHARED_DATASETS``, else ``<project>/../shared/datasets``,
    else ``<data>/shared-datasets`` (the link a student workspace makes to the project's copy, since a
    workspace's parent is not the project's).

    Returns None when none exists (a user's laptop, typically).
    """
    override = os.environ.get(SHARED_DATASETS_ENV)
    candidates = ([Path(override).expanduser()] if override
                  else [PROJECT_ROOT.parent / "shared" / "datasets", data_dir() / "shared-datasets"])
    return next((candidate.resolve() for candidate in candidates if candidate.is_dir()), None)
