"""The classroom control for a walkthrough: previous, next, play/pause, reset and a step slider.

One control for both walkthroughs: :func:`walkthrough_widget` (an engine expression, node by node) and
:func:`layer_walkthrough_widget` (a small MLP, layer by layer). Live (JupyterLab) it shows each step of
the walkthrough's figure (:class:`~helpers.plots.walkthrough.RenderedSteps`) as a PNG
in an ``ipywidgets.Image`` (swapping the picture does not flicker). Headless (``BACKPROP_LAB_HEADLESS=1``,
as in nbval and the report, or under nbgrader, ``NBGRADER_EXECUTION`` set) or without ipywidgets it returns
the key-frame strip (start, a forward step, a backward step, the end) as a pyplot figure instead.

The buttons' descriptions are stable, so a browser test finds them by their text: ``previous``,
``next``, ``play`` (a toggle: pressed = playing), ``reset``; the slider is described ``step`` and the
whole box carries the CSS class ``walkthrough`` (each button also ``walkthrough-<description>``).
"""
from __future__ import annotations

from helpers.plots.layer_walkthrough import LayerWalkthroughFigure
from helpers.plots.walkthrough import RenderedSteps, WalkthroughFigure, key_frame_strip
from helpers.runtime.headless import is_headless
from helpers.scalar_autodiff import Value

PLAY_INTERVAL_MS = 900  # one step a little under every second: time to say what happens
BUTTONS = ("previous", "next", "play", "reset")


def walkthrough_widget(output: Value, large_font: bool = False, title: str | None = None):
    """Step through ``output``'s forward and backward pass (runs ``output.backward()``).

    Live: displays the control (an ``ipywidgets.VBox``; its ``.walkthrough`` is the
    :class:`WalkthroughFigure`) and returns None. Headless: returns the key-frame strip Figure (2 × 2
    panels), to be shown by ``plt.show()``. ``large_font`` scales text and figure by 1.5 for a projector.
    """
    return present(WalkthroughFigure(output, large_font=large_font), title)


def layer_walkthrough_widget(model, x, y, backpropagation=None, large_font: bool = False, title: str | None = None):
    """Step through a small MLP's forward and backward pass layer by layer: ``model`` a network of
    :mod:`helpers.layers` or a MyNet, ``x`` (N, n_0), ``y`` (N, n_L), ``backpropagation`` for a MyNet (default
    :func:`helpers.mynet.backpropagation`). The model is not changed. Live and headless as
    :func:`walkthrough_widget` (the same controls; headless the strip start, forward, backward, end)."""
    return present(LayerWalkthroughFigure(model, x, y, backpropagation, large_font=large_font), title)


def present(walkthrough: RenderedSteps, title: str | None = None):
    """Live: display the controls for ``walkthrough`` and return None; headless (or without ipywidgets):
    return its key-frame strip, a pyplot Figure of 2 × 2 panels."""
    try:
        import ipywidgets
    except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
        ipywidgets = None
    if ipywidgets is None or is_headless():
        return key_frame_strip(walkthrough, title)
    from IPython.display import display
    display(build_controls(walkthrough, ipywidgets))
    return None


def build_controls(walkthrough: RenderedSteps, ipywidgets):
    """The VBox of picture, buttons and slider, wired to ``walkthrough`` (no display; testable)."""
    last = len(walkthrough.steps) - 1
    picture = ipywidgets.Image(value=walkthrough.png(0), format="png")
    slider = ipywidgets.IntSlider(value=0, min=0, max=last, description="step", continuous_update=True)
    player = ipywidgets.Play(value=0, min=0, max=last, interval=PLAY_INTERVAL_MS,
                             layout=ipywidgets.Layout(display="none"))  # the clock behind the play button
    buttons = {name: ipywidgets.Button(description=name, tooltip=name) for name in ("previous", "next", "reset")}
    play = ipywidgets.ToggleButton(description="play", tooltip="play / pause")
    for name, button in (*buttons.items(), ("play", play)):
        button.add_class(f"walkthrough-{name}")
    ipywidgets.jslink((player, "value"), (slider, "value"))  # the browser moves the slider while playing
    ipywidgets.link((play, "value"), (player, "playing"))

    def redraw(change):
        picture.value = walkthrough.png(change["new"])
        if change["new"] == last and play.value:
            play.value = False

    slider.observe(redraw, names="value")

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
    row = ipywidgets.HBox([buttons["previous"], buttons["next"], play, buttons["reset"], slider, player])
    box = ipywidgets.VBox([picture, row])
    box.add_class("walkthrough")
    box.walkthrough, box.slider, box.picture, box.buttons = walkthrough, slider, picture, {**buttons, "play": play}
    return box
