"""The student's workspace: ``python -m tools.editions [FOLDER]`` (default ``student/``, git-ignored).

Layout, so that a Jupyter kernel started in the notebooks' folder imports the student's helpers and
not the instructor's editable install (setuptools installs it as a meta-path finder, which Python asks
only after ``sys.path``, whose first entry is the kernel's working folder)::

    student/
        00a_chain_rule_by_table.ipynb ...   the student notebooks (solution blocks stubbed, no outputs)
        helpers/                            the student copy of the helpers those notebooks import
        data/*.pt                           copies of the small committed data files
        data/cache/                         the workspace's own caches (downloads, extractions, tensors)
        data/shared-datasets -> the offline datasets folder (the read-only CIFAR-10 archive), if any
        requirements.txt, START_HERE.md      the environment to install; how to work here
        .student-workspace.json             what this command wrote, with each file's sha256 (the base)
        helpers/spiral.upstream.py ...       only in a conflict: the course's new version beside the student's

The workspace is self-contained: no file it holds names the project's path, and nothing links into the
project (a student's run writes its caches into the workspace, never into the instructor's). Only the offline
datasets folder, which is not part of the project, is linked.

Running the command again updates the workspace without destroying the student's work. For each file it
compares three versions: the base (what this command last wrote there, its sha256 in the manifest), the
student's file on disk, and the course's new content:

- changed only by the course (the file is still the base): updated;
- changed only by the student (the course's content is still the base): kept as it is, and listed;
- changed by both, differently: a conflict. The student's file is kept as it is, the course's version is
  written beside it as ``<name>.upstream<suffix>`` (``helpers/spiral.upstream.py``,
  ``02_training.upstream.ipynb``: Jupyter opens it like the original) and the summary lists the pair: compare,
  merge into your file, then delete the ``.upstream`` file. While that file is there, every update refreshes
  it with the course's latest version (one the student edited is theirs and is kept); once the student has
  deleted it, the version they merged from becomes the base;
- changed by both the same way (or written by an update that was killed before its manifest): nothing to do,
  the new content becomes the base. A file the student deleted is written again; a file the student
  created where the course later adds one is a conflict.

Every write is atomic: a hidden temporary file in the same folder (``.<name>.editions-partial``), flushed to
disk, renamed over the file (``os.replace``); the manifest is replaced the same way, once before any file is
written (recording what the run may write, ``writing``) and once at the end. An update killed at any moment
leaves every file whole, old or new; the next run removes the temporaries it left, and takes a file that
holds what the killed run was writing for this command's, never for the student's change. A file dropped
from the edition is deleted only if the student left it alone. A non-empty folder without the manifest is
somebody else's and is refused, untouched.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from helpers.data.cache import atomic_target
from helpers.data.paths import PROJECT_ROOT, shared_datasets_dir
from tools.editions import student_files

MANIFEST = ".student-workspace.json"
DEFAULT_FOLDER = PROJECT_ROOT / "student"
CACHE = "cache"  # data/cache: the workspace's own, created empty (the helpers fill it)
# The workspace's parent is not the project's, so ``<root>/../shared/datasets`` is not found from it:
# the link gives the workspace the offline archive (for its empty cache). It is outside the project.
SHARED_LINK = "shared-datasets"
UPSTREAM = ".upstream"  # a conflict's course version: <name>.upstream<suffix>, beside the student's file
PARTIAL = ".editions-partial"  # a write in progress: .<name>.editions-partial, renamed over <name>
START_HERE = """# Your backprop-lab workspace

Open the notebooks here (`jupyter lab` in this folder) and work in them and in `helpers/`: an exercise
you have not done yet stops with "not done yet: implement `<function>` in <file>"; open that file,
replace the `# YOUR CODE HERE` stub with your code, and re-run the cell.

When your instructor updates the course, run `python -m tools.editions <this folder>` again in the
course project: files you have not changed are updated; every file you changed (a notebook saved by
Jupyter counts) is kept as it is and listed. When the course changed a file you changed too, yours stays
as it is and the course's new version is written beside it, `<name>.upstream<suffix>` (for example
`helpers/spiral.upstream.py`, `02_training.upstream.ipynb`), and listed as a conflict: compare the two,
merge what you want into your file, then delete the `.upstream` file. To take the course's version
whole, move yours away (or delete it) and run the command again.
"""


class ForeignFolderError(RuntimeError):
    """The folder holds files this command did not write (no workspace manifest)."""


@dataclass
class WorkspaceUpdate:
    """What one run did, each a list of paths relative to the workspace (shapes: none)."""

    written: list[str] = field(default_factory=list)    # new files
    updated: list[str] = field(default_factory=list)    # unchanged by the student, new content
    unchanged: list[str] = field(default_factory=list)  # already the current content
    kept: list[str] = field(default_factory=list)       # changed by the student only: left as they are
    conflicts: list[str] = field(default_factory=list)  # changed by both: kept, the new version beside them
    removed: list[str] = field(default_factory=list)    # no longer in the edition, unchanged: deleted
    linked: list[str] = field(default_factory=list)     # data links made this run
    unlinked: list[str] = field(default_factory=list)   # links into the project an older edition made, replaced


@dataclass
class Manifest:
    """What this command knows of a workspace, each a map from a path relative to it to a sha256.

    ``files``: the base, what this command last wrote at each path. ``upstream``: for each file in conflict,
    the course's version written beside it (:func:`upstream_name`). ``writing``: what the run in progress
    may write (``{"files": ..., "upstream": ...}``), recorded before it writes, so that a run killed after a
    write and before its final manifest is not taken for the student's change by the next one."""

    files: dict[str, str] = field(default_factory=dict)
    upstream: dict[str, str] = field(default_factory=dict)
    writing: dict[str, dict[str, str]] = field(default_factory=dict)


def upstream_name(relative: str) -> str:
    """Where a conflict's course version goes, beside the student's file, openable as the same kind of file:
    ``helpers/spiral.py`` -> ``helpers/spiral.upstream.py``, ``02_x.ipynb`` -> ``02_x.upstream.ipynb``."""
    path = PurePosixPath(relative)
    return str(path.with_name(f"{path.stem}{UPSTREAM}{path.suffix}"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hash_of(path: Path) -> str | None:
    """The sha256 of the file at ``path``, None when there is no file."""
    return _sha256(path.read_bytes()) if path.is_file() else None


def _temporary(target: Path) -> Path:
    """The hidden temporary file a write of ``target`` goes through, in the same folder."""
    return target.with_name(f".{target.name}{PARTIAL}")


def _write_atomic(target: Path, content: bytes) -> None:
    """Replace ``target`` with ``content`` so that at every moment it holds the old bytes or the new ones:
    written to the hidden :func:`_temporary` beside it, flushed to disk, renamed over it (the one mechanism,
    :func:`helpers.data.cache.atomic_target`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(target, _temporary(target)) as temporary:
        temporary.write_bytes(content)


def _remove_temporaries(folder: Path, relatives: list[str]) -> None:
    """Delete the temporary files a killed run left in the folders this command writes into."""
    for parent in sorted({(folder / relative).parent for relative in relatives} | {folder}):
        if parent.is_dir() and not parent.is_symlink():
            for leftover in parent.glob(f".*{PARTIAL}"):
                if leftover.is_file():
                    leftover.unlink()


def _read_manifest(folder: Path) -> Manifest:
    """What this command last wrote into ``folder``; refuses a folder that is not a workspace."""
    if folder.exists() and not folder.is_dir():
        raise ForeignFolderError(f"{folder} is a file, not a student workspace: choose another folder")
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            recorded = json.loads(manifest.read_text())
            writing = recorded.get("writing", {})
            return Manifest(dict(recorded["files"]), dict(recorded.get("upstream", {})),
                            {"files": dict(writing.get("files", {})), "upstream": dict(writing.get("upstream", {}))})
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ForeignFolderError(f"{manifest} is damaged ({error!r}): refusing to guess which files are "
                                     "the student's; move the folder away or repair the file") from error
    if folder.is_dir() and any(folder.iterdir()):
        raise ForeignFolderError(f"{folder} is not empty and is not a student workspace written by this "
                                 f"command (no {MANIFEST}): refusing to write into it; choose an empty or "
                                 "new folder")
    return Manifest()


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically: an interrupted run leaves the old one or the new one. It names no path
    of the project (the workspace is self-contained)."""
    recorded = {"written by": "python -m tools.editions", "files": dict(sorted(manifest.files.items())),
                "upstream": dict(sorted(manifest.upstream.items()))}
    if manifest.writing:
        recorded["writing"] = manifest.writing
    _write_atomic(folder / MANIFEST, (json.dumps(recorded, indent=1) + "\n").encode())


def _settle(folder: Path, manifest: Manifest) -> None:
    """Bring the manifest up to date with the disk before this run decides anything.

    A file that holds what a killed run was writing there was written by this command (the new base, or the
    new course version beside a conflict). A conflict whose ``.upstream`` file the student deleted is resolved:
    the version they merged from becomes the base, so their merged file counts as their own change."""
    for relative, sha in manifest.writing.get("files", {}).items():
        if _hash_of(folder / relative) == sha:
            manifest.files[relative] = sha
    for relative, sha in manifest.writing.get("upstream", {}).items():
        if _hash_of(folder / upstream_name(relative)) == sha:
            manifest.upstream[relative] = sha
    manifest.writing = {}
    for relative, sha in list(manifest.upstream.items()):
        if not os.path.lexists(folder / upstream_name(relative)):
            manifest.files[relative] = sha
            del manifest.upstream[relative]


def _clear_conflict(folder: Path, relative: str, manifest: Manifest, update: WorkspaceUpdate) -> None:
    """The file is no longer in conflict: its ``.upstream`` file goes if it still holds what this command wrote
    (nothing is lost: that version is the base now or was dropped upstream); one the student edited stays."""
    offered = manifest.upstream.pop(relative, None)
    beside = folder / upstream_name(relative)
    if offered is not None and _hash_of(beside) == offered:
        beside.unlink()
        update.removed.append(upstream_name(relative))


def _offer(folder: Path, relative: str, content: bytes, manifest: Manifest, update: WorkspaceUpdate) -> None:
    """A conflict: the student's file stays as it is, the course's version goes beside it (refreshed while the
    conflict lasts; a ``.upstream`` file the student edited is theirs and is kept, not overwritten)."""
    beside, sha = folder / upstream_name(relative), _sha256(content)
    current = _hash_of(beside)
    if current is None or current == manifest.upstream.get(relative):
        if current != sha:
            _write_atomic(beside, content)
        manifest.upstream[relative] = sha
    elif current == sha:
        manifest.upstream[relative] = sha
    else:
        update.kept.append(upstream_name(relative))
    update.conflicts.append(relative)


def _place(folder: Path, relative: str, content: bytes, manifest: Manifest, update: WorkspaceUpdate) -> None:
    """Three-way update of one file: the base (what this command last wrote), the student's file, the course's
    new content. Records the new base in ``manifest`` (none for a path the student holds and the course never
    gave them)."""
    target, new, base = folder / relative, _sha256(content), manifest.files.get(relative)
    current = _hash_of(target)
    if not os.path.lexists(target):
        _write_atomic(target, content)  # new, or deleted by the student: (re)written
        update.written.append(relative)
    elif current is None:
        update.kept.append(relative)  # not a file (a folder or a link the student made there): left alone
        return
    elif current == new:
        update.unchanged.append(relative)  # also: both changed it the same way, or a killed run wrote it
    elif current == base:
        _write_atomic(target, content)
        update.updated.append(relative)
    elif new == base:
        update.kept.append(relative)
    else:
        _offer(folder, relative, content, manifest, update)
        return  # the base stays: the student's file is compared with it until they resolve the conflict
    manifest.files[relative] = new  # what the path now holds, or (kept) what the base already was
    _clear_conflict(folder, relative, manifest, update)


def _remove_obsolete(folder: Path, manifest: Manifest, wanted: set[str], update: WorkspaceUpdate) -> None:
    """Delete files an earlier edition wrote that this one no longer has, if the student left them alone (and
    the ``.upstream`` file of a conflict on such a file, if it is still as this command wrote it)."""
    for relative in sorted(set(manifest.files) - wanted):
        target = folder / relative
        if target.is_file() and _sha256(target.read_bytes()) == manifest.files[relative]:
            target.unlink()
            update.removed.append(relative)
        elif os.path.lexists(target):
            update.kept.append(relative)
        del manifest.files[relative]
    for relative in sorted(set(manifest.upstream) - wanted):
        _clear_conflict(folder, relative, manifest, update)


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (resolved) is ``folder`` or lies under it."""
    resolved, folder = path.resolve(), folder.resolve()
    return resolved == folder or folder in resolved.parents


def _shared_datasets(root: Path) -> Path | None:
    """The offline datasets folder for the project at ``root``, unless it lies inside the project."""
    shared = shared_datasets_dir() if root.resolve() == PROJECT_ROOT else root.parent / "shared" / "datasets"
    return shared if shared is not None and shared.is_dir() and not _inside(shared, root) else None


def _prepare_data(folder: Path, root: Path, update: WorkspaceUpdate) -> None:
    """The workspace's own ``data/cache`` folder and the link to the offline datasets (never replacing anything
    but a link into the project an older edition made, which becomes an empty folder of the workspace's)."""
    data = folder / "data"
    cache = data / CACHE
    if cache.is_symlink() and _inside(cache, root):
        cache.unlink()  # the link only: the project's cache stays as it is
        update.unlinked.append(f"data/{CACHE}")
    for name in ("cifar-10-batches-py",):  # linked into the project by older editions
        old = data / name
        if old.is_symlink() and _inside(old, root):
            old.unlink()
            update.unlinked.append(f"data/{name}")
    cache.mkdir(parents=True, exist_ok=True)
    shared, link = _shared_datasets(root), data / SHARED_LINK
    if shared is not None and not os.path.lexists(link):
        link.symlink_to(shared.resolve(), target_is_directory=True)
        update.linked.append(f"data/{SHARED_LINK}")


def update_workspace(folder: Path = DEFAULT_FOLDER, root: Path = PROJECT_ROOT) -> WorkspaceUpdate:
    """Create or update the student workspace ``folder`` from the project at ``root``.

    Shapes: none (folders in, a :class:`WorkspaceUpdate` out). Raises :class:`ForeignFolderError`,
    touching nothing, when ``folder`` is a file or a non-empty folder without this command's manifest.
    """
    folder = Path(folder).absolute()
    manifest = _read_manifest(folder)
    files = {**student_files(root), "START_HERE.md": START_HERE.encode()}
    _settle(folder, manifest)
    _remove_temporaries(folder, [*files, *manifest.files])
    coming = {relative: _sha256(content) for relative, content in files.items()}
    manifest.writing = {"files": coming, "upstream": dict(coming)}
    _write_manifest(folder, manifest)  # marks the folder as a workspace, and says what may be written next
    manifest.writing = {}
    update = WorkspaceUpdate()
    for relative, content in files.items():
        _place(folder, relative, content, manifest, update)
    _remove_obsolete(folder, manifest, set(files), update)
    _prepare_data(folder, root, update)
    _write_manifest(folder, manifest)
    return update


NO_START_LINE = "--no-start-line"  # for a hub's log: the hub starts the server, so "start with" means nothing there


def summary(folder: Path, update: WorkspaceUpdate, start_line: bool = True) -> str:
    """A few lines for the terminal: counts, every kept file and every conflict by name, and (``start_line``) the
    command that starts JupyterLab in the workspace."""
    lines = [f"student workspace {folder}: {len(update.written)} written, {len(update.updated)} updated, "
             f"{len(update.unchanged)} unchanged, {len(update.kept)} kept, {len(update.conflicts)} in conflict, "
             f"{len(update.removed)} removed"]
    if update.kept:
        lines.append("kept as they are (changed by you; the course has nothing newer for them): "
                     + ", ".join(update.kept))
    if update.conflicts:
        lines.append(f"in conflict: changed by you and by the course. Yours is kept as it is; the course's new "
                     f"version is beside it as <name>{UPSTREAM}<suffix>. Compare the two, merge what you want into "
                     f"yours, then delete the {UPSTREAM} file (until then every update refreshes it):")
        lines.extend(f"  {relative}  <->  {upstream_name(relative)}" for relative in update.conflicts)
    if update.unlinked:
        lines.append("replaced by the workspace's own folders (they linked into the course project): "
                     + ", ".join(update.unlinked))
    if start_line:
        import shlex  # quoted, so that pasting the line works for a path with spaces
        jupyter = Path(sys.executable).parent / "jupyter"
        lines.append(f"start with: cd {shlex.quote(str(folder))} && {shlex.quote(str(jupyter))} lab")
    return "\n".join(lines)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """``[FOLDER] [--student ID] [--no-start-line]`` as ``folder`` (a Path), ``student`` (or None) and
    ``start_line``; bad arguments end the command with argparse's usage and exit status 2."""
    parser = argparse.ArgumentParser(prog="python -m tools.editions",
                                     description="Write or update a student workspace (three-way: tools/workspace.py).")
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER,
                        help="the workspace (default: student/ in the project)")
    parser.add_argument("--student", metavar="ID",
                        help="whose variant the workspace shows and checks (on a JupyterHub the hub's user name is used)")
    parser.add_argument(NO_START_LINE, dest="start_line", action="store_false",
                        help="leave out the line saying how to start JupyterLab (a hub's log)")
    return parser.parse_args(argv)


def main(arguments: argparse.Namespace) -> int:
    """``python -m tools.editions [FOLDER] [--student ID] [--no-start-line]``, as :func:`parse_arguments` read
    them: exit status 0, or 1 with the reason a folder is refused (2 for a bad student id). With ``--student`` the
    workspace shows and checks that student's variant (:func:`helpers.runtime.variant.record_student`; on a
    JupyterHub the hub's user name is used instead)."""
    from helpers.runtime.variant import record_student, valid_id
    folder, student = arguments.folder.absolute(), arguments.student
    try:
        if student is not None:
            valid_id(student)
    except ValueError as error:
        print(f"python -m tools.editions: {error}", file=sys.stderr)
        return 2
    try:
        update = update_workspace(folder)
    except ForeignFolderError as error:
        print(f"python -m tools.editions: {error}", file=sys.stderr)
        return 1
    if student is not None:
        record_student(folder, student)
    print(summary(folder, update, arguments.start_line) + (f"\nvariant: student {student!r}" if student is not None else ""))
    return 0
