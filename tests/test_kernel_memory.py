"""benchmarks/kernel_memory.py: its parsing, its peak tracking, and a real process measured in a real cgroup."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "kernel_memory", Path(__file__).resolve().parents[1] / "benchmarks" / "kernel_memory.py")
kernel_memory = importlib.util.module_from_spec(_spec)
sys.modules["kernel_memory"] = kernel_memory  # its dataclasses look their module up there while being made
_spec.loader.exec_module(kernel_memory)
MIB = kernel_memory.MIB

V1_STAT = """cache 524288
rss 1662976
rss_huge 0
total_cache 1048576
total_rss 3325952
hierarchical_memory_limit 9223372036854771712
"""
PROC_STATUS = """Name:\tpython
Umask:\t0022
VmPeak:\t 3264388 kB
VmRSS:\t  519128 kB
RssAnon:\t  286484 kB
RssFile:\t  232644 kB
Threads:\t3
"""


def test_memory_stat_is_read_as_integers_per_key():
    stat = kernel_memory.parse_memory_stat(V1_STAT)
    assert stat["rss"] == 1662976 and stat["total_rss"] == 3325952 and stat["cache"] == 524288
    assert stat["hierarchical_memory_limit"] == 9223372036854771712


def test_proc_status_sizes_are_bytes_and_other_lines_are_left_out():
    sizes = kernel_memory.parse_proc_status(PROC_STATUS)
    assert sizes["RssAnon"] == 286484 * 1024 and sizes["VmRSS"] == 519128 * 1024
    assert "Threads" not in sizes and "Umask" not in sizes


def test_peaks_keep_the_highest_values_and_the_cell_running_at_the_anonymous_peak():
    peaks = kernel_memory.Peaks()
    peaks.add(cell=1, rss_anon=100, vm_rss=300, cgroup_anon=150, cgroup_cache=10, usage=160)
    peaks.add(cell=2, rss_anon=120, vm_rss=280, cgroup_anon=400, cgroup_cache=5, usage=405)  # a child's memory
    peaks.add(cell=3, rss_anon=110, vm_rss=290, cgroup_anon=200, cgroup_cache=50, usage=250)
    assert (peaks.anon, peaks.cell_at_anon_peak) == (400, 2)
    assert (peaks.kernel_anon, peaks.rss, peaks.cgroup_cache, peaks.cgroup_usage) == (120, 300, 50, 405)
    assert peaks.anon_by_cell == {1: 150, 2: 400, 3: 200} and peaks.samples == 3
    assert peaks.kernel_anon_by_cell == {1: 100, 2: 120, 3: 110}


def _writable_memory_cgroup() -> str:
    """'' when a memory cgroup can be made here; else why not."""
    try:
        kernel_memory.MemoryCgroup(64 * MIB).remove()
    except OSError as error:
        return f"no writable memory cgroup here (needs root or a delegated cgroup): {error}"
    return ""


needs_cgroup = pytest.mark.skipif(bool(_writable_memory_cgroup()), reason=_writable_memory_cgroup() or "-")

# Touches every page (a bytearray alone is calloc'd zero pages, never resident), then waits to be told to exit,
# so the sampler sees the allocation however slow the machine.
ALLOCATE = ("import sys; n = {mib} << 20; block = bytearray(n)\n"
            "for i in range(0, n, 4096): block[i] = 1\n"
            "print('allocated', flush=True); sys.stdin.read()")


def _measure_child(allocate_mib: int, limit_mib: int):
    cgroup = kernel_memory.MemoryCgroup(limit_mib * MIB)
    try:
        sampler = kernel_memory.Sampler(cgroup, interval_s=0.01)
        sampler.start()
        child = subprocess.Popen(kernel_memory.command_in_cgroup(
            cgroup, [sys.executable, "-c", ALLOCATE.format(mib=allocate_mib)]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        announced = child.stdout.readline()
        if announced:
            sampler.sample()  # the allocation is resident now: one sample at this moment, whatever the interval
        child.communicate(timeout=30)
        peaks = sampler.stop()
        return cgroup, child.returncode, announced, peaks, cgroup.oom_kills(), cgroup.peak_usage()
    finally:
        cgroup.remove()


@needs_cgroup
def test_a_child_in_the_cgroup_shows_what_it_allocated_and_the_cgroup_is_removed():
    cgroup, returncode, announced, peaks, oom_kills, peak_usage = _measure_child(allocate_mib=200, limit_mib=512)
    assert returncode == 0 and announced == b"allocated\n" and oom_kills == 0
    assert 200 * MIB <= peaks.anon < 512 * MIB
    assert 200 * MIB <= peaks.kernel_anon < 512 * MIB  # the child's own RssAnon: the sampler found its pid
    assert peak_usage is None or 200 * MIB <= peak_usage <= 512 * MIB
    assert not cgroup.path.exists()


@needs_cgroup
def test_a_child_over_the_limit_is_counted_as_oom_killed_and_the_cgroup_is_still_removed():
    cgroup, returncode, announced, peaks, oom_kills, _ = _measure_child(allocate_mib=300, limit_mib=128)
    assert returncode == -9 and announced == b"" and oom_kills >= 1
    assert peaks.anon <= 128 * MIB
    assert not cgroup.path.exists()
