"""Tensor caches under ``data/cache``: built once, written atomically, verified before every read.

A cache ``<name>.pt`` comes with ``<name>.pt.sha256`` (``sha256sum`` format), written after it at
build time. A read hashes the file and unpickles it (``weights_only=True``) only when the digest
matches, then checks every tensor's dtype and shape against the caller's spec; any mismatch (a
flipped byte, a truncated file, an older layout, a missing record) rebuilds the cache, with a
one-line message on stderr saying why.

Reading a verified cache takes no lock, so a read-only data folder (a shared classroom install
with every cache built) works. Before building its own, a reader looks for a verified cache of the same
name in the class's read-only shared cache (``$BACKPROP_LAB_SHARED_CACHE``, :func:`shared_cache_dir`), so
a class of students does not build (and store) the same tensors once each. Building takes an exclusive lock on ``<name>.pt.lock`` so that
concurrent notebooks build once, removes ``*.partial-PID`` files left by killed writers (never a
live process's), and writes each file under a temporary name before renaming it into place.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
from pathlib import Path
from typing import Callable

import torch

from helpers.data.checksums import sha256_of, sha256_of_stream
from helpers.data.paths import DATA_ENV, shared_cache_dir
from helpers.runtime.writable import writing_in

# key -> (dtype, shape); a dimension is an int, or a name that must be equal wherever it appears
Spec = dict[str, tuple[torch.dtype, tuple]]
_DIGEST = re.compile(r"[0-9a-f]{64}")


def record_path(path: Path) -> Path:
    """Where the sha256 of the cache at ``path`` is recorded: ``<path>.sha256``."""
    return path.with_name(path.name + ".sha256")


def _open_lock(path: Path):
    lock = path.with_name(path.name + ".lock")
    with writing_in(path.parent, DATA_ENV, f"the cache {path.name}",  # a read-only install, cache missing or broken
                    fix=f"set ${DATA_ENV} to a writable folder (a copy of {path.parent.parent})"):
        return open(lock, "w")


@contextlib.contextmanager
def exclusive(path: Path):
    """Hold an exclusive lock on ``<path>.lock`` so that concurrent notebooks (``make report --jobs 2``)
    build a cache once instead of racing on it. A no-op where ``fcntl`` is missing (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - POSIX here
        yield
        return
    with _open_lock(path) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def atomic_target(path: Path, partial: Path | None = None):
    """Yield a temporary name beside ``path`` to write (default ``<path>.partial-PID``, one per writing process;
    ``partial`` names it instead); renamed onto ``path`` when the block succeeds, removed when it fails. Readers
    see the old file or the new one, never a half-written one; the data reach the disk before the rename, and the
    rename with the folder's entry, so a power cut cannot leave an empty file."""
    partial = partial if partial is not None else path.with_name(f"{path.name}.partial-{os.getpid()}")
    try:
        yield partial
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, path)
        _sync_folder(path.parent)
    finally:
        partial.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """fsync ``folder``'s entries (a rename reaches the disk with them); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # a platform that cannot open folders (Windows): the rename is still atomic
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _alive(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would terminate it there
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def remove_stale_partials(path: Path) -> list[Path]:
    """Remove the ``<path>.partial-PID`` files whose process is gone (a writer killed mid-write);
    those of live processes stay. Returns the removed paths."""
    removed = []
    for partial in path.parent.glob(f"{path.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            partial.unlink(missing_ok=True)
            removed.append(partial)
    return removed


def spec_problem(stored, spec: Spec) -> str | None:
    """What in ``stored`` contradicts ``spec`` (a missing key, a wrong dtype or shape), or None."""
    if not isinstance(stored, dict):
        return f"holds a {type(stored).__name__}, not a dict"
    sizes: dict[str, int] = {}
    for key, (dtype, shape) in spec.items():
        value = stored.get(key)
        if not isinstance(value, torch.Tensor):
            return f"has no tensor {key!r}"
        expected = tuple(sizes.setdefault(dim, size) if isinstance(dim, str) else dim
                         for dim, size in zip(shape, value.shape))
        if value.dtype != dtype or value.dim() != len(shape) or tuple(value.shape) != expected:
            return (f"{key!r} is {value.dtype} {tuple(value.shape)}, expected {dtype} "
                    f"{tuple(shape)}{f' with {sizes}' if sizes else ''}")
    return None


def read_verified(path: Path, spec: Spec) -> tuple[dict | None, str]:
    """``(cache, "")`` when the file at ``path`` matches its recorded sha256 and ``spec``, else
    ``(None, why not)``. Nothing is unpickled before the digest matches."""
    if not path.exists():
        return None, "missing"
    try:
        recorded = record_path(path).read_text().split()[:1]
    except FileNotFoundError:
        return None, f"no recorded sha256 ({record_path(path).name} is missing)"
    if not recorded or not _DIGEST.fullmatch(recorded[0]):
        return None, f"{record_path(path).name} holds no sha256"
    try:
        with open(path, "rb") as handle:  # one handle: the bytes hashed are the bytes loaded
            actual = sha256_of_stream(handle)
            if actual != recorded[0]:
                return None, f"corrupted: sha256 {actual}, recorded {recorded[0]}"
            handle.seek(0)
            stored = torch.load(handle, weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as error:
        return None, f"unreadable ({error})"
    problem = spec_problem(stored, spec)
    return (None, problem) if problem else (stored, "")


def save_verified(path: Path, stored: dict) -> None:
    """Write ``stored`` at ``path``, then its sha256 at ``record_path(path)``, each atomically."""
    with atomic_target(path) as partial:
        torch.save(stored, partial)
        digest = sha256_of(partial)
    with atomic_target(record_path(path)) as partial:
        partial.write_text(f"{digest}  {path.name}\n")


def cached_tensors(path: Path, build: Callable[[], dict], spec: Spec) -> dict:
    """``build()``'s dict of tensors, saved at ``path`` and read back from there on later calls.

    spec: key -> (dtype, shape) of every tensor the cache must hold, e.g.
    ``{"images": (torch.uint8, ("n", 3, 32, 32)), "labels": (torch.int64, ("n",))}`` (a named
    dimension takes the same size everywhere). A cache that fails its sha256 or ``spec`` is rebuilt, unless
    the shared cache holds a verified one of the same name.
    """
    stored, _ = read_verified(path, spec)  # no lock: a read-only folder can serve built caches
    shared = shared_cache_dir() if stored is None else None
    if shared is not None:
        stored, _ = read_verified(shared / path.name, spec)
    if stored is not None:
        return stored
    with exclusive(path):
        stored, reason = read_verified(path, spec)  # another process may have built it meanwhile
        if stored is not None:
            return stored
        if reason != "missing":
            print(f"rebuilding {path}: {reason}", file=sys.stderr, flush=True)
        for target in (path, record_path(path)):
            remove_stale_partials(target)
        stored = build()
        problem = spec_problem(stored, spec)
        if problem:
            raise ValueError(f"the data built for {path} {problem}")
        save_verified(path, stored)
    return stored
