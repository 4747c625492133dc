"""Extract a verified archive once, check the result file by file, and verify each file's content when it is read.

:func:`extract_verified` checks the archive's sha256, extracts it, and compares the extracted tree
with the archive's member list (every file's name and size, and no other file); only then does it
write the marker ``<target>.extracted`` (JSON: the archive's sha256, that list and every member's sha256,
hashed from the archive itself), atomically. Later calls compare the tree with the marker's list again
(names and sizes: cheap) and re-extract when the marker is missing or the comparison fails (an extraction
killed part-way, files deleted since), so a broken extraction is repaired instead of being blamed on the
archive.

A file damaged in place (a flipped byte keeps its size) is caught when it is read: readers go through
:func:`with_extraction`, whose reader checks each file's sha256 against the marker. A mismatch re-extracts
the folder once, with a one-line message naming the file, and reads again; a file still damaged after
that is a :class:`DamagedFileError` naming it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Callable, TypeVar

from helpers.data.cache import atomic_target, exclusive, remove_stale_partials
from helpers.data.checksums import sha256_of_stream, verify_sha256

T = TypeVar("T")
Reader = Callable[[str], bytes]  # a file's path -> its bytes, once they match the archive


class DamagedFileError(ValueError):
    """An extracted file whose content differs from the archive's (``path``: the file)."""

    def __init__(self, path: Path | str, message: str):
        super().__init__(message)
        self.path = Path(path)


def marker_path(target: Path) -> Path:
    """The marker that says ``target`` was extracted completely: ``<target>.extracted``."""
    return target.with_name(target.name + ".extracted")


def _archive_files(members: list[tarfile.TarInfo], archive: Path, top: str) -> dict[str, int]:
    """{name: size} of the regular files among ``members``, all of which must lie under ``top``."""
    names = [os.path.normpath(member.name) for member in members]
    stray = [name for name in names if name != top and not name.startswith(top + "/")]
    if stray:
        raise ValueError(f"{archive} should hold only the folder {top}/, but it also holds {stray[:3]}")
    return {name: member.size for name, member in zip(names, members) if member.isfile()}


def _tree_files(target: Path) -> dict[str, int]:
    """{name relative to ``target.parent``: size} of every file under ``target``."""
    files = {}
    for folder, _, names in os.walk(target):
        for name in names:
            path = Path(folder, name)
            files[path.relative_to(target.parent).as_posix()] = path.stat().st_size
    return files


def _difference(expected: dict[str, int], actual: dict[str, int]) -> str | None:
    """How the tree ``actual`` differs from the member list ``expected``, in a few words, or None."""
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    resized = sorted(name for name in expected.keys() & actual.keys() if expected[name] != actual[name])
    parts = [f"{len(names)} {what} (e.g. {names[0]})" for names, what in
             ((missing, "missing"), (resized, "with the wrong size"), (extra, "not in the archive")) if names]
    return f"{len(expected) - len(missing)} of {len(expected)} files present; " + ", ".join(parts) if parts else None


def _extraction_problem(target: Path, sha256: str) -> str | None:
    """Why the extraction at ``target`` cannot be trusted (None when its marker vouches for it)."""
    marker = marker_path(target)
    if not marker.exists():
        return "not extracted yet" if not target.exists() else "no marker (an extraction cut short?)"
    try:
        record = json.loads(marker.read_text())
        recorded_sha256, files, _ = record["archive_sha256"], record["files"], record["sha256"]
    except (ValueError, KeyError, TypeError):
        return f"{marker.name} holds no member list with digests (written by an older version)"
    if recorded_sha256 != sha256:
        return f"extracted from another archive (sha256 {recorded_sha256})"
    return _difference(files, _tree_files(target))


def _member_digests(archive: Path, top: str) -> dict[str, str]:
    """{name: sha256} of every regular file of ``archive`` (read from the archive, not from the disk)."""
    with tarfile.open(archive) as tar:
        return {os.path.normpath(member.name): sha256_of_stream(tar.extractfile(member))
                for member in tar if member.isfile()}


def extract_members(tar: tarfile.TarFile, destination: Path, members: list, archive: Path) -> None:
    """Extract ``members`` of ``tar`` into ``destination`` through tarfile's "data" filter (no absolute path,
    no ``..``, no link or device, no special permission bits). Pythons before 3.11.4 (Debian 12's 3.11.2)
    have no filters: there the same refusals are made here, before anything is written."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(destination, members=members, filter="data")
        return
    for member in members:
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise RuntimeError(f"{archive}: refusing to extract {member.name!r}: expected only plain files and "
                               f"folders inside the archive's own folder")
        member.mode &= 0o755  # as the data filter: no setuid, setgid, sticky or group/other write bits
    tar.extractall(destination, members=members)


def extract_verified(archive: Path, sha256: str, target: Path, damaged: str | None = None) -> Path:
    """``target``, the single top folder of ``archive``, extracted into ``target.parent`` and checked.

    The archive's sha256 is verified before anything is extracted (a mismatch blames the archive);
    an extraction that does not match the archive's member list is an error naming the fix. ``damaged``
    (why a reader distrusts the extraction, e.g. a file's content) re-extracts even when the check passes.
    """
    with exclusive(marker_path(target)):
        problem = damaged or _extraction_problem(target, sha256)
        if problem is None:
            return target
        if target.exists():
            print(f"re-extracting {target}: {problem}", file=sys.stderr, flush=True)
        verify_sha256(archive, sha256)
        marker_path(target).unlink(missing_ok=True)
        remove_stale_partials(marker_path(target))
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            files = _archive_files(members, archive, target.name)
            extract_members(tar, target.parent, members, archive)
        problem = _difference(files, _tree_files(target))
        if problem:
            raise RuntimeError(
                f"extracting {archive} into {target} left an incomplete folder: {problem}. The archive is "
                f"intact (its sha256 matches); something else wrote to or deleted from {target.parent} meanwhile, "
                f"or the disk is full. Free some space if needed, delete {target} and run again.")
        digests = _member_digests(archive, target.name)
        with atomic_target(marker_path(target)) as partial:
            partial.write_text(json.dumps({"archive_sha256": sha256, "files": files, "sha256": digests}))
    return target


def verified_reader(target: Path) -> Reader:
    """A function reading a file under ``target`` that raises :class:`DamagedFileError` (naming the file)
    unless its sha256 is the one the marker recorded from the archive."""
    digests = json.loads(marker_path(target).read_text())["sha256"]

    def read(path: str) -> bytes:
        name = Path(path).relative_to(target.parent).as_posix()
        data = Path(path).read_bytes()
        actual, recorded = hashlib.sha256(data).hexdigest(), digests.get(name)
        if actual != recorded:
            raise DamagedFileError(path, f"{name} differs from the archive (sha256 {actual}, the archive's "
                                         f"{recorded or 'none: not in the archive'})")
        return data
    return read


def with_extraction(archive: Path, sha256: str, target: Path, use: Callable[[Path, Reader], T]) -> T:
    """``use(folder, read)`` on the verified extraction of ``archive`` at ``target``, where ``read`` checks each
    file's content (:func:`verified_reader`). A damaged file re-extracts the folder once (a one-line message
    names the file) and ``use`` runs again; still damaged after that, the :class:`DamagedFileError` names it."""
    folder = extract_verified(archive, sha256, target)
    try:
        return use(folder, verified_reader(folder))
    except DamagedFileError as damaged:
        folder = extract_verified(archive, sha256, target, damaged=str(damaged))
    try:
        return use(folder, verified_reader(folder))
    except DamagedFileError as again:
        raise DamagedFileError(again.path, f"{again.path}: {again}, even after extracting it again from the "
                                           f"verified archive {archive}. Something changes files in {target.parent}; "
                                           f"delete {target} and run again.") from None
