"""The classroom control for a walkthrough: previous, next, play/pause, reset and a step slider.

One control for both walkthroughs: :func:`walkthrough_widget` (an engine expression, node by node) and
:func:`layer_walkthrough_widget` (a small MLP, layer by layer). Live (JupyterLab) it is a classroom widget
(:mod:`helpers.runtime.classroom`: picture at 1:1, ``projector`` toggle, status line) showing each step of the
walkthrough's figure (:class:`~helpers.plots.walkthrough.RenderedSteps`); the projector's drawing is built
when the toggle is first pressed. Headless (``BACKPROP_LAB_HEADLESS=1``,
as in nbval and the report, or under nbgrader, ``NBGRADER_EXECUTION`` set) or without ipywidgets it returns
the key-frame strip (a forward step and a backward step, from the projector's drawing) as a pyplot figure
instead.

The buttons' descriptions are stable, so a browser test finds them by their text: ``previous``,
``next``, ``play`` (a toggle: pressed = playing), ``reset``; the slider is described ``step`` and the
whole box carries the CSS classes ``classroom-widget`` and ``walkthrough`` (each button also
``walkthrough-<description>``).
"""
from __future__ import annotations

from typing import Callable

from helpers.plots.layer_walkthrough import LayerWalkthroughFigure
from helpers.plots.walkthrough import RenderedSteps, WalkthroughFigure, key_frame_strip
from helpers.runtime.classroom import ClassroomWidget, Picture
from helpers.runtime.headless import is_headless
from helpers.scalar_autodiff import Value

PLAY_INTERVAL_MS = 900  # one step a little under every second: time to say what happens
BUTTONS = ("previous", "next", "play", "reset")


def walkthrough_widget(output: Value, title: str | None = None):
    """Step through ``output``'s forward and backward pass (runs ``output.backward()``).

    Live: displays the control (a :class:`~helpers.runtime.classroom.ClassroomWidget`; its ``projector``
    toggle redraws for a projector) and returns None. Headless: returns the key-frame strip Figure (a forward
    and a backward step, one above the other), to be shown by ``plt.show()``.
    """
    return present(Walkthroughs(lambda projector: WalkthroughFigure(output, projector=projector)), title)


def layer_walkthrough_widget(model, x, y, backpropagation=None, title: str | None = None):
    """Step through a small MLP's forward and backward pass layer by layer: ``model`` a network of
    :mod:`helpers.layers` or a MyNet, ``x`` (N, n_0), ``y`` (N, n_L), ``backpropagation`` for a MyNet (default
    :func:`helpers.mynet.backpropagation`). The model is not changed. Live and headless as
    :func:`walkthrough_widget` (the same controls; headless the strip of a forward and a backward step)."""
    return present(Walkthroughs(lambda projector: LayerWalkthroughFigure(model, x, y, backpropagation,
                                                                         projector=projector)), title)


class Walkthroughs:
    """A walkthrough drawn for the notebook (``.notebook``) and, built when first asked for, for a projector:
    ``build(projector)`` makes either."""

    def __init__(self, build: Callable[[bool], RenderedSteps]):
        self.build, self.notebook, self._projector = build, build(False), None

    def drawn(self, projector: bool) -> RenderedSteps:
        if projector and self._projector is None:
            self._projector = self.build(True)
        return self._projector if projector else self.notebook

    def picture(self, values: dict, box) -> Picture:
        """The step ``values["step"]`` of the notebook's or (``box`` given) the projector's drawing."""
        return self.drawn(box is not None).picture(values["step"])


def present(walkthroughs: Walkthroughs, title: str | None = None):
    """Live: display the controls for ``walkthroughs`` and return None; headless (or without ipywidgets):
    return the projector drawing's key-frame strip (:func:`~helpers.plots.walkthrough.key_frame_strip`)."""
    try:
        import ipywidgets
    except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
        ipywidgets = None
    if ipywidgets is None or is_headless():
        return key_frame_strip(walkthroughs.drawn(projector=True), title)  # its text reads in print
    from IPython.display import display
    display(build_controls(walkthroughs, ipywidgets).displayable())
    return None


def build_controls(walkthroughs: Walkthroughs, ipywidgets) -> ClassroomWidget:
    """The classroom widget of picture, buttons and slider, wired to ``walkthroughs`` (no display; testable)."""
    last = len(walkthroughs.notebook.steps) - 1
    slider = ipywidgets.IntSlider(value=0, min=0, max=last, description="step", continuous_update=True)
    player = ipywidgets.Play(value=0, min=0, max=last, interval=PLAY_INTERVAL_MS,
                             layout=ipywidgets.Layout(display="none"))  # the clock behind the play button
    buttons = {name: ipywidgets.Button(description=name, tooltip=name) for name in ("previous", "next", "reset")}
    play = ipywidgets.ToggleButton(description="play", tooltip="play / pause")
    for name, button in (*buttons.items(), ("play", play)):
        button.add_class(f"walkthrough-{name}")
    ipywidgets.jslink((player, "value"), (slider, "value"))  # the browser moves the slider while playing
    ipywidgets.link((play, "value"), (player, "playing"))

    def stop_at_end(change):
        if change["new"] == last and play.value:
            play.value = False

    slider.observe(stop_at_end, names="value")

    def rewind_if_at_end(change):  # play pressed on the last step starts over
        if change["new"] and slider.value == last:
            player.value = 0
            slider.value = 0

    play.observe(rewind_if_at_end, names="value")
    buttons["previous"].on_click(lambda _: setattr(slider, "value", max(slider.value - 1, 0)))
    buttons["next"].on_click(lambda _: setattr(slider, "value", min(slider.value + 1, last)))

    def reset(_):
        play.value = False
        player.value = 0
        slider.value = 0

    buttons["reset"].on_click(reset)
    widget = ClassroomWidget(ipywidgets, walkthroughs.picture, {"step": slider},
                             extra=(buttons["previous"], buttons["next"], play, buttons["reset"], player),
                             label="walkthrough")
    widget.box.add_class("walkthrough")
    widget.walkthroughs, widget.slider, widget.buttons = walkthroughs, slider, {**buttons, "play": play}
    return widget
