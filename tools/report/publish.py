"""Staging a report build and publishing it: the new report replaces the previous one by renames.

A build writes everything into ``report/.staging-<pid>``. Only when it is complete does
:func:`replace_report` park the previous report in ``report/.previous-<pid>``, move the staged
entries into ``report/`` (``index.html`` last, so the page never links to files not there yet) and
delete the parked one; a failed rename puts everything back. Staging folders of builds that were
killed are removed by the next build (:func:`new_staging`).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

INDEX = "index.html"  # the page a reader opens: published last
RUNS_DIR = ".runs"  # the workers' logs (kernel chatter), inside the staging folder
INTERMEDIATE = {"metrics", "text", RUNS_DIR}  # staged but not published (metrics.json, index.html hold them)
KEEP = {"README.md"}  # committed files of report/ that a build never touches
STAGING_PREFIX, PREVIOUS_PREFIX = ".staging-", ".previous-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_staging(output_dir: Path) -> None:
    """Staging folders of builds that were killed (their process is gone)."""
    for folder in output_dir.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name.removeprefix(STAGING_PREFIX)
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def new_staging(output_dir: Path) -> Path:
    """An empty ``output_dir/.staging-<pid>`` for this build (after removing killed builds' ones)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(output_dir)
    staging = output_dir / f"{STAGING_PREFIX}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def _published_entries(staging: Path) -> list[Path]:
    """What goes into report/: everything but the intermediate folders; index.html last."""
    entries = [p for p in staging.iterdir() if p.name not in INTERMEDIATE]
    return sorted(entries, key=lambda p: (p.name == INDEX, p.name))


def replace_report(staging: Path, output_dir: Path) -> None:
    """Swap the previous report for the staged one by renames, rolling back if one fails.

    The previous report is parked in ``.previous-<pid>`` meanwhile; only after the new one is in
    place is it deleted (if even the rollback fails, it stays there for you to recover)."""
    previous = output_dir / f"{PREVIOUS_PREFIX}{os.getpid()}"
    previous.mkdir()
    moved_old, moved_new = [], []
    try:
        for entry in sorted(output_dir.iterdir()):
            if entry.name not in KEEP and not entry.name.startswith("."):
                entry.rename(previous / entry.name)
                moved_old.append(entry.name)
        for entry in _published_entries(staging):
            entry.rename(output_dir / entry.name)
            moved_new.append(entry.name)
    except OSError:
        for name in moved_new:
            (output_dir / name).rename(staging / name)
        for name in moved_old:
            (previous / name).rename(output_dir / name)
        previous.rmdir()
        raise
    shutil.rmtree(previous, ignore_errors=True)
