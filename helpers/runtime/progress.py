"""Progress bars for long loops: ``tqdm.auto`` live, silent in headless runs (stable stored outputs)."""
from __future__ import annotations

from tqdm.auto import tqdm

from helpers.runtime.headless import is_headless


class _Progress(tqdm):
    """``tqdm.auto.tqdm`` with two classroom fixes for bars made with ``leave=False``.

    A bar that stops early (a run that diverged, a search that broke off) is hidden like a finished
    one, instead of staying on screen as a red, stuck "0/20" bar. In a notebook a finished bar is
    hidden, not closed: closing its widget model leaves the view's reference in the cell output, and
    JupyterLab then logs "widget model not found" when it draws that output again.
    """

    def close(self):
        if not self.leave and self.total and self.n < self.total:
            self.total = self.n  # an early stop is an outcome, not an error
        super().close()

    def display(self, *args, **kwargs):
        container = getattr(self, "container", None)  # only the notebook bar has a widget container
        if kwargs.get("close") and container is not None:
            container.layout.display = "none"
            return None
        return super().display(*args, **kwargs)


def progress(iterable=None, **kwargs):
    """``tqdm.auto.tqdm`` with the same arguments, disabled when :func:`is_headless`."""
    kwargs.setdefault("disable", is_headless())
    kwargs.setdefault("dynamic_ncols", True)
    return _Progress(iterable, **kwargs)
