"""Progress bars for long loops: ``tqdm.auto`` live, silent in headless runs (stable stored outputs)."""
from __future__ import annotations

from tqdm.auto import tqdm

from helpers.runtime.headless import is_headless


def progress(iterable=None, **kwargs):
    """``tqdm.auto.tqdm`` with the same arguments, disabled when :func:`is_headless`."""
    kwargs.setdefault("disable", is_headless())
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
