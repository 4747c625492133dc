"""torch's process-wide settings, the one place that changes them: the CPU thread count and the default dtype.

Small matrices (the course's MLPs, 32-pixel images) run fastest on one thread, never compete with other
processes for the cores, and give the same bits on every machine whatever its core count.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


def use_threads(n: int) -> int:
    """torch's CPU operations on ``n`` threads from now on (a notebook's setup cell); returns the previous count."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the thread count must be a positive int, got {n!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    return previous


@contextmanager
def torch_threads(n: int):
    """Context manager: torch's CPU operations on ``n`` threads inside the block, the previous count after."""
    previous = use_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def default_dtype(dtype: torch.dtype):
    """Context manager: torch's default dtype set to ``dtype`` inside the block (e.g. float64 for an exact
    comparison), the previous one after."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
