"""The report builder's worker processes and how a build stops: workers die with the builder, and an
interrupted build (Ctrl-C, SIGTERM, to it alone or to its process group) kills its workers and their
Jupyter kernels before it removes anything.

- Each worker asks Linux to kill it when the builder dies (``prctl(PR_SET_PDEATHSIG)``), even by
  SIGKILL, and ignores SIGINT: the builder decides when its workers stop. A kernel notices its worker
  is gone within a second (ipykernel's parent poller) and exits.
- :func:`stop_pool` kills the workers, waits for them, then kills the kernels they started (found in
  ``/proc`` by the ``JPY_PARENT_PID`` jupyter_client gives them; each kernel leads its own session,
  which a signal to the builder's group does not reach) and removes their connection and socket files.
- :func:`signals_raise` turns SIGINT and SIGTERM into :class:`BuildInterrupted` in the builder's main
  thread; :func:`signals_deferred` holds them back while the report is being published, and while the
  PDF is printed (Playwright's event loop would swallow the exception).
"""
from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PROC = Path("/proc")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class BuildInterrupted(KeyboardInterrupt):
    """The build received SIGINT or SIGTERM."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _pool_context():
    """Fork on Linux: the workers start at once with the parent's modules (seconds of imports) loaded;
    a fork-context pool forks all its workers before it starts its thread, so forking is safe. Spawn
    elsewhere (macOS system libraries are not fork-safe)."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _die_with_parent(parent_pid: int) -> None:
    """Worker initializer: be killed when the builder dies; leave Ctrl-C to the builder."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the builder died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


# ---------------------------------------------------------------------------------------------------
# Finding and killing kernels (Linux /proc; elsewhere the kernels' parent poller ends them)
# ---------------------------------------------------------------------------------------------------
def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # gone meanwhile, or another user's
        return b""


def _kernels_of(worker_pids: set[int]) -> dict[int, Path | None]:
    """Processes started by these workers (their children, or carrying ``JPY_PARENT_PID`` of one),
    each with its kernel connection file (``-f FILE`` on its command line) when it has one."""
    found = {}
    markers = {f"JPY_PARENT_PID={pid}".encode() for pid in worker_pids}
    for entry in PROC.glob("[0-9]*"):
        stat = _read(entry / "stat")
        ppid = int(stat.rsplit(b")", 1)[1].split()[1]) if stat else 0
        if ppid not in worker_pids and not markers & set(_read(entry / "environ").split(b"\0")):
            continue
        argv = _read(entry / "cmdline").decode(errors="replace").split("\0")
        connection = argv[argv.index("-f") + 1] if "-f" in argv[:-1] else None
        found[int(entry.name)] = Path(connection) if connection else None
    return found


def _gone(pid: int) -> bool:
    stat = _read(PROC / str(pid) / "stat")
    return not stat or stat.rsplit(b")", 1)[1].split()[0] == b"Z"


def _kill(pid: int) -> None:
    try:
        if os.getpgid(pid) == pid:  # a kernel leads its own group: its own children go too
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _remove_ipc_sockets(connection: Path) -> None:
    """A killed kernel that talked over IPC leaves its socket files (``<ip>-<port>``, named in its
    connection file); a kernel over TCP has none."""
    try:
        info = json.loads(connection.read_text())
    except (OSError, ValueError):
        return
    if info.get("transport") == "ipc" and info.get("ip"):
        for key in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
            if key in info:
                Path(f"{info['ip']}-{info[key]}").unlink(missing_ok=True)


def stop_pool(pool: ProcessPoolExecutor, timeout_s: float = 10.0) -> None:
    """Kill the pool's workers and the kernels they started, and wait until they are gone."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # no public API lists them
    pids = {w.pid for w in workers if w.pid}
    kernels = _kernels_of(pids) if PROC.is_dir() else {}  # children first: a kernel still starting
    for worker in workers:
        worker.kill()
    for worker in workers:
        worker.join(timeout_s)
    if PROC.is_dir():
        kernels.update(_kernels_of(pids))
    for pid in kernels:
        _kill(pid)
    deadline = time.monotonic() + timeout_s
    while any(not _gone(pid) for pid in kernels) and time.monotonic() < deadline:
        time.sleep(0.05)
    for connection in filter(None, kernels.values()):
        _remove_ipc_sockets(connection)
        connection.unlink(missing_ok=True)
    pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------------------------------
# The builder's signals
# ---------------------------------------------------------------------------------------------------
class _SignalState:
    deferring = False
    pending: int | None = None
    raised = False


_state = _SignalState()


def _on_signal(signum, frame):
    if _state.deferring or _state.raised:  # publishing, or already stopping: finish that first
        _state.pending = _state.pending or signum
        return
    _state.raised = True
    raise BuildInterrupted(signum)


@contextmanager
def signals_raise():
    """SIGINT and SIGTERM raise :class:`BuildInterrupted` (once; later ones wait) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, _on_signal) for s in STOP_SIGNALS}
    _state.deferring, _state.pending, _state.raised = False, None, False
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


@contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM back meanwhile; one that came is raised on leaving, also when what it held
    back failed meanwhile (a SIGINT to the group also stops the browser that prints the PDF)."""
    _state.deferring = True
    try:
        yield
    except Exception as error:
        if _state.pending is not None and not _state.raised:
            _state.raised = True
            raise BuildInterrupted(_state.pending) from error
        raise
    finally:
        _state.deferring = False
    if _state.pending is not None and not _state.raised:
        _state.raised = True
        raise BuildInterrupted(_state.pending)
