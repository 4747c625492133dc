"""The trusted side of the exercise checks: the student's code runs in a sandbox, the verdict is made here.

A check never imports the student's files. It asks a :class:`StudentCode` session to call them --
``student.call("helpers.spiral:spiral_grad", points)`` -- in a separate process
(:mod:`helpers.checks.sandbox_worker`), gets plain data back (``torch.load(weights_only=True)``), and
compares that with references it computed itself. Each check runs in a freshly forked process of a
sandbox server that imported torch once, so an edit to a helper file is picked up at once, and a crash,
an endless loop or a memory blow-up costs only that check.

Isolation (:func:`isolation`): with bubblewrap (Debian's ``bubblewrap``) the server sees a read-only
system and Python, the student's ``helpers/`` read-only, a private ``/tmp``, no network and no other
file of the machine (not the instructor's project, the course, the gradebook or other submissions); as
root it drops to user ``nobody``. Without usable namespaces it is a plain subprocess with the same
resource limits, which keeps crashes and hangs apart but not files: :func:`isolation` says which.
Limits per check: CPU seconds, memory (address space for data), file size, wall-clock time, captured
output.
"""
from __future__ import annotations

import atexit
import collections
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

from helpers.checks import sandbox_worker as wire
from helpers.runtime.exercises import ExerciseNotDone

WORKER = Path(wire.__file__).resolve()
CODE_MOUNT = "/sandbox/code"
WORKER_MOUNT = "/sandbox/worker.py"
OUTPUT_LIMIT = 64 << 10  # bytes of the student's printed output kept per server
STARTUP_SECONDS = 120.0
PASSED_ENVIRONMENT = ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # kept inside the sandbox


WALL_SECONDS_ENV = "BACKPROP_LAB_CHECK_SECONDS"  # the wall-clock limit of one check (default 60)


@dataclass(frozen=True)
class Limits:
    """Per-check limits: CPU seconds, memory for data (bytes), files written (bytes), wall-clock seconds."""
    cpu_seconds: int = 60
    memory_bytes: int = 3 << 30
    file_bytes: int = 64 << 20
    wall_seconds: float = 60.0

    @classmethod
    def from_environment(cls) -> "Limits":
        """The defaults, with the wall clock from :data:`WALL_SECONDS_ENV` when set (tests shorten it)."""
        seconds = float(os.environ.get(WALL_SECONDS_ENV, cls.wall_seconds))
        return cls(cpu_seconds=max(1, int(min(seconds, cls.cpu_seconds))), wall_seconds=seconds)


class StudentCodeError(RuntimeError):
    """The student's code raised, crashed, ended its process or ran out of time or memory.

    ``str(error)`` says what happened and, where known, the file and line of the student's code."""


class SandboxUnavailable(RuntimeError):
    """The sandbox itself could not start (not the student's code): ``str(error)`` says what it printed."""


class ForbiddenToolUsed(RuntimeError):
    """The student's code called a tool its exercise must not use (``tool``: which, ``where``: file:line)."""

    def __init__(self, tool: str, group: str, where: str = ""):
        self.tool, self.group, self.where = tool, group, where
        super().__init__(f"{tool} was called{f' at {where}' if where else ''}: not allowed here ({group})")


class Unsupported:
    """What came back when the student's code returned something that is not data (a module, a generator)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def from_data(value):
    """The worker's data as the check sees it: objects as namespaces, non-data as :class:`Unsupported`."""
    if isinstance(value, dict):
        if "__unsupported__" in value and len(value) == 1:
            return Unsupported(str(value["__unsupported__"]))
        if "__object__" in value and set(value) == {"__object__", "fields"}:
            return types.SimpleNamespace(**{str(k): from_data(v) for k, v in value["fields"].items()})
        return {key: from_data(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(from_data(item) for item in value)
    if isinstance(value, list):
        return [from_data(item) for item in value]
    return value


# -- isolation -------------------------------------------------------------------------------------------


def _python_roots() -> list[str]:
    """The folders the sandbox needs for Python and its packages (read-only), outermost first."""
    roots = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(root for root in roots if not any(root != other and root.startswith(other + "/") for other in roots))


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _bwrap_arguments(helpers_dir: Path) -> list[str]:
    """bubblewrap's command line: the system and Python read-only, ``helpers_dir`` and the worker
    read-only, a private /tmp, no network; nothing else of the machine exists inside."""
    # the private /tmp first: a Python environment under /tmp is bound on top of it below, not hidden by it
    arguments = ["bwrap", "--ro-bind", "/usr", "/usr", "--perms", "1777", "--tmpfs", "/tmp"]
    for name in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(name):
            arguments += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            arguments += ["--ro-bind", name, name]
    for name in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
                 "/etc/group", "/etc/nsswitch.conf"):
        if os.path.exists(name):
            arguments += ["--ro-bind", name, name]
    made = set()
    for root in _python_roots() + [CODE_MOUNT + "/helpers", WORKER_MOUNT]:
        for parent in _parents(root):
            if parent not in made and parent not in ("/usr", "/tmp") and not parent.startswith("/usr/"):
                made.add(parent)
                arguments += ["--perms", "0755", "--dir", parent]
    for root in _python_roots():
        arguments += ["--ro-bind", root, root]
    arguments += ["--ro-bind", str(helpers_dir), CODE_MOUNT + "/helpers",
                  "--ro-bind", str(WORKER), WORKER_MOUNT,
                  "--proc", "/proc", "--dev", "/dev",
                  "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                  "--die-with-parent", "--new-session", "--chdir", "/tmp", "--clearenv"]
    if os.getuid() != 0:
        arguments += ["--unshare-user"]
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
                   "MPLCONFIGDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
                   "BACKPROP_LAB_SANDBOX_PIDNS": "1"}  # the worker may end every process it sees but itself
    if os.getuid() == 0:
        environment["BACKPROP_LAB_SANDBOX_DROP"] = "1"  # the worker becomes nobody before any student code
    for name in PASSED_ENVIRONMENT:
        if name in os.environ:
            environment[name] = os.environ[name]
    for name, value in environment.items():
        arguments += ["--setenv", name, value]
    return arguments


@functools.lru_cache(maxsize=1)
def _bwrap_problem() -> str:
    """'' when bubblewrap can start a sandbox here, else why not (missing, namespaces refused)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian package bubblewrap)"
    probe = _bwrap_arguments(Path(tempfile.gettempdir()))
    try:
        run = subprocess.run(probe + ["/usr/bin/true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap did not start ({error})"
    if run.returncode != 0:
        return f"bubblewrap refused here: {run.stderr.decode(errors='replace').strip()[:200]}"
    return ""


def _bwrap_refusal() -> str:
    """'' when the checks run under bubblewrap here; else why not (``BACKPROP_LAB_SANDBOX=subprocess`` asks not to)."""
    return "asked for" if os.environ.get("BACKPROP_LAB_SANDBOX") == "subprocess" else _bwrap_problem()


def isolation() -> str:
    """Which isolation the checks run under on this machine, in words."""
    problem = _bwrap_refusal()
    if not problem:
        user = "as user nobody" if os.getuid() == 0 else "as this user in a user namespace"
        return f"bubblewrap sandbox ({user}; no network, read-only system, private /tmp, nothing else visible)"
    return (f"plain subprocess with resource limits ({problem}): crashes and hangs are contained, but the code "
            "can read every file this user can read")


# -- the server ----------------------------------------------------------------------------------------------


class Sandbox:
    """A sandbox server for the ``helpers/`` of ``code_root``: one forked worker per :meth:`session`."""

    def __init__(self, code_root: Path, limits: Limits | None = None):
        self.code_root, self.limits = Path(code_root).resolve(), limits or Limits.from_environment()
        self.process: subprocess.Popen | None = None
        self.ready = False  # the running server said it is ready (it may have been launched without waiting)
        self.output = collections.deque(maxlen=400)
        self._output_size = 0
        self._lock = threading.Lock()

    # lifecycle ---------------------------------------------------------------------------------------
    def _command(self) -> tuple[list[str], str]:
        if not _bwrap_refusal():
            return _bwrap_arguments(self.code_root / "helpers") + [sys.executable, "-I", "-B", WORKER_MOUNT], CODE_MOUNT
        return [sys.executable, "-I", "-B", str(WORKER)], str(self.code_root)

    def launch(self) -> None:
        """Start the server process without waiting for it (a session waits until it is ready), so that its
        imports run beside the caller's; a running server is kept."""
        if self.alive():
            return
        command, self.mounted_root = self._command()
        environment = None if command[0] == "bwrap" else {
            "PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir(), "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
            **{k: v for k, v in os.environ.items() if k in PASSED_ENVIRONMENT}}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, start_new_session=True, env=environment,
                                        cwd=tempfile.gettempdir())
        self.ready = False
        threading.Thread(target=self._drain, args=(self.process.stderr,), daemon=True).start()

    def start(self) -> None:
        """Start the server (unless it runs) and wait until it is ready; :class:`SandboxUnavailable` if it is not."""
        self.launch()
        if self.ready:
            return
        try:
            ready = self._receive(time.monotonic() + STARTUP_SECONDS)
        except (EOFError, TimeoutError, wire.FrameError) as error:
            ready = f"{type(error).__name__} {error}".strip()
        if not isinstance(ready, dict) or ready.get("op") != "ready":
            self.close()
            raise SandboxUnavailable(f"the sandbox did not start: {self.recent_output() or ready}")
        self.ready = True

    def _drain(self, stream) -> None:
        try:
            for line in iter(stream.readline, b""):
                with self._lock:
                    if self._output_size < OUTPUT_LIMIT:
                        self.output.append(line.decode(errors="replace").rstrip()[:300])
                        self._output_size += len(line)
        except (ValueError, OSError):  # close() shut the stream under this read (a stop, or the interpreter's exit)
            return

    def recent_output(self, lines: int = 6) -> str:
        with self._lock:
            return "\n".join(list(self.output)[-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        """Stop the server and everything it started (the whole process group)."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            process.wait(timeout=10)
        for stream in (process.stdin, process.stdout, process.stderr):
            with contextlib.suppress(Exception):
                stream.close()

    # frames ----------------------------------------------------------------------------------------------
    def _send(self, value) -> None:
        try:
            wire.write_frame(self.process.stdin.fileno(), value)
        except (BrokenPipeError, OSError, AttributeError) as error:
            raise StudentCodeError(f"the sandbox process is gone ({error})") from None

    def _receive(self, deadline: float):
        """The next frame; ``TimeoutError`` when none arrives before ``deadline``, ``EOFError`` when the server
        is gone."""
        frame = wire.read_frame(self.process.stdout.fileno(), deadline)
        if frame is None:
            raise EOFError
        return frame

    # sessions --------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self, forbid: tuple[str, ...] = (), notebook_cells: tuple[str, ...] = ()):
        """A fresh forked worker for one check: yields a :class:`StudentCode` to call the student's code."""
        if not (self.alive() and self.ready):
            self.start()
        limits = self.limits
        self._send({"op": "session", "root": self.mounted_root, "forbid": list(forbid),
                    "notebook_cells": list(notebook_cells),
                    "limits": {"cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes,
                               "file_bytes": limits.file_bytes}})
        student = StudentCode(self, time.monotonic() + limits.wall_seconds)
        try:
            yield student
        finally:
            self._end(student)

    def _end(self, student: "StudentCode") -> None:
        """Close the session's worker; a server that does not answer is killed (the next check restarts it)."""
        if not self.alive():
            return
        try:
            if not student.over:
                self._send({"op": "end"})
            deadline = time.monotonic() + 15
            while not student.over:
                frame = self._receive(deadline)
                student.over = isinstance(frame, dict) and frame.get("op") == "session_over"
        except (StudentCodeError, TimeoutError, EOFError, wire.FrameError):
            self.close()


class StudentCode:
    """One check's access to the student's code: :meth:`call` runs a function in the sandbox."""

    def __init__(self, sandbox: Sandbox, deadline: float):
        self.sandbox, self.deadline, self.over = sandbox, deadline, False

    def call(self, target: str, *args, **kwargs):
        """``target(*args, **kwargs)`` in the sandbox, as data; ``target`` is ``"module:qualified.name"``.

        Shapes: those of the called function. Raises :class:`ExerciseNotDone` for a stub,
        :class:`ForbiddenToolUsed`, or :class:`StudentCodeError` (an exception, a crash, a timeout)."""
        if self.over:
            raise StudentCodeError("the student's process already ended in this check")
        sandbox = self.sandbox
        try:
            sandbox._send({"op": "call", "target": target, "args": tuple(args), "kwargs": dict(kwargs)})
            reply = sandbox._receive(self.deadline)
        except TimeoutError:
            sandbox.close()
            self.over = True
            raise StudentCodeError(f"no answer within {sandbox.limits.wall_seconds:g} s: an endless loop, or "
                                   "far too much work?") from None
        except (EOFError, wire.FrameError) as error:
            sandbox.close()
            self.over = True
            raise StudentCodeError(f"the sandbox process ended unexpectedly ({error or 'closed'})") from None
        if reply.get("op") == "session_over":
            self.over = True
            output = sandbox.recent_output(3)
            raise StudentCodeError(f"{reply.get('status') or 'the process ended'}"
                                   + (f"; last output: {output}" if output else ""))
        if "ok" in reply:
            return from_data(reply["ok"])
        if "not_done" in reply:
            info = reply["not_done"]
            raise ExerciseNotDone(info["function"], info["path"], info.get("exercise") or None)
        if "forbidden" in reply:
            info = reply["forbidden"]
            raise ForbiddenToolUsed(info["tool"], info["group"], info.get("where", ""))
        info = reply.get("error", {})
        where = f" at {info['where']}" if info.get("where") else ""
        raise StudentCodeError(f"{info.get('type', 'Error')}{where}: {info.get('message', '')}")

    def function(self, target: str):
        """A callable that runs ``target`` in the sandbox (see :meth:`call`)."""
        return functools.partial(self.call, target)


# -- which code, one server each ------------------------------------------------------------------------------

_servers: "collections.OrderedDict[Path, Sandbox]" = collections.OrderedDict()
MAX_SERVERS = 2


def sandbox_for(code_root: Path) -> Sandbox:
    """The server for the ``helpers/`` of ``code_root`` (kept running; at most :data:`MAX_SERVERS`)."""
    code_root = Path(code_root).resolve()
    if code_root in _servers:
        _servers.move_to_end(code_root)
        return _servers[code_root]
    while len(_servers) >= MAX_SERVERS:
        _, oldest = _servers.popitem(last=False)
        oldest.close()
    _servers[code_root] = server = Sandbox(code_root)
    return server


@atexit.register
def close_all() -> None:
    """Stop every sandbox server (at exit, and in tests)."""
    while _servers:
        _servers.popitem()[1].close()


def remove_copy(folder: Path) -> None:
    """Delete a folder made by :func:`grading_copy` (its files are read-only)."""
    for path in [Path(folder), *Path(folder).rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class GradingCopy:
    """A private copy of a submission's code for grading: the course's ``helpers/`` with the student's own
    files laid over it (``root``), and the submission's other files, which are ignored (``ignored``)."""
    root: Path
    ignored: list[str] = field(default_factory=list)


# What nbgrader's submit adds beside the student's files (its time stamp, the secret its feedback is checked
# with): never the student's work, so not worth naming to them as ignored (they are not copied either).
NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")


def grading_copy(source: Path, submission: Path, student_files: list[str], into: Path) -> GradingCopy:
    """Copy ``source/helpers`` and, from ``submission``, only ``student_files`` into ``into`` (read-only).

    Every other file of the submission that is not the course's own (notebooks aside) is listed as ignored:
    the grade never depends on it."""
    into = Path(into)
    shutil.copytree(Path(source) / "helpers", into / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))
    for relative in student_files:
        if relative.startswith("helpers/") and (Path(submission) / relative).is_file():
            shutil.copyfile(Path(submission) / relative, into / relative)
    ignored = []
    for path in sorted(Path(submission).rglob("*")):
        relative = path.relative_to(submission).as_posix()
        if (not path.is_file() or relative in student_files or "__pycache__" in relative or relative in NBGRADER_FILES
                or (path.suffix == ".ipynb" and "/" not in relative)):
            continue
        original = Path(source) / relative
        if not (original.is_file() and original.read_bytes() == path.read_bytes()):
            ignored.append(relative)
    for path in sorted(into.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    into.chmod(0o555)
    return GradingCopy(into, ignored)
