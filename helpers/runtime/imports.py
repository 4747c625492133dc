"""A hook run on each ``helpers`` module right after it is imported: how the student edition wraps its stubs
(:mod:`helpers.checks.stand_ins`) and how the checks' sandbox guards the bundle's references
(:mod:`helpers.checks.sandbox_worker`)."""
from __future__ import annotations

import importlib.abc
import sys
from typing import Callable

_callbacks: list[tuple[Callable[[str], bool], Callable]] = []


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, callbacks):
        self._loader, self._callbacks = loader, callbacks

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        for callback in self._callbacks:
            callback(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Hands the loader of each module some callback wants to one that runs the callbacks after it."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        wanted = [callback for accepts, callback in _callbacks if accepts(name)]
        if not wanted:
            return None
        for finder in sys.meta_path:
            if finder is _Finder or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader, wanted)
                return spec
        return None

    @staticmethod
    def invalidate_caches():
        """Nothing cached (the class itself sits in ``sys.meta_path``: importlib calls this unbound)."""


def after_import(accepts: Callable[[str], bool], callback: Callable) -> None:
    """Call ``callback(module)`` on every module whose name ``accepts`` takes, right after it runs (before any
    importer sees it), and now on those already imported."""
    _callbacks.append((accepts, callback))
    if _Finder not in sys.meta_path:
        sys.meta_path.insert(0, _Finder)
    for name, module in list(sys.modules.items()):
        if module is not None and accepts(name):
            callback(module)
