"""What the browser showed, checked without a browser: live classroom widgets leave no function
repr and keep their default on the slider; progress bars that stop early do not stay stuck."""
from __future__ import annotations

import io

import ipywidgets
import pytest

from helpers.runtime.classroom import new_figure
from helpers.runtime.headless import HEADLESS_ENV
from helpers.runtime.progress import progress
from helpers.runtime.widgets import classroom_widget, keep_default_on_grid, nice_log_values


def test_live_widget_returns_nothing_so_no_function_repr_follows_it(monkeypatch):
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    shown, drawn = [], []

    def draw(lr):
        drawn.append(lr)
        return new_figure(figsize=(2, 1))

    monkeypatch.setattr("IPython.display.display", lambda *objects, **_: shown.extend(objects))
    result = classroom_widget(draw, lr=ipywidgets.FloatSlider(value=0.5, min=0, max=1))
    assert result is None
    assert drawn == [0.5]  # the first picture is drawn with the default before anything is touched
    bundle = shown[0]._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["image/png"]


def test_log_slider_whose_default_is_between_steps_offers_the_default_exactly():
    # 0.03 on the grid 10^(-3 + k/4): the browser would snap it to 10^-1.5 = 0.0316
    slider = keep_default_on_grid(ipywidgets.FloatLogSlider(value=0.03, base=10, min=-3, max=-0.5, step=0.25,
                                                            description="lr"))
    assert isinstance(slider, ipywidgets.SelectionSlider) and slider.value == 0.03
    assert slider.label == "0.03" and slider.description == "lr"
    assert [label for label, _ in slider.options] == [
        "0.001", "0.002", "0.003", "0.005", "0.01", "0.02", "0.03", "0.05", "0.1", "0.2", "0.3"]


def test_log_slider_whose_default_is_on_its_grid_is_kept():
    slider = ipywidgets.FloatLogSlider(value=1e-2, base=10, min=-4, max=0, step=0.25)
    assert keep_default_on_grid(slider) is slider


def test_nice_log_values_include_an_odd_default_and_refuse_a_bad_range():
    assert nice_log_values(0.2, 1.0, 0.7) == [0.2, 0.3, 0.5, 0.7, 1.0]
    with pytest.raises(ValueError, match="expected 0 < low <= include <= high"):
        nice_log_values(0.1, 1.0, 2.0)


def test_a_bar_without_leave_that_stops_early_is_closed_as_finished_not_as_failed():
    stream = io.StringIO()
    bar = progress(range(20), leave=False, disable=False, file=stream)
    for epoch in bar:
        if epoch == 3:
            break  # a run that diverged at epoch 4
    bar.close()
    assert bar.n == 3 and bar.total == 3  # finished at the epoch it stopped, so it is hidden, not left red
    kept = progress(range(20), leave=True, disable=False, file=io.StringIO())
    for epoch in kept:
        break
    kept.close()
    assert kept.total == 20  # a bar that stays on screen still shows where it stopped
