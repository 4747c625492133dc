"""The live classroom widget (helpers.runtime.classroom) and the figure widget built on it
(helpers.runtime.widgets.live_figure_widget), driven in-process with real ipywidgets objects (no browser)."""
from __future__ import annotations

import base64
import threading

import ipywidgets
import pytest
from matplotlib.text import Text

from helpers.runtime.classroom import (NOTEBOOK_WIDTH_PX, PROJECTOR_HEIGHT_PX, PROJECTOR_TEXT_PX, RUNNING, Overlay,
                                       ClassroomWidget, Drawn, LatestValueWorker, Picture, PictureCache, fit_figure, new_figure,
                                       render, smallest_text_px, text_px)
from helpers.runtime.widgets import decimal_grid, keep_default_on_grid, live_figure_widget


def line_figure(value: float):
    figure = new_figure(figsize=(4, 2), dpi=90)
    ax = figure.subplots()
    ax.plot([0, 1], [0, value])
    ax.set_title(f"value {value:g}", fontsize=11)
    return figure


class Gate:
    """A draw function that blocks until released, recording each value it was asked for."""

    def __init__(self):
        self.asked, self.release = [], threading.Event()

    def __call__(self, values: dict, box):
        self.asked.append(values["x"])
        if len(self.asked) > 1:  # the first picture (drawn before display) never waits
            assert self.release.wait(10)
        return render(line_figure(values["x"]))


def test_a_drag_computes_only_the_newest_value():
    gate = Gate()
    slider = ipywidgets.IntSlider(value=0, min=0, max=10, description="x")
    widget = ClassroomWidget(ipywidgets, gate, {"x": slider})
    slider.value = 1  # starts computing, then blocks
    for value in range(2, 9):  # a drag while it computes: each replaces the one before
        slider.value = value
    assert widget.status.value == RUNNING
    gate.release.set()
    assert widget.worker.wait()
    assert gate.asked in ([0, 1, 8], [0, 8])  # never 2 … 7: stale values are dropped, not queued
    assert widget.status.value == ""  # the picture is current


def test_a_progressive_computation_stops_when_a_newer_request_arrives():
    started, stopped = threading.Event(), []
    finish = threading.Event()

    def draw(values: dict, box):
        if values["x"] == 1:
            started.set()
            try:
                for step in range(100):
                    yield render(line_figure(step))
                    assert finish.wait(10)
            finally:
                stopped.append(True)
        else:
            yield render(line_figure(values["x"]))

    slider = ipywidgets.IntSlider(value=0, description="x")
    widget = ClassroomWidget(ipywidgets, draw, {"x": slider})
    slider.value = 1
    assert started.wait(10)
    slider.value = 2  # supersedes the long run
    finish.set()
    assert widget.worker.wait()
    assert stopped == [True] and widget.worker.computed[-1][0] == {"x": 2}


def test_going_back_to_a_setting_or_a_mode_shows_its_picture_without_drawing_again():
    drawn = []

    def draw(values: dict, box):
        drawn.append((values["x"], box is not None))
        figure = line_figure(values["x"])
        return render(fit_figure(figure, box is not None, box or (0, 0)), status=f"x={values['x']}")

    slider = ipywidgets.IntSlider(value=0, description="x")
    widget = ClassroomWidget(ipywidgets, draw, {"x": slider})
    pictures = {}
    for x, projector in ((0, False), (1, False), (1, True), (0, True), (0, False), (1, True), (1, False)):
        slider.value, widget.projector.value = x, projector
        assert widget.worker.wait()
        pictures.setdefault((x, projector), widget.picture.value)
        assert widget.picture.value == pictures[x, projector] and widget.status.value == f"x={x}"
    assert drawn == [(0, False), (1, False), (1, True), (0, True)]  # each setting drawn once, the first before display


def test_the_picture_cache_keeps_the_most_recently_used_and_skips_unhashable_values():
    cache = PictureCache(size=2)
    one, two, three = (Picture(bytes([n]), (1, 1), 8) for n in (1, 2, 3))
    cache.put({"x": 1}, False, one)
    cache.put({"x": 2}, False, two)
    assert cache.get({"x": 1}, False) is one and cache.get({"x": 1}, True) is None  # 1 now the most recent
    cache.put({"x": 3}, False, three)  # drops 2, the least recently used
    assert cache.get({"x": 2}, False) is None and cache.get({"x": 1}, False) is one
    cache.put({"x": [1, 2]}, False, two)  # a list cannot be a key: not kept, no error
    assert cache.get({"x": [1, 2]}, False) is None and len(cache.pictures) == 2


def test_the_picture_is_shown_at_one_to_one_with_its_smallest_text_in_a_class():
    widget = live_figure_widget(ipywidgets, line_figure, {"value": ipywidgets.IntSlider(value=3, description="v")})
    classes = widget.picture._dom_classes
    figure = line_figure(3)
    figure.canvas.draw()
    expected = smallest_text_px(figure)
    assert "classroom-picture" in classes and f"classroom-text-px-{expected}" in classes
    assert widget.picture.layout.width == "360px" and widget.picture.layout.height == "180px"  # 4 × 2 in at 90 dpi
    assert {"classroom-widget"} <= set(widget.box._dom_classes)
    assert "classroom-projector" in widget.projector._dom_classes and widget.projector.description == "projector"
    assert "classroom-status" in widget.status._dom_classes
    widget.projector.value = True
    assert widget.worker.wait()
    assert f"classroom-text-px-{PROJECTOR_TEXT_PX}" in widget.picture._dom_classes  # the old class is gone
    assert sum(c.startswith("classroom-text-px-") for c in widget.picture._dom_classes) == 1
    width, height = (int(widget.picture.layout.width[:-2]), int(widget.picture.layout.height[:-2]))
    assert width <= NOTEBOOK_WIDTH_PX and height + widget.rows * 40 <= PROJECTOR_HEIGHT_PX


def test_projector_layout_raises_small_text_and_toggles_back():
    figure = line_figure(1)
    before = sorted(t.get_fontsize() for t in figure.findobj(Text))
    fit_figure(figure, True, (800, 400))
    assert min(text_px(t.get_fontsize(), figure.dpi) for t in figure.findobj(Text)) >= PROJECTOR_TEXT_PX
    assert tuple(round(v) for v in figure.get_size_inches() * figure.dpi) == (800, 400)
    fit_figure(figure, False, (800, 400))
    assert sorted(t.get_fontsize() for t in figure.findobj(Text)) == before
    wide = new_figure(figsize=(20, 4), dpi=90)
    assert fit_figure(wide, False, (0, 0)).get_size_inches()[0] * 90 == pytest.approx(NOTEBOOK_WIDTH_PX)


def test_a_figure_placed_by_hand_keeps_its_larger_projector_text_inside_the_picture():
    """Notebook 02's training widget: two axes placed by ``subplots`` at notebook sizes, with axis labels. In
    projector mode the 16 px text must not be pushed past the picture's edges."""
    figure = new_figure(figsize=(11, 4), dpi=90)
    for axes in figure.subplots(1, 2):
        axes.plot([0, 1], [0, 10])
        axes.set(xlabel="epoch", ylabel="MSE (inch²)", title="after 20 epochs: validation MSE 2.25")
    figure.subplots_adjust(left=0.05, right=0.98, top=0.92, bottom=0.12)  # snug for the notebook's 10 pt text
    fit_figure(figure, True, (840, 470))
    figure.canvas.draw()
    drawn = figure.get_tightbbox(figure.canvas.get_renderer())  # inches, everything drawn, text included
    width, height = figure.get_size_inches()
    assert drawn.x0 >= -0.01 and drawn.y0 >= -0.01 and drawn.x1 <= width + 0.01 and drawn.y1 <= height + 0.01, drawn


def test_the_display_bundle_carries_the_first_picture_as_a_static_fallback():
    widget = live_figure_widget(ipywidgets, line_figure, {"value": ipywidgets.IntSlider(value=2, description="v")})
    widget.controls["value"].value = 5
    assert widget.worker.wait()
    bundle = widget.displayable()._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.box.model_id
    assert base64.b64decode(bundle["image/png"]) == widget.first.png != widget.picture.value
    assert "line_figure" in bundle["text/plain"]


def test_a_status_says_why_and_an_error_is_shown_not_raised():
    def draw(flat):
        if flat == 2:
            raise ValueError("no such picture")
        return Drawn(line_figure(0), status="diverged at epoch 1 (loss inf): lower the learning rate" if flat else "")

    widget = live_figure_widget(ipywidgets, draw, {"flat": ipywidgets.IntSlider(value=0, max=2, description="f")})
    widget.controls["flat"].value = 1
    assert widget.worker.wait() and widget.status.value.startswith("diverged at epoch 1")
    widget.controls["flat"].value = 2
    assert widget.worker.wait() and "ValueError: no such picture" in widget.status.value
    widget.controls["flat"].value = 0
    assert widget.worker.wait() and widget.status.value == ""  # the thread survived the error


def test_worker_wait_reports_a_timeout():
    block = threading.Event()
    worker = LatestValueWorker(lambda request: block.wait(10), lambda error: None)
    worker.submit(1)
    assert worker.wait(0.05) is False
    block.set()
    assert worker.wait()


def test_a_float_slider_offers_its_grid_as_exact_decimals():
    slider = keep_default_on_grid(ipywidgets.FloatSlider(value=0.8, min=-3.0, max=3.0, step=0.05, description="x₀"))
    assert isinstance(slider, ipywidgets.SelectionSlider) and slider.description == "x₀"
    assert slider.value == 0.8 and slider.label == "0.8"  # not 0.7999999999999998
    values = [value for _, value in slider.options]
    assert len(values) == 121 and 0.8 in values and values[0] == -3.0 and values[-1] == 3.0
    assert all(repr(value) == label or float(label) == value for label, value in slider.options)
    assert decimal_grid(0.0, 0.3, 0.1) == [0.0, 0.1, 0.2, 0.3]  # 0.1 + 0.2 would be 0.30000000000000004
    with pytest.raises(ValueError, match="expected step > 0"):
        decimal_grid(0, 1, 0)


def test_a_picture_records_what_the_widget_shows():
    picture = render(line_figure(1), status="s", note="n")
    assert isinstance(picture, Picture) and picture.size == (360, 180) and picture.png[:4] == b"\x89PNG"
    assert (picture.status, picture.note) == ("s", "n")


def test_an_overlay_redraws_only_its_own_artists_and_no_figure_reaches_pyplot():
    import matplotlib.pyplot as plt

    figure = new_figure(figsize=(3, 2), dpi=90)
    ax = figure.subplots()
    background = ax.plot([0, 1], [0, 1])[0]
    overlay = Overlay(figure)
    for value in (1.0, 2.0, 3.0):
        with overlay:
            ax.plot([0, 1], [value, value], color="C1")
            ax.legend(["background", f"overlay {value:g}"])
    assert len(ax.lines) == 2 and ax.lines[0] is background, "the background stays, drawn once"
    assert ax.lines[1].get_ydata()[0] == 3.0 and ax.get_legend() is not None
    before = plt.get_fignums()
    widget = live_figure_widget(ipywidgets, line_figure, {"value": ipywidgets.IntSlider(value=1, description="v")})
    widget.controls["value"].value = 4
    assert widget.worker.wait() and plt.get_fignums() == before  # nothing for the inline backend to flush


def test_progress_keeps_running_then_work_ahead_stops_for_a_newer_request(monkeypatch):
    ahead, seen_status, release, resume = [], [], threading.Event(), threading.Event()

    def draw(x):
        yield Drawn(line_figure(0), progress=True)
        yield Drawn(line_figure(x), status=f"final {x}")
        for step in range(1000):  # working ahead for the next request
            ahead.append((x, step))
            if x == 1 and step == 2:
                release.set()
                assert resume.wait(10)
            yield None

    widget = live_figure_widget(ipywidgets, draw, {"x": ipywidgets.IntSlider(value=0, description="x")})
    assert ahead == [] and widget.status.value == "final 0"  # the first picture: the generator closed there
    widget.status.observe(lambda change: seen_status.append(change["new"]), names="value")
    widget.controls["x"].value = 1
    assert release.wait(10)
    widget.controls["x"].value = 2  # supersedes the work ahead
    resume.set()
    assert widget.worker.wait()
    assert seen_status[0] == RUNNING and "final 1" in seen_status  # progress kept running…, the final said its word
    assert max(step for x, step in ahead if x == 1) == 2  # stopped at its next yield
    assert widget.status.value == "final 2"


def test_headless_shows_the_final_picture_without_working_ahead(monkeypatch):
    from helpers.runtime.headless import HEADLESS_ENV
    from helpers.runtime.widgets import classroom_widget
    monkeypatch.setenv(HEADLESS_ENV, "1")
    shown, ahead = [], []
    monkeypatch.setattr("IPython.display.display", lambda *objects, **_: shown.extend(objects))

    def draw(x):
        yield Drawn(line_figure(0), progress=True)
        yield Drawn(line_figure(x), note="the table")
        ahead.append(x)
        yield None

    assert classroom_widget(draw, x=ipywidgets.IntSlider(value=3)) is None
    assert len(shown) == 1 and shown[0].axes[0].get_title() == "value 3" and ahead == []


def test_the_layout_is_solved_once_per_size_and_axes_then_kept():
    figure = new_figure(figsize=(4, 2), dpi=90, layout="constrained")  # as the course style makes them
    figure.subplots().plot([0, 1], [0, 1])
    first = render(fit_figure(figure, False, (0, 0)))
    from helpers.runtime.classroom import keep_layout
    keep_layout(figure)
    position = figure.axes[0].get_position().bounds
    figure.axes[0].set_title("a much longer title than before, same place", fontsize=11)
    fit_figure(figure, False, (0, 0))
    assert figure.get_layout_engine().__class__.__name__ == "PlaceHolderLayoutEngine"  # kept: no solve
    assert render(figure).size == first.size and figure.axes[0].get_position().bounds == position
    fit_figure(figure, True, (600, 300))  # a new size: solved again
    assert figure.get_layout_engine().__class__.__name__ != "PlaceHolderLayoutEngine"


def test_a_function_with_a_projector_parameter_is_told_the_mode():
    told = []

    def draw(value, projector=False):
        told.append(projector)
        return line_figure(value)

    widget = live_figure_widget(ipywidgets, draw, {"value": ipywidgets.IntSlider(value=1, description="v")})
    widget.projector.value = True
    assert widget.worker.wait() and told == [False, True]
