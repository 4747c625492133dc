"""Staging a report build and publishing it: the new report replaces the previous one by renames.

A build holds a lock on the report folder (:func:`locked`: one build at a time; a second one is
refused with the running one's pid) and writes everything into ``report/.staging-<pid>``. Only when
it is complete does :func:`replace_report` park the previous report in ``report/.previous-<pid>``,
mark it parked (``.parked`` inside), move the staged entries into ``report/`` (``index.html`` last, so
the page never links to files not there yet) and discard the parked one (renamed ``.trash-<pid>``,
then deleted); a failed rename puts everything back.

A build killed part-way (SIGKILL, power cut) leaves these folders behind; the next build, under the
lock, finishes its work first (:func:`recover`): a ``.previous-<pid>`` not yet marked parked is put
back (the old report), one marked parked is published forward from its ``.staging-<pid>`` (the new
report), then every leftover staging and trash folder is deleted. So ``report/`` always ends up
holding the old report or the new one, never a mix.
"""
from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

INDEX = "index.html"  # the page a reader opens: published last
RUNS_DIR = ".runs"  # the workers' logs (kernel chatter), inside the staging folder
INTERMEDIATE = {"metrics", "text", RUNS_DIR}  # staged but not published (metrics.json, index.html hold them)
# What a build never touches in report/: its committed README and what other commands write there (the
# browser test's screenshots, student editions written by older versions of `make student`).
KEEP = {"README.md", "browser", "student"}
STAGING_PREFIX, PREVIOUS_PREFIX, TRASH_PREFIX = ".staging-", ".previous-", ".trash-"
PARKED = ".parked"  # inside .previous-<pid>: every old entry is parked, the new ones may be moving in


class ReportBusyError(RuntimeError):
    """Another build holds the report folder; the message names it."""


def _running_builds(output_dir: Path) -> list[str]:
    return sorted(p.name.removeprefix(STAGING_PREFIX) for p in output_dir.glob(f"{STAGING_PREFIX}*"))


@contextmanager
def locked(output_dir: Path):
    """Hold an exclusive lock on ``output_dir`` (``flock`` on the folder itself: released by the kernel
    when the build dies, however it dies) or raise :class:`ReportBusyError` at once."""
    output_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(output_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pids = _running_builds(output_dir)
            who = f"(pid {', '.join(pids)}) " if pids else ""
            stop = f"stop it (kill {pids[0]}) and " if pids else "stop it and "
            raise ReportBusyError(f"another report build {who}is writing {output_dir}; wait for it to finish "
                                  f"or {stop}run this again") from None
        yield
    finally:
        os.close(fd)


def _old_entries(output_dir: Path) -> list[Path]:
    return [e for e in sorted(output_dir.iterdir()) if e.name not in KEEP and not e.name.startswith(".")]


def _published_entries(staging: Path) -> list[Path]:
    """What goes into report/: everything but the intermediate folders; index.html last."""
    entries = [p for p in staging.iterdir() if p.name not in INTERMEDIATE]
    return sorted(entries, key=lambda p: (p.name == INDEX, p.name))


def _discard(folder: Path) -> None:
    """Delete ``folder``; renamed first, so that a deletion cut short is never mistaken for a parked report."""
    trash = folder.with_name(TRASH_PREFIX + folder.name.split("-", 1)[1])
    folder.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


def _publish_forward(staging: Path, output_dir: Path) -> None:
    for entry in _published_entries(staging):
        entry.rename(output_dir / entry.name)


def recover(output_dir: Path, log=print) -> None:
    """Finish what killed builds left in ``output_dir`` (call it holding :func:`locked`): put back a
    previous report whose publishing had not started moving new entries in, complete one that had, then
    remove every leftover staging and trash folder."""
    for previous in sorted(output_dir.glob(f"{PREVIOUS_PREFIX}*")):
        pid = previous.name.removeprefix(PREVIOUS_PREFIX)
        staging = output_dir / f"{STAGING_PREFIX}{pid}"
        if (previous / PARKED).exists() and staging.is_dir():
            _publish_forward(staging, output_dir)
            log(f"completed the interrupted publishing of build {pid}: {output_dir} holds its report")
        else:
            (previous / PARKED).unlink(missing_ok=True)
            for entry in sorted(previous.iterdir()):
                entry.rename(output_dir / entry.name)
            log(f"build {pid} was interrupted while publishing: {output_dir} holds the report before it")
        _discard(previous)
    for leftover in [*output_dir.glob(f"{STAGING_PREFIX}*"), *output_dir.glob(f"{TRASH_PREFIX}*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def new_staging(output_dir: Path) -> Path:
    """An empty ``output_dir/.staging-<pid>`` for this build (call it holding :func:`locked`, after
    :func:`recover`)."""
    staging = output_dir / f"{STAGING_PREFIX}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def replace_report(staging: Path, output_dir: Path) -> None:
    """Swap the previous report for the staged one by renames, rolling back if one fails.

    The previous report is parked in ``.previous-<pid>`` (the staging folder's pid, so that
    :func:`recover` can pair them) meanwhile; only after the new one is in place is it deleted."""
    previous = output_dir / f"{PREVIOUS_PREFIX}{staging.name.removeprefix(STAGING_PREFIX)}"
    previous.mkdir()
    moved_old, moved_new = [], []
    try:
        for entry in _old_entries(output_dir):
            entry.rename(previous / entry.name)
            moved_old.append(entry.name)
        (previous / PARKED).touch()
        for entry in _published_entries(staging):
            entry.rename(output_dir / entry.name)
            moved_new.append(entry.name)
    except OSError:
        # New entries back first: until .parked goes, an interruption here publishes the new report.
        for name in moved_new:
            (output_dir / name).rename(staging / name)
        (previous / PARKED).unlink(missing_ok=True)
        for name in moved_old:
            (previous / name).rename(output_dir / name)
        previous.rmdir()
        raise
    _discard(previous)
