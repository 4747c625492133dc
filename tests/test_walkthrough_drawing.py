"""The walkthrough drawn (helpers.plots.walkthrough) and its control (helpers.plots.walkthrough_widget)."""
from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.graph_derivations import nyu_graph
from helpers.plots.walkthrough import HIGHLIGHT, LARGE_FONT_SCALE, WalkthroughFigure, key_frame_strip
from helpers.plots.walkthrough_widget import build_controls, walkthrough_widget
from helpers.runtime.headless import is_headless
from helpers.scalar_autodiff import Value, sigmoid


@pytest.fixture(scope="module")
def nyu():
    return WalkthroughFigure(nyu_graph(1.0, 2.0, -1.5, 0.5))


def texts_of(walk: WalkthroughFigure) -> list[str]:
    return [t.get_text() for t in walk.graph_ax.texts if t.get_visible()]


def test_every_step_changes_the_picture(nyu):
    frames = [nyu.rgba(i) for i in range(len(nyu.steps))]
    assert all(frame.shape == frames[0].shape for frame in frames)
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))


def test_values_appear_as_they_are_computed(nyu):
    nyu.show(0)
    assert {"x = 1", "y = 2", "z = -1.5", "o = 0.5", "a = ?", "c = ?"} <= set(texts_of(nyu))
    nyu.show(1)  # a = x + y is the first primitive
    assert "a = 3" in texts_of(nyu) and "c = ?" in texts_of(nyu)


def test_the_two_path_node_shows_its_gradients_adding_up_and_its_edges_are_labelled(nyu):
    index = next(i for i, s in enumerate(nyu.steps) if s.phase == "backward" and s.node == "z")
    nyu.show(index)
    texts = texts_of(nyu)
    assert "z = -1.5\n∂w/∂z = 2.5" in texts and "1 + 1.5 = 2.5" in texts  # 1·1 through w, 3·0.5 through b
    assert "1 × 1 = 1" in texts and "3 × 0.5 = 1.5" in texts
    highlighted = [key for key, box in nyu.node_box.items() if box.get_linewidth() > 1]
    assert highlighted == [nyu.steps[index].key]
    assert nyu.node_box[highlighted[0]].get_edgecolor()[:3] == pytest.approx(plt.matplotlib.colors.to_rgb(HIGHLIGHT))
    assert "∂w/∂z" in nyu.caption.get_text() and "2 paths add up" in nyu.caption.get_text()


def test_the_current_table_line_is_the_steps_row(nyu):
    for index, step in enumerate(nyu.steps):
        nyu.show(index)
        if step.table_section is None:
            assert nyu.table_current is None
            continue
        text, section, row = nyu.lines[nyu.table_current]
        assert (section, row) == (step.table_section, step.table_index)
        assert text.startswith(f"∂w/∂{step.node} =" if step.phase == "backward" else f"{step.node} = ")


def test_large_font_scales_figure_and_text():
    output = nyu_graph(1.0, 2.0, -1.5, 0.5)
    small, large = WalkthroughFigure(output), WalkthroughFigure(output, large_font=True)
    assert large.figure.get_size_inches() == pytest.approx(small.figure.get_size_inches() * LARGE_FONT_SCALE)
    assert large.graph_ax.texts[0].get_fontsize() == pytest.approx(small.graph_ax.texts[0].get_fontsize()
                                                                   * LARGE_FONT_SCALE)
    assert large.rgba(0).shape[0] > small.rgba(0).shape[0]


def test_a_step_out_of_range_is_refused(nyu):
    with pytest.raises(IndexError, match=r"step index must be in \[0, 13\]"):
        nyu.show(14)


def test_the_key_frame_strip_has_four_panels(nyu):
    fig = key_frame_strip(nyu, "title")
    assert len(fig.axes) == 4 and all(ax.images for ax in fig.axes)
    plt.close(fig)


def test_headless_gives_the_strip_and_nbgrader_counts_as_headless(monkeypatch):
    monkeypatch.delenv("BACKPROP_LAB_HEADLESS", raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert is_headless()
    w, x, b = Value(0.5, "w"), Value(2.0, "x"), Value(0.1, "b")
    fig = walkthrough_widget(sigmoid(w * x + b))
    assert len(fig.axes) == 4
    plt.close(fig)


def test_the_buttons_move_the_slider_and_redraw_the_picture():
    box = build_controls(WalkthroughFigure(nyu_graph(1.0, 2.0, -1.5, 0.5)), ipywidgets)
    described = {child.description: child for child in box.children[1].children if hasattr(child, "description")}
    assert {"previous", "next", "play", "reset", "step"} <= set(described)
    pictures = [box.picture.value]
    described["previous"].click()  # already at the start: stays
    assert box.slider.value == 0
    for _ in range(len(box.walkthrough.steps) + 2):  # past the end: stays at the last step
        described["next"].click()
        pictures.append(box.picture.value)
    assert box.slider.value == len(box.walkthrough.steps) - 1
    distinct = pictures[:len(box.walkthrough.steps)]
    assert len(set(distinct)) == len(distinct)  # each step's picture differs
    described["previous"].click()
    assert box.slider.value == len(box.walkthrough.steps) - 2
    described["reset"].click()
    assert box.slider.value == 0 and box.picture.value == pictures[0]
