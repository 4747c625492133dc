"""The student's workspace: ``python -m tools.editions [FOLDER]`` (default ``student/``, git-ignored).

Layout, so that a Jupyter kernel started in the notebooks' folder imports the student's helpers and
not the instructor's editable install (setuptools installs it as a meta-path finder, which Python asks
only after ``sys.path``, whose first entry is the kernel's working folder)::

    student/
        00_computational_graphs.ipynb ...   the student notebooks (solution blocks stubbed, no outputs)
        helpers/                            the student copy of the helpers those notebooks import
        data/*.pt                           copies of the small committed data files
        data/cache/                         the workspace's own caches (downloads, extractions, tensors)
        data/shared-datasets -> the offline datasets folder (the read-only CIFAR-10 archive), if any
        requirements.txt, START_HERE.md      the environment to install; how to work here
        .student-workspace.json             what this command wrote, with each file's sha256

The workspace is self-contained: no file it holds names the project's path, and nothing links into the
project (a student's run writes its caches into the workspace, never into the instructor's). Only the offline
datasets folder, which is not part of the project, is linked.

Running the command again updates the workspace without destroying the student's work: a file is
rewritten only while it still holds exactly what this command last wrote there; a file the student
changed (or created at that path) is kept and listed. A non-empty folder without the manifest is
somebody else's and is refused, untouched.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from helpers.data.paths import PROJECT_ROOT, shared_datasets_dir
from tools.editions import student_files

MANIFEST = ".student-workspace.json"
DEFAULT_FOLDER = PROJECT_ROOT / "student"
CACHE = "cache"  # data/cache: the workspace's own, created empty (the helpers fill it)
# The workspace's parent is not the project's, so ``<root>/../shared/datasets`` is not found from it:
# the link gives the workspace the offline archive (for its empty cache). It is outside the project.
SHARED_LINK = "shared-datasets"
START_HERE = """# Your backprop-lab workspace

Open the notebooks here (`jupyter lab` in this folder) and work in them and in `helpers/`: an exercise
you have not done yet stops with "not done yet: implement `<function>` in <file>"; open that file,
replace the `# YOUR CODE HERE` stub with your code, and re-run the cell.

When your instructor updates the course, run `python -m tools.editions <this folder>` again in the
course project: files you have not changed are updated; every file you changed (a notebook saved by
Jupyter counts) is kept as it is and listed. To take the new version of a kept file, move yours away
first.
"""


class ForeignFolderError(RuntimeError):
    """The folder holds files this command did not write (no workspace manifest)."""


@dataclass
class WorkspaceUpdate:
    """What one run did, each a list of paths relative to the workspace (shapes: none)."""

    written: list[str] = field(default_factory=list)    # new files
    updated: list[str] = field(default_factory=list)    # unchanged by the student, new content
    unchanged: list[str] = field(default_factory=list)  # already the current content
    kept: list[str] = field(default_factory=list)       # changed by the student: left as they are
    removed: list[str] = field(default_factory=list)    # no longer in the edition, unchanged: deleted
    linked: list[str] = field(default_factory=list)     # data links made this run
    unlinked: list[str] = field(default_factory=list)   # links into the project an older edition made, replaced


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_manifest(folder: Path) -> dict[str, str]:
    """The hashes this command last wrote into ``folder``; refuses a folder that is not a workspace."""
    if folder.exists() and not folder.is_dir():
        raise ForeignFolderError(f"{folder} is a file, not a student workspace: choose another folder")
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            return dict(json.loads(manifest.read_text())["files"])
        except (ValueError, KeyError, TypeError) as error:
            raise ForeignFolderError(f"{manifest} is damaged ({error!r}): refusing to guess which files are "
                                     "the student's; move the folder away or repair the file") from error
    if folder.is_dir() and any(folder.iterdir()):
        raise ForeignFolderError(f"{folder} is not empty and is not a student workspace written by this "
                                 f"command (no {MANIFEST}): refusing to write into it; choose an empty or "
                                 "new folder")
    return {}


def _write_manifest(folder: Path, hashes: dict[str, str]) -> None:
    """Replace the manifest atomically: an interrupted run leaves the old one or the new one. It names no path
    of the project (the workspace is self-contained)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"written by": "python -m tools.editions", "files": dict(sorted(hashes.items()))},
                      indent=1) + "\n"
    partial = folder / f"{MANIFEST}.partial"
    partial.write_text(text)
    os.replace(partial, folder / MANIFEST)


def _place(folder: Path, relative: str, content: bytes, previous: str | None, update: WorkspaceUpdate) -> str | None:
    """Write one file unless the student changed it; returns the hash to remember (None: not ours)."""
    target = folder / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        update.written.append(relative)
        return _sha256(content)
    current = _sha256(target.read_bytes())
    if current == _sha256(content):
        update.unchanged.append(relative)
        return current
    if current == previous:
        target.write_bytes(content)
        update.updated.append(relative)
        return _sha256(content)
    update.kept.append(relative)
    return previous  # still ours to compare against next time; the student's version stays


def _remove_obsolete(folder: Path, hashes: dict[str, str], wanted: set[str], update: WorkspaceUpdate) -> None:
    """Delete files an earlier edition wrote that this one no longer has, if the student left them alone."""
    for relative in sorted(set(hashes) - wanted):
        target = folder / relative
        if target.is_file() and _sha256(target.read_bytes()) == hashes[relative]:
            target.unlink()
            update.removed.append(relative)
        else:
            update.kept.append(relative)
        del hashes[relative]


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
    hashes = _read_manifest(folder)
    _write_manifest(folder, hashes)  # marks the folder as a workspace before anything is written
    update, files = WorkspaceUpdate(), {**student_files(root), "START_HERE.md": START_HERE.encode()}
    for relative, content in files.items():
        remembered = _place(folder, relative, content, hashes.get(relative), update)
        if remembered is not None:
            hashes[relative] = remembered
    _remove_obsolete(folder, hashes, set(files), update)
    _prepare_data(folder, root, update)
    _write_manifest(folder, hashes)
    return update


def summary(folder: Path, update: WorkspaceUpdate) -> str:
    """A few lines for the terminal: counts, every kept file by name, how to start."""
    lines = [f"student workspace {folder}: {len(update.written)} written, {len(update.updated)} updated, "
             f"{len(update.unchanged)} unchanged, {len(update.kept)} kept, {len(update.removed)} removed"]
    if update.kept:
        lines.append("kept as they are (changed since this command wrote them; move one away and re-run "
                     "to take the new version): " + ", ".join(update.kept))
    if update.unlinked:
        lines.append("replaced by the workspace's own folders (they linked into the course project): "
                     + ", ".join(update.unlinked))
    import shlex  # quoted, so that pasting the line works for a path with spaces
    jupyter = Path(sys.executable).parent / "jupyter"
    lines.append(f"start with: cd {shlex.quote(str(folder))} && {shlex.quote(str(jupyter))} lab")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``python -m tools.editions [FOLDER]``: exit status 0, or 1 with the reason a folder is refused."""
    folder = Path(argv[0]).absolute() if argv else DEFAULT_FOLDER
    try:
        update = update_workspace(folder)
    except ForeignFolderError as error:
        print(f"python -m tools.editions: {error}", file=sys.stderr)
        return 1
    print(summary(folder, update))
    return 0
