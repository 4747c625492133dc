"""Peak memory of each notebook's kernel, run headlessly inside a 1 GiB memory cgroup (issue 24).

    sudo .venv/bin/python benchmarks/kernel_memory.py [NOTEBOOK.ipynb ...] [--limit-mib 1024] [--json PATH]

For each notebook (default: every ``notebooks/*.ipynb``) a fresh memory cgroup is made below this process's own,
limited to ``--limit-mib``, and the notebook is executed headlessly as ``tools.refresh`` does (nothing is written
back into ``notebooks/``). The kernel is started through ``/bin/sh``, which writes its own pid into the cgroup and
then ``exec``s ipykernel: the kernel is in the cgroup before it imports anything, and nothing else is. Every
:data:`SAMPLE_INTERVAL_S` the kernel's ``RssAnon`` and ``VmRSS`` (``/proc/PID/status``) and the cgroup's anonymous
and page-cache bytes (``memory.stat``) are read, with the cell then running. After the run: the cgroup's peak
usage (``memory.max_usage_in_bytes``; ``memory.peak`` on cgroup v2), ``memory.failcnt`` (how often usage hit the
limit; v2 counts ``max`` events; Linux 6.18 with cgroup v1 leaves it at 0 even at an OOM kill) and its OOM kills
(``memory.oom_control``/``memory.events``). One row per notebook: "anon MiB" is the cgroup's peak anonymous memory,
the kernel *and* the processes it started (the exercise checks' sandbox server imports torch too), which is what a
pod's limit counts; "kernel anon" and "kernel RSS" are the kernel process's own ``RssAnon`` and ``VmRSS``; "peak
cell" the cell running at the anonymous peak. A notebook passes when its kernel finished and its peak anonymous
memory is <= :data:`TARGET_ANON_MIB`. Exits 1 when one misses.

Needs root (or a delegated, writable memory cgroup); cgroup v1 (``/sys/fs/cgroup/memory``) and v2 (unified
``/sys/fs/cgroup/cgroup.controllers``) are both supported. The cgroup is removed after each notebook, also when it
fails. Sampled peaks can miss a spike shorter than the interval; the cgroup's own peak usage cannot (but it
includes page cache, which the kernel drops under the limit instead of failing).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1 << 20
LIMIT_MIB = 1024  # the pod's memory limit the notebooks must run under
TARGET_ANON_MIB = 800  # issue 24: at most this much anonymous memory per kernel, headroom under the limit
SAMPLE_INTERVAL_S = 0.05
CGROUP_NAME_PREFIX = "backprop-lab-kernel-"
V1_MEMORY_MOUNT = Path("/sys/fs/cgroup/memory")
V2_MOUNT = Path("/sys/fs/cgroup")
EMPTY_WAIT_S = 10.0  # how long the cgroup's processes get to exit after the kernel's shutdown before SIGKILL


def parse_memory_stat(text: str) -> dict[str, int]:
    """``memory.stat`` (``key value`` per line, v1 or v2) as a dict of ints."""
    stat = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            stat[key] = int(value)
    return stat


def parse_proc_status(text: str) -> dict[str, int]:
    """The memory lines of ``/proc/PID/status`` (``VmRSS:  1234 kB``) in bytes; other lines are left out."""
    sizes = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            sizes[key] = int(parts[0]) * 1024
    return sizes


def _own_cgroup_path(controller_line_prefix: str) -> str | None:
    """This process's cgroup path from ``/proc/self/cgroup`` (``4:memory:/a/b`` for v1, ``0::/a/b`` for v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if controller_line_prefix == "" and number == "0" and controllers == "":
            return path
        if controller_line_prefix and controller_line_prefix in controllers.split(","):
            return path
    return None


class MemoryCgroup:
    """A fresh memory cgroup with a limit, below this process's own (so an outer limit still applies), removed by
    :meth:`remove`. ``version`` is 1 or 2; the file names differ, the meaning of what is read here does not."""

    def __init__(self, limit_bytes: int):
        self.version, parent = self._find_parent()
        self.path = parent / f"{CGROUP_NAME_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.path.mkdir()
        try:
            if self.version == 1:
                (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
                memsw = self.path / "memory.memsw.limit_in_bytes"
                if memsw.exists():  # with swap on, the limit must cover swap too: else pages just move there
                    memsw.write_text(str(limit_bytes))
            else:
                (self.path / "memory.max").write_text(str(limit_bytes))
                swap = self.path / "memory.swap.max"
                if swap.exists():
                    swap.write_text("0")
        except OSError:
            self.path.rmdir()
            raise

    @staticmethod
    def _find_parent() -> tuple[int, Path]:
        if (V2_MOUNT / "cgroup.controllers").exists():  # unified hierarchy only
            own = V2_MOUNT / (_own_cgroup_path("") or "/").lstrip("/")
            parent = own if own.is_dir() else V2_MOUNT
            if "memory" not in (parent / "cgroup.subtree_control").read_text().split():
                # A child gets memory.max only when its parent hands the controller down; v2 refuses that for a
                # cgroup holding processes (other than the root), which a container's own cgroup usually does.
                (parent / "cgroup.subtree_control").write_text("+memory")
            return 2, parent
        if V1_MEMORY_MOUNT.is_dir():
            own = V1_MEMORY_MOUNT / (_own_cgroup_path("memory") or "/").lstrip("/")
            return 1, own if own.is_dir() else V1_MEMORY_MOUNT
        raise OSError("no memory cgroup found (neither /sys/fs/cgroup/memory nor a unified /sys/fs/cgroup)")

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def pids(self) -> list[int]:
        return [int(pid) for pid in self.procs_file.read_text().split()]

    def stat(self) -> dict[str, int]:
        return parse_memory_stat((self.path / "memory.stat").read_text())

    def anonymous_and_cache(self) -> tuple[int, int]:
        """Anonymous (heap, mmap'd arrays: what the processes really allocated) and page-cache bytes."""
        stat = self.stat()
        if self.version == 1:
            return stat.get("total_rss", stat.get("rss", 0)), stat.get("total_cache", stat.get("cache", 0))
        return stat.get("anon", 0), stat.get("file", 0)

    def usage(self) -> int:
        return int((self.path / ("memory.usage_in_bytes" if self.version == 1 else "memory.current")).read_text())

    def peak_usage(self) -> int | None:
        """The cgroup's own high-water mark (None on a v2 kernel older than 5.19, which has no memory.peak)."""
        peak = self.path / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")
        return int(peak.read_text()) if peak.exists() else None

    def _events(self) -> dict[str, int]:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return parse_memory_stat((self.path / name).read_text())

    def limit_hits(self) -> int:
        """How often usage reached the limit (v1 ``memory.failcnt``; v2 ``max`` events)."""
        if self.version == 1:
            return int((self.path / "memory.failcnt").read_text())
        return self._events().get("max", 0)

    def oom_kills(self) -> int:
        return self._events().get("oom_kill", 0)

    def remove(self) -> None:
        """Wait for the cgroup's processes to exit (SIGKILL those left after :data:`EMPTY_WAIT_S`: only what was
        started in it can be there), then remove it."""
        deadline = time.monotonic() + EMPTY_WAIT_S
        while self.path.exists() and self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.path.exists():
            return
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while self.pids() and time.monotonic() < deadline + EMPTY_WAIT_S:
            time.sleep(0.05)
        self.path.rmdir()


def command_in_cgroup(cgroup: MemoryCgroup, command: list[str]) -> list[str]:
    """``command`` run through ``/bin/sh``, which moves itself into ``cgroup`` and then ``exec``s it: the command
    keeps the shell's pid and is in the cgroup from its first allocation on."""
    return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup.procs_file), *command]


@dataclass
class Peaks:
    """The highest sampled values, and the cell running when the anonymous peak was seen (-1: before the first)."""
    anon: int = 0
    kernel_anon: int = 0
    rss: int = 0
    cgroup_anon: int = 0
    cgroup_cache: int = 0
    cgroup_usage: int = 0
    cell_at_anon_peak: int = -1
    samples: int = 0
    anon_by_cell: dict[int, int] = field(default_factory=dict)
    kernel_anon_by_cell: dict[int, int] = field(default_factory=dict)

    def add(self, cell: int, rss_anon: int, vm_rss: int, cgroup_anon: int, cgroup_cache: int, usage: int) -> None:
        self.samples += 1
        # The target is on the anonymous memory of the kernel's whole cgroup: what a pod's limit counts. The exercise
        # checks' sandbox server (helpers/checks/sandbox.py, its own torch import) is the kernel's child, so in it.
        anon = max(rss_anon, cgroup_anon)
        if anon > self.anon:
            self.anon, self.cell_at_anon_peak = anon, cell
        self.anon_by_cell[cell] = max(self.anon_by_cell.get(cell, 0), anon)
        self.kernel_anon_by_cell[cell] = max(self.kernel_anon_by_cell.get(cell, 0), rss_anon)
        self.kernel_anon = max(self.kernel_anon, rss_anon)
        self.rss = max(self.rss, vm_rss)
        self.cgroup_anon = max(self.cgroup_anon, cgroup_anon)
        self.cgroup_cache = max(self.cgroup_cache, cgroup_cache)
        self.cgroup_usage = max(self.cgroup_usage, usage)


class Sampler(threading.Thread):
    """Reads the cgroup and its first process's ``/proc`` status every ``interval_s`` into :class:`Peaks` until
    :meth:`stop`. ``running_cell()`` says which cell is executing."""

    def __init__(self, cgroup: MemoryCgroup, running_cell=lambda: -1, interval_s: float = SAMPLE_INTERVAL_S):
        super().__init__(daemon=True)
        self.cgroup, self.running_cell, self.interval_s = cgroup, running_cell, interval_s
        self.peaks, self.pid = Peaks(), None
        self._stopped = threading.Event()

    def sample(self) -> None:
        if self.pid is None:
            pids = self.cgroup.pids()
            self.pid = pids[0] if pids else None  # the wrapped command: the shell exec'd it, same pid
        try:
            status = parse_proc_status(Path(f"/proc/{self.pid}/status").read_text()) if self.pid else {}
        except (FileNotFoundError, ProcessLookupError):  # it exited (or was killed) between two samples
            status = {}
        anon, cache = self.cgroup.anonymous_and_cache()
        self.peaks.add(self.running_cell(), status.get("RssAnon", 0), status.get("VmRSS", 0), anon, cache,
                       self.cgroup.usage())

    def run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            self.sample()

    def stop(self) -> Peaks:
        self._stopped.set()
        self.join()
        self.sample()  # a last one: a run shorter than the interval still has one
        return self.peaks


@dataclass
class NotebookMemory:
    notebook: str
    peak_anon_mib: float
    kernel_peak_anon_mib: float
    peak_rss_mib: float
    cgroup_peak_usage_mib: float | None
    cgroup_peak_cache_mib: float
    failcnt: int
    oom_kills: int
    cell_at_anon_peak: int
    seconds: float
    error: str | None
    passed: bool
    anon_mib_by_cell: dict[int, float]
    kernel_anon_mib_by_cell: dict[int, float]


def kernel_manager_in(cgroup: MemoryCgroup) -> type:
    """nbclient's kernel manager, starting its kernel through :func:`command_in_cgroup`."""
    from jupyter_client.manager import AsyncKernelManager

    class KernelManagerInCgroup(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return command_in_cgroup(cgroup, super().format_kernel_cmd(extra_arguments))

    return KernelManagerInCgroup


def measure(notebook: Path, limit_mib: int, target_anon_mib: float = TARGET_ANON_MIB,
            kernel_env: dict[str, str] | None = None) -> NotebookMemory:
    """Execute ``notebook`` with its kernel in a fresh cgroup of ``limit_mib`` (and ``kernel_env`` added to its
    environment) and sample its memory."""
    from tools.notebook_runner import NotebookExecutionError, execute_notebook

    cgroup = MemoryCgroup(limit_mib * MIB)
    try:
        running = [-1]
        sampler = Sampler(cgroup, running_cell=lambda: running[0])
        sampler.start()
        error, start = None, time.perf_counter()
        try:
            execute_notebook(notebook, extra_env=kernel_env, kernel_manager_class=kernel_manager_in(cgroup),
                             on_cell_start=lambda index: running.__setitem__(0, index))
        except NotebookExecutionError as failure:
            error = str(failure)
        finally:
            peaks = sampler.stop()
        seconds = time.perf_counter() - start
        peak_usage, failcnt, oom_kills = cgroup.peak_usage(), cgroup.limit_hits(), cgroup.oom_kills()
    finally:
        cgroup.remove()
    if oom_kills and error is None:
        error = f"{oom_kills} process(es) in the kernel's cgroup were OOM-killed"
    mib = lambda value: round(value / MIB, 1)  # noqa: E731
    return NotebookMemory(
        notebook=notebook.name, peak_anon_mib=mib(peaks.anon),
        kernel_peak_anon_mib=mib(peaks.kernel_anon), peak_rss_mib=mib(peaks.rss),
        cgroup_peak_usage_mib=mib(peak_usage) if peak_usage is not None else None,
        cgroup_peak_cache_mib=mib(peaks.cgroup_cache), failcnt=failcnt, oom_kills=oom_kills,
        cell_at_anon_peak=peaks.cell_at_anon_peak, seconds=round(seconds, 1), error=error,
        passed=error is None and peaks.anon <= target_anon_mib * MIB,
        anon_mib_by_cell={cell: mib(value) for cell, value in sorted(peaks.anon_by_cell.items())},
        kernel_anon_mib_by_cell={cell: mib(value) for cell, value in sorted(peaks.kernel_anon_by_cell.items())})


COLUMNS = (("notebook", 34), ("anon MiB", 9), ("kernel anon", 11), ("kernel RSS", 10), ("cgroup peak", 11), ("failcnt", 7), ("OOM", 3),
           ("peak cell", 9), ("s", 6), ("result", 6))


def row(result: NotebookMemory) -> str:
    usage = "n/a" if result.cgroup_peak_usage_mib is None else f"{result.cgroup_peak_usage_mib:.0f}"
    values = (result.notebook, f"{result.peak_anon_mib:.0f}", f"{result.kernel_peak_anon_mib:.0f}",
              f"{result.peak_rss_mib:.0f}", usage,
              str(result.failcnt), str(result.oom_kills), str(result.cell_at_anon_peak), f"{result.seconds:.0f}",
              "passed" if result.passed else "FAILED")
    return "  ".join(value.rjust(width) if index else value.ljust(width)
                     for index, (value, (_, width)) in enumerate(zip(values, COLUMNS)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--limit-mib", type=int, default=LIMIT_MIB, help="the cgroup's memory limit")
    parser.add_argument("--target-anon-mib", type=float, default=TARGET_ANON_MIB)
    parser.add_argument("--kernel-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the kernel (to compare settings, e.g. MALLOC_ARENA_MAX=2)")
    parser.add_argument("--json", type=Path, help="also write the results (with the peak per cell) here")
    options = parser.parse_args(argv)
    kernel_env = dict(setting.split("=", 1) for setting in options.kernel_env)
    notebooks = options.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(f"kernel in a {options.limit_mib} MiB memory cgroup; target: peak anonymous <= "
          f"{options.target_anon_mib:.0f} MiB; sampled every {SAMPLE_INTERVAL_S * 1000:.0f} ms")
    print("  ".join(name.rjust(width) if index else name.ljust(width)
                    for index, (name, width) in enumerate(COLUMNS)), flush=True)
    results = []
    for notebook in notebooks:
        result = measure(notebook, options.limit_mib, options.target_anon_mib, kernel_env)
        results.append(result)
        print(row(result), flush=True)
        if result.error:
            print(f"    {result.error}", flush=True)
    if options.json:
        options.json.write_text(json.dumps({
            "limit_mib": options.limit_mib, "target_anon_mib": options.target_anon_mib,
            "sample_interval_s": SAMPLE_INTERVAL_S, "results": [asdict(result) for result in results]}, indent=1))
    missed = [result.notebook for result in results if not result.passed]
    print(f"target: peak anonymous <= {options.target_anon_mib:.0f} MiB and no kernel killed -> "
          + (f"NOT met by {', '.join(missed)}" if missed else "met by every notebook"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
