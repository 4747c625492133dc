"""Classroom widgets that degrade to one call with their defaults when run headless."""
from __future__ import annotations

from helpers.runtime.headless import is_headless


def classroom_widget(func, **controls):
    """``ipywidgets.interact(func, **controls)`` live; ``func(**defaults)`` headless.

    ``controls`` are ipywidgets controls (their ``.value`` is the default) or plain values
    (held fixed). Headless, or without ipywidgets, ``func`` runs once and its result is returned.
    """
    try:
        import ipywidgets
    except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
        ipywidgets = None
    if ipywidgets is None or is_headless():
        defaults = {name: getattr(control, "value", control) for name, control in controls.items()}
        return func(**defaults)
    fixed = {name: c if isinstance(c, ipywidgets.Widget) else ipywidgets.fixed(c) for name, c in controls.items()}
    return ipywidgets.interact(func, **fixed)
