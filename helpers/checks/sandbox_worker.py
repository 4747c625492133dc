"""The sandbox side of the exercise checks: the only process that runs the student's code.

Started by :mod:`helpers.checks.sandbox` (inside bubblewrap where it can), it imports torch once and then
forks one child per check *session*, so every check imports the student's files afresh (an edit is picked
up without a kernel restart) and a crash, ``sys.exit`` or endless loop costs only that check. A child
answers calls -- ``"helpers.spiral:spiral_grad"`` with tensors in, data out -- and never decides a verdict:
the trusted side compares what comes back. Everything crossing the boundary is ``torch.save`` data, read
back with ``torch.load(weights_only=True)``, which builds tensors, numbers, strings and containers only.

Protocol on the pipes (both directions): frames of ``MAGIC``, an 8-byte length and a ``torch.save`` payload.
The server reads ``{"op": "session", ...}``, forks, and the child reads ``{"op": "call", ...}`` frames until
``{"op": "end"}``; after each child the server writes ``{"op": "session_over", "status": ...}``.
"""
from __future__ import annotations

import builtins
import contextlib
import dataclasses
import gc
import importlib
import io
import os
import resource
import select
import struct
import sys
import time
import traceback
import types

MAGIC = b"BPLB"
HEADER = struct.Struct(">4sQ")
MAX_FRAME = 256 << 20  # no check sends or returns more than this
NOBODY = 65534

# -- framing (shared with the trusted side) ----------------------------------------------------------------


def write_frame(fd: int, value) -> None:
    """Write ``value`` (tensors, numbers, strings, containers) as one frame to the file descriptor ``fd``."""
    import torch
    buffer = io.BytesIO()
    torch.save(value, buffer)
    payload = buffer.getvalue()
    data = HEADER.pack(MAGIC, len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int, deadline: float | None = None) -> bytes | None:
    """``size`` bytes from ``fd``; None at end of file; ``TimeoutError`` past ``deadline`` (time.monotonic)."""
    chunks, left = [], size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class FrameError(RuntimeError):
    """The other side wrote something that is not a frame (it died mid-write, or wrote to the pipe)."""


def decode(payload: bytes):
    """A frame's value, loaded safely: ``weights_only=True`` builds data only, never runs code."""
    import torch
    try:
        return torch.load(io.BytesIO(payload), weights_only=True)
    except Exception as error:
        raise FrameError(f"unreadable frame ({type(error).__name__})") from None


def read_frame(fd: int, deadline: float | None = None):
    """The next frame's value from ``fd``; None at end of file; ``TimeoutError`` past ``deadline``."""
    header = _read_exactly(fd, HEADER.size, deadline)
    if header is None:
        return None
    magic, size = HEADER.unpack(header)
    if magic != MAGIC or size > MAX_FRAME:
        raise FrameError("the pipe holds something other than a frame")
    payload = _read_exactly(fd, size, deadline)
    if payload is None:
        raise FrameError("the frame was cut short")
    return decode(payload)


# -- data only across the boundary -------------------------------------------------------------------------


def to_data(value, depth: int = 0):
    """``value`` as plain data: tensors (detached copies), numbers, strings, None, tuples, lists, dicts;
    dataclasses and namespaces as ``{"__object__": type name, "fields": {...}}``; anything else as
    ``{"__unsupported__": type name}``, so the trusted side can say what came back instead of a tensor."""
    import torch
    if depth > 20:
        return {"__unsupported__": "nesting deeper than 20"}
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if value is None or isinstance(value, (bool, int, float, str, complex)):
        return value if not isinstance(value, complex) else {"__unsupported__": "complex"}
    if isinstance(value, (torch.dtype, torch.Size)):
        return value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(to_data(item, depth + 1) for item in value)
    if isinstance(value, list):
        return [to_data(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key if isinstance(key, (str, int)) else repr(key): to_data(item, depth + 1)
                for key, item in value.items()}
    fields = None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    elif isinstance(value, tuple):  # a named tuple
        fields = value._asdict()
    elif isinstance(value, types.SimpleNamespace):
        fields = vars(value)
    if fields is not None:
        return {"__object__": type(value).__name__, "fields": {k: to_data(v, depth + 1) for k, v in fields.items()}}
    import numpy
    if isinstance(value, numpy.ndarray):
        return {"__unsupported__": "numpy.ndarray"}
    if isinstance(value, numpy.generic):
        return value.item()
    return {"__unsupported__": type(value).__name__}


# -- forbidden tools ----------------------------------------------------------------------------------------


class ForbiddenTool(RuntimeError):
    """Raised when the student's code calls a tool its exercise must not use."""

    def __init__(self, tool: str, group: str):
        self.tool, self.group = tool, group
        super().__init__(f"{tool} is not allowed in this exercise ({group})")


_student_running = False


@contextlib.contextmanager
def student_running():
    """Within this block the calls run the student's code: forbidden tools raise :class:`ForbiddenTool`."""
    global _student_running
    saved, _student_running = _student_running, True
    try:
        yield
    finally:
        _student_running = saved


@contextlib.contextmanager
def harness_running():
    """Within this block the harness itself runs (forbidden tools allowed), even inside a student call."""
    global _student_running
    saved, _student_running = _student_running, False
    try:
        yield
    finally:
        _student_running = saved


def _guard(function, tool: str, group: str):
    def guarded(*args, **kwargs):
        if _student_running:
            raise ForbiddenTool(tool, group)
        return function(*args, **kwargs)
    guarded.__wrapped__ = function
    guarded.__name__ = getattr(function, "__name__", tool)
    return guarded


def _block(owner, name: str, tool: str, group: str) -> None:
    original = getattr(owner, name, None)
    if original is not None:
        setattr(owner, name, _guard(original, tool, group))


def _block_autograd() -> None:
    import torch
    import torch.autograd.functional as functional
    group = "autograd: compute the gradients by hand"
    _block(torch.autograd, "grad", "torch.autograd.grad", group)
    _block(torch.autograd, "backward", "torch.autograd.backward", group)
    _block(torch.Tensor, "backward", "Tensor.backward", group)
    for name in ("jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"):
        _block(functional, name, f"torch.autograd.functional.{name}", group)
    for name in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap"):
        _block(torch.func, name, f"torch.func.{name}", group)
    engine = torch.autograd.variable.Variable._execution_engine

    class GuardedEngine:
        """The autograd engine, refusing to run while the student's code runs (any path into backward)."""

        def __getattr__(self, name):
            attribute = getattr(engine, name)
            return _guard(attribute, "the autograd engine", group) if name.startswith("run_backward") else attribute

    torch.autograd.variable.Variable._execution_engine = GuardedEngine()
    import torch.autograd.graph as graph
    if hasattr(graph, "_engine_run_backward"):
        _block(graph, "_engine_run_backward", "the autograd engine", group)


def _block_optim() -> None:
    import torch.optim
    group = "torch.optim: write the update yourself"
    _block(torch.optim.Optimizer, "__init__", "a torch.optim optimizer", group)
    for module_name in ("torch.optim._functional", "torch.optim.sgd", "torch.optim.adam"):
        with contextlib.suppress(ImportError):
            module = importlib.import_module(module_name)
            for name in ("sgd", "adam", "adamw"):
                _block(module, name, f"{module_name}.{name}", group)


def _is_reference(module_name: str, name: str, value) -> bool:
    return (callable(value) and not name.startswith("_") and module_name.startswith("helpers.")
            and getattr(value, "__module__", "") == module_name
            and (module_name.endswith("_references") or name.endswith("_reference")))


def _guard_references_of(module) -> None:
    group = "a reference of the bundle: write the code yourself"
    for name, value in list(vars(module).items()):
        if _is_reference(module.__name__, name, value):
            setattr(module, name, _guard(value, f"{module.__name__}.{name}", group))


def _block_references() -> None:
    """The bundle's references (``*_reference`` functions, ``*_references`` modules, the stand-ins and the checks'
    references alike): the harness may call them, the student's code may not (a check judges the student's work)."""
    from helpers.runtime.imports import after_import
    after_import(lambda name: name.startswith("helpers.") and name != "helpers.checks.sandbox_worker", _guard_references_of)


def original(function):
    """The unguarded function behind a guarded one (for the harness)."""
    return getattr(function, "__wrapped__", function)


def stand_in(function):
    """``function`` to put in place of an exercise the check does not judge: runs as harness code (its own
    use of autograd or references is not the student's)."""
    function = original(function)

    def run(*args, **kwargs):
        with harness_running():
            return function(*args, **kwargs)
    run.__name__ = getattr(function, "__name__", "stand_in")
    return run


BLOCKS = {"autograd": _block_autograd, "torch.optim": _block_optim, "references": _block_references}


# -- running the student's code ------------------------------------------------------------------------------


class NotebookCells(types.ModuleType):
    """The student's solution cells of a notebook, run as one module (``"__notebook__:fit_line"``)."""


NOTEBOOK_PRELUDE: dict = {}  # names the notebook's earlier cells define, set by a harness before the cells run


def _load_notebook(cells: list[str]) -> types.ModuleType:
    module = NotebookCells("__notebook__")
    module.__dict__["__builtins__"] = builtins
    module.__dict__.update(NOTEBOOK_PRELUDE)
    for number, source in enumerate(cells, 1):
        code = compile(source, f"<notebook solution cell {number}>", "exec")
        with student_running():
            exec(code, module.__dict__)  # noqa: S102 - the sandbox runs the student's cells by design
    return module


def resolve(target: str, notebook_cells: list[str]):
    """The callable named ``"module:qualified.name"`` (imported inside the sandbox)."""
    module_name, _, qualified = target.partition(":")
    if module_name == "__notebook__":
        module = sys.modules.get("__notebook__") or _load_notebook(notebook_cells)
        sys.modules["__notebook__"] = module
    elif module_name.startswith("helpers.checks."):
        with harness_running():
            module = importlib.import_module(module_name)
    else:
        with student_running():
            module = importlib.import_module(module_name)
    value = module
    for part in qualified.split("."):
        value = getattr(value, part)
    return value


def _location(error: BaseException, root: str) -> str:
    """``file:line`` of the deepest frame of the student's files (or of a syntax error), else ''."""
    if isinstance(error, SyntaxError) and error.filename:
        name = error.filename
        return f"{os.path.relpath(name, root) if name.startswith(root) else name}:{error.lineno}"
    found = ""
    for frame in traceback.extract_tb(error.__traceback__):
        name = frame.filename
        if (name.startswith(root) and "/helpers/checks/" not in name) or name.startswith("<notebook"):
            found = f"{os.path.relpath(name, root) if name.startswith(root) else name}:{frame.lineno}"
    return found


def _error_reply(error: BaseException, root: str) -> dict:
    if isinstance(error, ForbiddenTool):
        return {"forbidden": {"tool": error.tool, "group": error.group, "where": _location(error, root)}}
    if type(error).__name__ == "ExerciseNotDone":
        return {"not_done": {"function": str(getattr(error, "function", "?")), "path": str(getattr(error, "path", "?")),
                             "exercise": str(getattr(error, "exercise", ""))}}
    message = str(error)
    return {"error": {"type": type(error).__name__, "message": message[:400], "where": _location(error, root)}}


def _answer(request: dict, root: str, notebook_cells: list[str]) -> dict:
    try:
        function = resolve(request["target"], notebook_cells)
        harness = request["target"].startswith("helpers.checks.")
        with (harness_running() if harness else student_running()):
            result = function(*request.get("args", ()), **request.get("kwargs", {}))
        return {"ok": to_data(result)}
    except BaseException as error:  # noqa: BLE001 - everything the student's code raises becomes data
        if isinstance(error, KeyboardInterrupt):
            raise
        return _error_reply(error, root)


def _limit(kind: int, value: int) -> None:
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(kind)
        hard = value if hard == resource.RLIM_INFINITY else min(hard, value)
        resource.setrlimit(kind, (min(value, hard), hard))


def _session(request: dict, requests: int, replies: int) -> None:
    """One check's child process: limits, blocks, then calls until ``end``."""
    limits = request.get("limits", {})
    _limit(resource.RLIMIT_CPU, int(limits.get("cpu_seconds", 60)))
    _limit(resource.RLIMIT_DATA, int(limits.get("memory_bytes", 3 << 30)))
    _limit(resource.RLIMIT_FSIZE, int(limits.get("file_bytes", 64 << 20)))
    root = request["root"]
    sys.path.insert(0, root)
    try:
        from helpers.runtime.exercises import no_stand_ins
        no_stand_ins()  # the checks judge the student's own code: no stand-in for an unfinished exercise
    except Exception:  # noqa: BLE001 - a broken runtime file only matters if a call needs it
        pass
    for name in request.get("forbid", ()):
        try:
            BLOCKS[name]()
        except Exception:  # noqa: BLE001 - a block that cannot install is reported by its absence
            pass
    cells = list(request.get("notebook_cells", ()))
    while True:
        call = read_frame(requests)
        if call is None or call.get("op") == "end":
            return
        write_frame(replies, _answer(call, root, cells))


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        signal_number = os.WTERMSIG(status)
        reason = {9: "killed (memory or CPU time limit?)", 24: "CPU time limit reached", 25: "file size limit reached",
                  11: "crashed (segmentation fault)", 6: "aborted"}.get(signal_number, "killed")
        return f"the process was {reason} (signal {signal_number})"
    return (f"the process exited with status {os.WEXITSTATUS(status)} before answering (os._exit or a crash in "
            "your code?)")


def _import_libraries() -> None:
    """Import once here the libraries the checks use (and the forbidden-tool blocks patch), shared by every
    forked check. Only libraries: the workspace's own modules are imported afresh in each check, so an edit is
    seen at once."""
    import numpy  # noqa: F401
    import torch
    import torch.autograd.functional  # noqa: F401
    import torch.nn.functional  # noqa: F401
    import torch.optim  # noqa: F401
    # a check's inputs are small: one thread is fastest, and never spin-waits for a core the notebook's kernel holds
    torch.set_num_threads(1)


def serve(requests: int = 0, replies: int = 1) -> None:
    """The server loop: one forked child per session, its end reported as ``session_over``."""
    if os.getuid() == 0 and os.environ.get("BACKPROP_LAB_SANDBOX_DROP") == "1":
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    _import_libraries()
    # The forked checks share the server's memory until they write to it, and Python writes to every object its
    # cyclic garbage collector visits: a check's first collection would copy the pages of all the objects the
    # imports made (tens of MiB per check). Frozen objects are never visited.
    gc.collect()
    gc.freeze()
    write_frame(replies, {"op": "ready", "uid": os.getuid()})
    while True:
        request = read_frame(requests)
        if request is None or request.get("op") == "quit":
            return
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.setpgid(0, 0)  # the check's processes form one group, ended with it
                os.dup2(2, 1)  # the student's prints go to the captured stderr, never into the frames
                _session(request, requests, replies)
            except BaseException:  # noqa: BLE001 - the child must never return into the server loop
                code = 70
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        _end_strays(pid)
        write_frame(replies, {"op": "session_over", "status": _describe(status)})


def _end_strays(group: int) -> None:
    """Kill whatever a check left running (processes the student's code forked), so that nothing of one check
    reads the next one's requests: in the sandbox's own pid namespace every process but this server and its
    init, else the check's process group."""
    import signal
    if os.environ.get("BACKPROP_LAB_SANDBOX_PIDNS") == "1":
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in (1, os.getpid()):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry), signal.SIGKILL)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG) != (0, 0):
            pass


if __name__ == "__main__":
    # the harness modules import this file by its package name: let them find this very module
    sys.modules["helpers.checks.sandbox_worker"] = sys.modules["__main__"]
    replies = os.dup(1)
    os.dup2(2, 1)
    serve(0, replies)
