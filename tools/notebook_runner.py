"""Execute a notebook headlessly with nbclient (used by ``make refresh`` and the report builder)."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_core.paths import jupyter_runtime_dir
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets.config import Config

from helpers.runtime.headless import HEADLESS_ENV

DEFAULT_CELL_TIMEOUT_S = 600
FOLLOW_UP_TIMEOUT_S = 120  # a follow-up reads a few variables: longer means the kernel died or hangs


SOCKET_PREFIX = "nbclient-"  # then the pid of the process that started the kernel


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_sockets(runtime: Path) -> None:
    """Socket files left by kernels whose starter died without cleaning up (a build killed by SIGKILL)."""
    for path in runtime.glob(f"{SOCKET_PREFIX}*-ipc-*"):
        pid = path.name[len(SOCKET_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def kernel_config() -> Config:
    """Kernels talk over Unix sockets: local only, and ipykernel does not print its "running over TCP
    without encryption" warning into every build's output. The sockets get an absolute path in Jupyter's
    runtime folder (the default, ``kernel-ipc``, is relative: the kernel, which runs in the notebook's
    folder, and this process would look in different places). Both sides remove them on shutdown."""
    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    remove_stale_sockets(runtime)
    sockets = runtime / f"{SOCKET_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-ipc"
    return Config({"KernelManager": {"transport": "ipc", "ip": str(sockets)}})


class NotebookExecutionError(RuntimeError):
    """A cell failed: carries the notebook, the cell's index and the error it raised."""

    def __init__(self, notebook: Path, cell_index: int, error_name: str, error_value: str, source: str):
        self.notebook, self.cell_index = notebook, cell_index
        self.error_name, self.error_value = error_name, error_value
        first_line = source.strip().splitlines()[0] if source.strip() else ""
        super().__init__(f"{notebook.name}: cell {cell_index} ({first_line[:60]!r}) raised "
                         f"{error_name}: {error_value}")


@dataclass
class ExecutionResult:
    notebook: nbformat.NotebookNode
    seconds: float


def after_cell(path: Path, follow_up, timeout_s: float, kernel_client):
    """nbclient's ``on_cell_executed`` hook: runs the code ``follow_up(cell)`` returns (if any) in the kernel
    that ``kernel_client()`` talks to, outside the notebook; its error, or no answer within ``timeout_s``, is
    the cell's error."""
    async def run_follow_up(cell, cell_index, execute_reply):
        code = follow_up(cell)
        if not code:
            return
        errors = []  # the error the follow-up's code raised, if any; its other outputs are dropped

        def keep_error(message):
            if message["header"]["msg_type"] == "error":
                errors.append(message["content"])

        # store_history=False: the kernel's execution count, and so the next cell's, stays where it was
        try:
            reply = await kernel_client().execute_interactive(code, store_history=False, timeout=timeout_s,
                                                              output_hook=keep_error)
        except TimeoutError:
            raise NotebookExecutionError(path, cell_index, "TimeoutError", f"after this cell: no answer within "
                                         f"{timeout_s:g} s (the kernel died or hangs)", cell.source) from None
        if reply["content"]["status"] != "ok":
            content = errors[0] if errors else reply["content"]
            raise NotebookExecutionError(path, cell_index, content.get("ename", "Error"),
                                         f"after this cell: {content.get('evalue', '')}", cell.source)
    return run_follow_up


def execute_notebook(path: Path, extra_env: dict[str, str] | None = None,
                     cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S, kernel_manager_class: type | None = None,
                     on_cell_start=None, follow_up=None, follow_up_timeout_s: float = FOLLOW_UP_TIMEOUT_S
                     ) -> ExecutionResult:
    """Run every cell of ``path`` in a fresh kernel (cwd = the notebook's folder), headless.

    Returns the executed notebook (the file is not written) and the wall time. Raises
    :class:`NotebookExecutionError` naming the failing cell. ``kernel_manager_class`` replaces nbclient's
    (``benchmarks/kernel_memory.py`` starts the kernel inside a memory cgroup); ``on_cell_start(cell_index)``
    is told which cell starts running. ``follow_up(cell)`` may return code to run in the kernel right after
    that cell, outside the notebook: its outputs are dropped and the execution counts do not move (the report
    build records headline numbers this way); an error in it, or no answer within ``follow_up_timeout_s``, is
    the cell's error.
    """
    path = Path(path).resolve()
    notebook = nbformat.read(path, as_version=4)
    saved_env = dict(os.environ)
    os.environ.update({HEADLESS_ENV: "1", **(extra_env or {})})
    running = [-1]  # the index of the cell being executed: a dead kernel leaves no error output to find it by

    def track_cell(cell, cell_index):
        running[0] = cell_index
        if on_cell_start is not None:
            on_cell_start(cell_index)

    manager = {"kernel_manager_class": kernel_manager_class} if kernel_manager_class is not None else {}
    client = NotebookClient(notebook, timeout=cell_timeout_s, kernel_name="python3", config=kernel_config(),
                            resources={"metadata": {"path": str(path.parent)}}, record_timing=False,
                            on_cell_start=track_cell, **manager)
    if follow_up is not None:
        client.on_cell_executed = after_cell(path, follow_up, follow_up_timeout_s, lambda: client.kc)
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        index = next((i for i, cell in enumerate(notebook.cells) if any(
            out.get("output_type") == "error" for out in cell.get("outputs", []))), -1)
        source = notebook.cells[index].source if index >= 0 else ""
        raise NotebookExecutionError(path, index, error.ename, error.evalue, source) from None
    except (DeadKernelError, CellTimeoutError) as error:
        index = running[0]
        source = notebook.cells[index].source if index >= 0 else ""
        what = (f"the cell ran longer than {cell_timeout_s} s" if isinstance(error, CellTimeoutError) else
                "the kernel died while running this cell (it crashed, ran out of memory or was killed)")
        raise NotebookExecutionError(path, index, type(error).__name__, what, source) from None
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    return ExecutionResult(notebook, time.perf_counter() - start)
