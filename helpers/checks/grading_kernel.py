"""The grading kernel: the process nbgrader starts for each notebook of a submission (``tools.grading`` writes
its kernelspec), and the submission's private code copy that its checks run on.

:func:`main` is the kernel's entry point. Before ipykernel loads, it makes the copy and starts the sandbox
server on it, so that the server imports torch while the kernel starts and imports the checks (each alone
about a second; before, the first check cell waited for both one after the other). After a clean shutdown it
runs the exit handlers (the kernel's own, the sandbox servers' stop, the copy's removal) and ends the process
without tearing down the interpreter, which with torch loaded takes a third of a second per notebook and
changes nothing outside the process. The server is the one the first check would have started: the same
command, the same copy, the same isolation.
"""
from __future__ import annotations

import atexit
import os
import sys
import tempfile
from pathlib import Path

from helpers.checks.sandbox import GradingCopy, grading_copy, remove_copy, sandbox_for
from helpers.runtime.variant import GRADING_SOURCE_ENV  # the course's source/<assignment>/ (set by the grader)

GRADING_FILES_ENV = "BACKPROP_LAB_GRADING_STUDENT_FILES"  # the student's files, os.pathsep-separated
_copy: GradingCopy | None = None


def submission_copy() -> GradingCopy | None:
    """Under autograding (the grader sets :data:`GRADING_SOURCE_ENV`): the private read-only copy of the course's
    ``helpers/`` with the submission's own files (the current folder) laid over it, made once per kernel and
    removed at its exit; ``None`` otherwise."""
    global _copy
    source = os.environ.get(GRADING_SOURCE_ENV)
    if not source:
        return None
    if _copy is None:
        files = [name for name in os.environ.get(GRADING_FILES_ENV, "").split(os.pathsep) if name]
        folder = Path(tempfile.mkdtemp(prefix="backprop-lab-grading-"))
        atexit.register(remove_copy, folder)
        _copy = grading_copy(Path(source), Path.cwd(), files, folder / "code")
    return _copy


def start_sandbox_early() -> bool:
    """Under autograding, start the sandbox server for the submission's copy without waiting for it (the first
    check waits); returns whether it was started. A failure is left to the first check, which reports it as
    it always does (the check retries the start and names the error)."""
    try:
        copy = submission_copy()
        if copy is None:
            return False
        sandbox_for(copy.root).launch()
    except Exception:  # noqa: BLE001 - whatever it is, the kernel must still start: the first check retries and reports it
        return False
    return True


def _end_without_teardown() -> None:
    """Run the exit handlers now, then end the process: what a normal exit does, minus freeing every module."""
    atexit._run_exitfuncs()  # noqa: SLF001 - CPython's own runner of the exit handlers (they run once)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # a closed or replaced stream: nothing left to write
            pass
    os._exit(0)


def main() -> None:
    """The grading kernel: the sandbox server starts, then ipykernel (its arguments from ``sys.argv``). Only a
    clean shutdown takes the short exit; an error ends the process as Python always does, with its status."""
    start_sandbox_early()
    from ipykernel.kernelapp import launch_new_instance
    launch_new_instance()
    _end_without_teardown()
