"""The layer walkthrough drawn (helpers.plots.layer_walkthrough) and driven by the shared control
(helpers.plots.walkthrough_widget)."""
from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers.layers import MLP
from helpers.mynet import MyNet
from helpers.plots.layer_walkthrough import DISAGREES, LayerWalkthroughFigure
from helpers.plots.walkthrough import HIGHLIGHT, LARGE_FONT_SCALE, key_frame_strip
from helpers.plots.walkthrough_widget import build_controls, layer_walkthrough_widget

F64 = torch.float64


def course_mlp():
    generator = torch.Generator().manual_seed(0)
    return (MLP(2, 1, 3, lr=0.1, dtype=F64, generator=generator), torch.randn(4, 2, dtype=F64, generator=generator),
            torch.randn(4, 1, dtype=F64, generator=generator))


@pytest.fixture(scope="module")
def mlp_figure():
    return LayerWalkthroughFigure(*course_mlp())


def visible_labels(figure: LayerWalkthroughFigure) -> list[str]:
    return [m.label.get_text() for row in figure.matrix_pool for m in row if m.label.get_visible()]


def test_every_step_changes_the_picture(mlp_figure):
    frames = [mlp_figure.rgba(i) for i in range(len(mlp_figure.steps))]
    assert all(frame.shape == frames[0].shape for frame in frames)  # a fixed size: nothing jumps
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))


def test_each_step_labels_its_matrices_with_their_names_and_shapes(mlp_figure):
    for index, step in enumerate(mlp_figure.steps):
        mlp_figure.show(index)
        expected = [f"{p.name}  {'×'.join(map(str, p.values.shape))}" for p in step.panels]
        assert sorted(visible_labels(mlp_figure)) == sorted(expected), step.title
        assert mlp_figure.caption[1].get_text() == step.formula


def test_the_current_layer_is_framed_in_the_overview(mlp_figure):
    backward_2 = next(i for i, s in enumerate(mlp_figure.steps) if s.phase == "backward" and s.layer == 2)
    mlp_figure.show(backward_2)
    framed = [m.label.get_text() for m in mlp_figure.overview if m.frame.get_linewidth() > 1]
    assert framed == ["δ[2]  4×3"]
    assert mlp_figure.overview[-2].frame.get_edgecolor()[:3] == pytest.approx(plt.matplotlib.colors.to_rgb(HIGHLIGHT))
    hidden = [m.label.get_text() for m in mlp_figure.overview if not m.image.get_visible()]
    assert hidden == ["δ[1]  4×3"]  # not reached yet: drawn as an empty outline


def test_the_numbers_are_stamped_in_the_cells(mlp_figure):
    forward_1 = next(i for i, s in enumerate(mlp_figure.steps) if s.phase == "forward")
    mlp_figure.show(forward_1)
    z = next(p for p in mlp_figure.steps[forward_1].panels if p.name == "z[1]")
    texts = [text for _, _, text in mlp_figure.numbers]
    assert f"{z.values[0, 0].item():.3g}" in texts
    stamped, plain = mlp_figure.rgba(forward_1), super(LayerWalkthroughFigure, mlp_figure).rgba(forward_1)
    assert not np.array_equal(stamped, plain)


def test_a_wrong_backward_is_named_in_red_at_its_step():
    def halves_the_hidden_weight_gradient(model, y_true, y_pred):
        from helpers.mynet import backpropagation
        deltas = backpropagation(model, y_true, y_pred)
        model.dL_dw[1] = model.dL_dw[1] / 2
        return deltas

    torch.manual_seed(0)
    figure = LayerWalkthroughFigure(MyNet([2, 3, 2]).double(), torch.randn(4, 2, dtype=F64),
                                    torch.randn(4, 2, dtype=F64), halves_the_hidden_weight_gradient)
    for index, step in enumerate(figure.steps):
        figure.show(index)
        wrong = step.phase == "backward" and step.layer == 1
        assert ("differs from autograd: dL/dW[1]" in figure.caption[2].get_text()) == wrong
        red = [m.label.get_text() for row in figure.matrix_pool for m in row
               if m.label.get_visible() and m.label.get_color() == DISAGREES]
        assert red == (["dL/dW[1]  3×2"] if wrong else [])


def test_large_font_scales_figure_and_text():
    small, large = LayerWalkthroughFigure(*course_mlp()), LayerWalkthroughFigure(*course_mlp(), large_font=True)
    assert large.figure.get_size_inches() == pytest.approx(small.figure.get_size_inches() * LARGE_FONT_SCALE)
    assert large.overview[0].label.get_fontsize() == pytest.approx(small.overview[0].label.get_fontsize()
                                                                    * LARGE_FONT_SCALE)
    assert large.number_font.size > small.number_font.size


def test_a_step_out_of_range_is_refused(mlp_figure):
    with pytest.raises(IndexError, match=r"step index must be in \[0, 7\]"):
        mlp_figure.show(8)


def test_a_batch_too_large_to_draw_is_refused_with_advice():
    model, _, _ = course_mlp()
    x, y = torch.zeros(17, 2, dtype=F64), torch.zeros(17, 1, dtype=F64)
    with pytest.raises(ValueError, match=r"a batch of at most 16 .* side of 17 \(take a few samples"):
        LayerWalkthroughFigure(model, x, y)


def test_headless_gives_the_four_key_frames(monkeypatch, mlp_figure):
    monkeypatch.setenv("BACKPROP_LAB_HEADLESS", "1")
    fig = layer_walkthrough_widget(*course_mlp(), title="layers.MLP")
    assert len(fig.axes) == 4 and all(ax.images for ax in fig.axes)
    plt.close(fig)
    strip = key_frame_strip(mlp_figure)
    frames = [ax.images[0].get_array() for ax in strip.axes]
    expected = [mlp_figure.rgba(i) for i in mlp_figure.key_frames()]
    assert all(np.array_equal(np.asarray(a), b) for a, b in zip(frames, expected))
    plt.close(strip)


def test_the_shared_controls_step_through_every_frame(mlp_figure):
    box = build_controls(mlp_figure, ipywidgets)
    assert "walkthrough" in box._dom_classes
    pictures = [box.picture.value]
    for _ in range(len(mlp_figure.steps) - 1):
        box.buttons["next"].click()
        pictures.append(box.picture.value)
    assert box.slider.value == len(mlp_figure.steps) - 1
    assert len(set(pictures)) == len(pictures)
    box.buttons["reset"].click()
    assert box.slider.value == 0 and box.picture.value == pictures[0]
