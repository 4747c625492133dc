"""Classroom widgets that degrade to one call with their defaults when run headless."""
from __future__ import annotations

import math

from helpers.runtime.headless import is_headless

NICE_MANTISSAS = (1.0, 2.0, 3.0, 5.0)  # the round values a log slider offers in each decade


def classroom_widget(func, **controls):
    """``ipywidgets.interact(func, **controls)`` live; ``func(**defaults)`` headless.

    ``controls`` are ipywidgets controls (their ``.value`` is the default) or plain values
    (held fixed). Headless, or without ipywidgets, ``func`` runs once and its result is returned.
    Live, the widget displays itself and None is returned, so no ``<function …>`` repr follows it in
    the cell's output. A ``FloatLogSlider`` whose default lies between its steps (0.03 on a grid of
    10^(k/4)) becomes a slider over round values (1, 2, 3, 5 per decade) that include the default
    exactly, since the browser would otherwise move it to the nearest step (0.0316).
    """
    try:
        import ipywidgets
    except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
        ipywidgets = None
    if ipywidgets is None or is_headless():
        defaults = {name: getattr(control, "value", control) for name, control in controls.items()}
        return func(**defaults)
    live = {name: (keep_default_on_grid(c) if isinstance(c, ipywidgets.Widget) else ipywidgets.fixed(c))
            for name, c in controls.items()}
    ipywidgets.interact(func, **live)
    return None


def nice_log_values(low: float, high: float, include: float) -> list[float]:
    """Round values 1, 2, 3, 5 × 10^k in ``[low, high]``, plus ``include``; sorted, each once (a 1-D list)."""
    if not 0 < low <= include <= high:
        raise ValueError(f"expected 0 < low <= include <= high, got low={low}, include={include}, high={high}")
    values = {include}
    for decade in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in NICE_MANTISSAS:
            value = float(f"{mantissa}e{decade}")  # exactly the decimal literal: 0.03, not 3 * 0.01
            if low * (1 - 1e-12) <= value <= high * (1 + 1e-12):
                values.add(value)
    return sorted(values)


def keep_default_on_grid(control):
    """``control`` itself, or for a FloatLogSlider whose default is off its grid an equivalent
    ``SelectionSlider`` over :func:`nice_log_values` of its range (labels ``0.03``, values floats)."""
    import ipywidgets
    if not isinstance(control, ipywidgets.FloatLogSlider):
        return control
    steps = (math.log(control.value, control.base) - control.min) / control.step
    if abs(steps - round(steps)) < 1e-9:
        return control
    values = nice_log_values(control.base ** control.min, control.base ** control.max, control.value)
    return ipywidgets.SelectionSlider(options=[(f"{value:g}", value) for value in values], value=control.value,
                                      description=control.description,
                                      continuous_update=control.continuous_update)
