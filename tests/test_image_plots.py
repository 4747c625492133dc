"""helpers.plots.images: one image_grid for notebook 04's thumbnails and notebook 05's dreams."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers.plots.images import image_grid, stretch, to_rgb


def shown(fig):
    return [ax for ax in fig.axes if ax.images]


def test_uint8_and_float_images_show_the_same_pixels():
    pixels = torch.randint(0, 256, (2, 3, 4, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    fig_uint8 = image_grid(pixels, ncols=2)
    fig_float = image_grid(pixels.float() / 255, ncols=2)
    for a, b in zip(shown(fig_uint8), shown(fig_float)):
        np.testing.assert_array_equal(a.images[0].get_array(), b.images[0].get_array())
    assert shown(fig_uint8)[0].images[0].get_array().shape == (4, 5, 3)
    np.testing.assert_allclose(shown(fig_uint8)[1].images[0].get_array(), pixels[1].permute(1, 2, 0) / 255)
    plt.close("all")


def test_float_images_are_clipped_for_display():
    np.testing.assert_array_equal(to_rgb(torch.tensor([-1.0, 0.5, 2.0]).view(3, 1, 1)), [[[0.0, 0.5, 1.0]]])


def test_titles_captions_and_rows():
    fig = image_grid(torch.rand(5, 3, 8, 8), titles=list("abcde"), captions=["1", "", "3", "4", "5"], ncols=4)
    assert len(fig.axes) == 8 and len(shown(fig)) == 5  # two rows of 4, the last three panels empty
    assert [ax.get_title() for ax in shown(fig)] == list("abcde")
    assert [ax.texts[0].get_text() for ax in shown(fig)] == ["1", "", "3", "4", "5"]
    assert shown(fig)[0].title.get_fontsize() == 9 and shown(fig)[0].texts[0].get_fontsize() == 8
    plt.close(fig)


@pytest.mark.parametrize("n, kwargs, inches", [
    # notebook 04's thumbnails: 16 and 24 images, 8 per row
    (16, dict(ncols=8, size=1.1, text_height=0.25, fontsize=8), (8.8, 2.7)),
    (24, dict(ncols=8, size=1.1, text_height=0.25, fontsize=8), (8.8, 4.05)),
])
def test_figure_sizes_of_the_notebooks_grids(n, kwargs, inches):
    fig = image_grid(torch.rand(n, 3, 4, 4), **kwargs)
    np.testing.assert_allclose(fig.get_size_inches(), inches)
    plt.close(fig)


def test_a_caption_wider_than_its_panel_breaks_at_its_separators():
    long_caption, short_caption = "p 1.000 · 2nd 0.380 · rough 0.56", "p 0.91"
    fig = image_grid(torch.rand(2, 3, 4, 4), captions=[long_caption, short_caption], size=1.5)
    assert [ax.texts[0].get_text() for ax in shown(fig)] == ["p 1.000\n2nd 0.380\nrough 0.56", short_caption]
    plt.close(fig)


def _extent(artist, renderer):
    box = artist.get_window_extent(renderer)
    return box.x0, box.x1, box.y0, box.y1


@pytest.mark.parametrize("caption", ["p 1.000 · 2nd 0.380 · rough 0.56", "p 1.000"])
def test_rows_leave_room_for_their_text_and_no_more(caption):
    """Captions of one row never run into the next row's titles, and the gap between them stays small."""
    fig = image_grid(torch.rand(8, 3, 4, 4), titles=[f"rung {i}" for i in range(8)], captions=[caption] * 8,
                     ncols=4, size=2.0)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    upper, lower = shown(fig)[0], shown(fig)[4]
    caption_bottom = _extent(upper.texts[0], renderer)[2]
    title_top = _extent(lower.title, renderer)[3]
    gap_inches = (caption_bottom - title_top) / fig.dpi
    assert 0 < gap_inches < 0.4, gap_inches
    plt.close(fig)


def test_thumbnail_titles_use_the_given_font_size():
    fig = image_grid(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), ["cat", "car"], fontsize=8)
    assert [ax.title.get_fontsize() for ax in shown(fig)] == [8, 8]
    plt.close(fig)


@pytest.mark.parametrize("images, kwargs, message", [
    (torch.rand(2, 3, 8, 8), dict(titles=["only one"]), "titles: expected one per image"),
    (torch.rand(2, 3, 8, 8), dict(captions=["a", "b", "c"]), "captions: expected one per image"),
    (torch.rand(3, 8, 8), {}, r"\(N, 3, H, W\)"),
])
def test_bad_grids_get_clear_errors(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        image_grid(images, **kwargs)


def test_stretch_spans_the_unit_interval_per_image():
    image = torch.stack([torch.full((3, 2, 2), 0.4), torch.full((3, 2, 2), 0.6)])
    image[:, 0, 0, 0] = 0.5
    out = stretch(image)
    assert out.amin(dim=(1, 2, 3)).tolist() == [0.0, 0.0] and out.amax(dim=(1, 2, 3)).tolist() == [1.0, 1.0]
