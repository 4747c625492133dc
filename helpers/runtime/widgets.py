"""Figure widgets for the classroom (live: :mod:`helpers.runtime.classroom`), which degrade to one call with
their defaults when run headless."""
from __future__ import annotations

import inspect
import math

from matplotlib.figure import Figure

from helpers.runtime.classroom import ClassroomWidget, Drawn, as_drawn, figure_picture, final_picture
from helpers.runtime.headless import is_headless

NICE_MANTISSAS = (1.0, 2.0, 3.0, 5.0)  # the round values a log slider offers in each decade


def classroom_widget(func, **controls):
    """A live figure widget (:class:`~helpers.runtime.classroom.ClassroomWidget`) live; ``func(**defaults)``
    shown once headless.

    ``func(**values)`` returns a ``matplotlib.figure.Figure`` made with
    :func:`~helpers.runtime.classroom.new_figure` (never pyplot's), or a :class:`~helpers.runtime.classroom.Drawn`
    (figure, status line, note), or is a generator yielding them: progressive ones (``Drawn(progress=True)``),
    then the final one, then possibly None now and then while it works ahead for the next request. A function
    with a ``projector`` parameter is told whether the picture is for a projector (live only), so that it can
    draw fewer panels there; the mechanism then fits the figure to the projector and raises its small text. A function
    that keeps its figure and updates the artists' data on each call makes a cheap control cheaper still.
    ``controls`` are ipywidgets controls (their ``.value`` is the default) or plain values (held fixed).

    Headless, or without ipywidgets, ``func`` runs once with the defaults: a figure it returns is displayed
    (its note printed before it) and None returned; any other result is returned as it is. Live, the widget
    displays itself (with its first picture as the static fallback) and None is returned, so no
    ``<function …>`` repr follows it. A ``FloatLogSlider`` whose default lies between its steps (0.03 on a grid
    of 10^(k/4)) becomes a slider over round values (1, 2, 3, 5 per decade) that include the default exactly,
    since the browser would otherwise move it to the nearest step (0.0316).
    """
    try:
        import ipywidgets
    except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
        ipywidgets = None
    if ipywidgets is None or is_headless():
        defaults = {name: getattr(control, "value", control) for name, control in controls.items()}
        return show_once(func(**defaults))
    from IPython.display import display
    display(live_figure_widget(ipywidgets, func, controls).displayable())
    return None


def live_figure_widget(ipywidgets, func, controls: dict) -> ClassroomWidget:
    """The :class:`ClassroomWidget` for ``func`` and ``controls`` (as for :func:`classroom_widget`; not displayed)."""
    live = {name: keep_default_on_grid(c) for name, c in controls.items() if isinstance(c, ipywidgets.Widget)}
    for name, control in live.items():
        control.description = control.description or name  # as interact did: the browser test finds it by text
    fixed = {name: c for name, c in controls.items() if not isinstance(c, ipywidgets.Widget)}

    told = {"projector"} & set(inspect.signature(func).parameters)  # a function may lay itself out for it

    def draw(values: dict, box):
        result = func(**values, **fixed, **{name: box is not None for name in told})
        if not inspect.isgenerator(result):
            yield figure_picture(result, box)
            return
        try:
            for drawn in result:
                yield None if drawn is None else figure_picture(drawn, box)
        finally:
            result.close()  # superseded: the function's own computation stops too

    return ClassroomWidget(ipywidgets, draw, live, label=getattr(func, "__name__", "figure widget"))


def show_once(result):
    """Headless: display the (final) figure ``result`` holds and return None; return any other result as it is."""
    result = final_picture(result)
    if not isinstance(result, (Figure, Drawn)):
        return result
    from IPython.display import display
    drawn = as_drawn(result)
    if drawn.note:
        print(drawn.note)
    display(drawn.figure)
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


def decimal_grid(low: float, high: float, step: float) -> list[float]:
    """``low``, ``low + step``, … ``high`` as the decimals they are meant to be (0.8, not 0.7999999999999998):
    each rounded to the decimals of ``step`` and ``low`` (a 1-D list)."""
    if not (step > 0 and low <= high):
        raise ValueError(f"expected step > 0 and low <= high, got low={low}, high={high}, step={step}")
    decimals = max(len(f"{abs(v):.10f}".rstrip("0").split(".")[1]) for v in (step, low))
    return [round(low + k * step, decimals) for k in range(round((high - low) / step) + 1)]


def keep_default_on_grid(control):
    """``control`` itself, or an equivalent ``SelectionSlider`` whose values are exactly the grid the user
    reads: for a FloatLogSlider whose default is off its grid, :func:`nice_log_values` of its range (labels
    ``0.03``, values floats); for a FloatSlider, :func:`decimal_grid` (the browser computes min + k·step in
    binary and would echo 0.7999999999999998 for 0.8)."""
    import ipywidgets
    if isinstance(control, ipywidgets.FloatSlider):
        values = decimal_grid(control.min, control.max, control.step)
        return _selection_slider(control, values, min(values, key=lambda v: abs(v - control.value)))
    if not isinstance(control, ipywidgets.FloatLogSlider):
        return control
    steps = (math.log(control.value, control.base) - control.min) / control.step
    if abs(steps - round(steps)) < 1e-9:
        return control
    values = nice_log_values(control.base ** control.min, control.base ** control.max, control.value)
    return _selection_slider(control, values, control.value)


def _selection_slider(control, values: list[float], value: float):
    """A ``SelectionSlider`` over ``values`` (labelled as written, ``0.03``) standing in for ``control``."""
    import ipywidgets
    return ipywidgets.SelectionSlider(options=[(f"{v:g}", v) for v in values], value=value,
                                      description=control.description, continuous_update=control.continuous_update)
