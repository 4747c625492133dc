"""Files a notebook hands to the student (e.g. CSE 849's ``q2_ytest.txt``), written safely.

They go to ``<project>/results/`` (the handout's ``results/`` sub-folder of a submission), or to
``$BACKPROP_LAB_RESULTS`` when set. :func:`save_result` writes atomically (readers see the old file or
the new one), and it **never overwrites a file it did not write**: every content it writes is recorded
(sha256) in the folder's manifest first, and an existing file whose hash is not recorded there (the
student's own file, or ours edited by hand) is kept and reported. A folder it creates gets a ``.gitignore``
of ``*``, so generated results never show up as changes to commit. A folder that cannot be written (a
read-only course folder) is a :class:`~helpers.runtime.writable.NotWritableError` naming it and
``$BACKPROP_LAB_RESULTS``, the setting that moves it. ``make report`` writes its own copy into ``report/``
(``report_hooks.write_deliverable``); the two never touch each other.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.data.cache import atomic_target
from helpers.data.paths import PROJECT_ROOT
from helpers.runtime.writable import writing_in

RESULTS_ENV = "BACKPROP_LAB_RESULTS"
MANIFEST = ".written-by-backprop-lab.json"  # file name -> sha256 of every content written there
RESERVED = {MANIFEST, ".gitignore"}


def results_dir() -> Path:
    """``$BACKPROP_LAB_RESULTS`` when set, else ``<project>/results``."""
    override = os.environ.get(RESULTS_ENV)
    return Path(override).expanduser().resolve() if override else PROJECT_ROOT / "results"


@dataclass(frozen=True)
class SavedResult:
    """What :func:`save_result` did: ``status`` is "written", "unchanged" (same bytes already there) or
    "kept" (a file it did not write was in the way; nothing written)."""
    path: Path
    status: str

    @property
    def shown_path(self) -> str:
        """The path relative to the project when inside it (stable across machines), else absolute."""
        try:
            return str(self.path.relative_to(PROJECT_ROOT))
        except ValueError:
            return str(self.path)

    @property
    def message(self) -> str:
        if self.status == "kept":
            return (f"kept {self.shown_path}: it was not written by this notebook (your own file, or ours "
                    f"edited since); move it away and run this cell again to save the predictions there")
        return f"saved {self.shown_path}"  # the same words whether written now or already there


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def _locked(folder: Path):
    """An exclusive ``flock`` on the folder: two notebooks saving at once update the manifest in turn."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    with atomic_target(path) as partial:
        partial.write_bytes(data)


def _create_folder(folder: Path) -> None:
    if folder.is_dir():
        return
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / ".gitignore", b"# written by backprop-lab: results are generated, never committed\n*\n")


def save_result(name: str, content: str, folder: Path | None = None) -> SavedResult:
    """Write ``content`` (text) to ``<folder>/<name>`` (default :func:`results_dir`) unless a file there
    was not written by this function; see the module docstring. ``name`` is a plain file name."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in RESERVED or name in {".", ".."}:
        raise ValueError(f"name must be a plain file name (no folders), not one of {sorted(RESERVED)}; got {name!r}")
    if not isinstance(content, str):
        raise TypeError(f"content must be a str, got {type(content).__name__}")
    folder = Path(folder) if folder is not None else results_dir()
    with writing_in(folder, RESULTS_ENV, name):  # a read-only course folder: say which setting moves it
        return _save(folder, name, content.encode())


def _save(folder: Path, name: str, data: bytes) -> SavedResult:
    _create_folder(folder)
    target = folder / name
    with _locked(folder):
        manifest_path = folder / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        ours = manifest.get(name, [])
        if target.exists():
            existing = target.read_bytes()
            if existing == data:
                return SavedResult(target, "unchanged")
            if _sha256(existing) not in ours:
                return SavedResult(target, "kept")
        if _sha256(data) not in ours:  # recorded before the file is replaced: a crash in between loses nothing
            manifest[name] = ours + [_sha256(data)]
            _write_atomically(manifest_path, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
        _write_atomically(target, data)
    return SavedResult(target, "written")
