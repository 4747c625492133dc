"""The harvest of tagged cells (``tools.report.harvest``) on notebooks built in memory: no kernel.

What a real kernel displays is checked end to end in ``test_report.py`` (the builder's run).
"""
from __future__ import annotations

import base64
import io

import nbformat
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tools.report.harvest import HarvestError, harvest


def _png(color: str) -> bytes:
    figure = Figure(figsize=(1, 1))
    FigureCanvasAgg(figure)
    figure.add_subplot().plot([0, 1], [1, 0], color=color)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _display(mime: str, payload, kind: str = "display_data"):
    data = {mime: payload, "text/plain": "<object>"}
    if kind == "execute_result":
        return nbformat.v4.new_output(kind, data=data, execution_count=1)
    return nbformat.v4.new_output(kind, data=data)


def _figure(png: bytes):
    return _display("image/png", base64.b64encode(png).decode("ascii"))


def _cell(*outputs, tags=()):
    cell = nbformat.v4.new_code_cell("...", metadata={"tags": list(tags)})
    cell.outputs = list(outputs)
    return cell


def _notebook(*cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title"), *cells]
    return notebook


def test_figures_and_texts_are_written_in_cell_order_and_other_tags_are_ignored(tmp_path):
    red, blue = _png("red"), _png("blue")
    notebook = _notebook(
        _cell(nbformat.v4.new_output("stream", text="hello\n"), _figure(red), _figure(blue),
              tags=["hide-input", "report-figure:second_cell"]),  # one tag: the first image
        _cell(_display("text/markdown", "**Loss** fell.", kind="execute_result"), tags=["report-text:a_note"]),
        _cell(_figure(blue), tags=["remove-output"]),
        _cell(nbformat.v4.new_output("stream", text="recorded\n"), tags=["report-metrics:numbers"]))  # recorded as it runs: nothing to take
    items = harvest(notebook, "07_demo.ipynb", "07_demo", tmp_path)
    assert [(i.kind, i.name, i.path, i.markdown) for i in items] == [
        ("figure", "second_cell", "figures/07_demo/second_cell.png", None),
        ("text", "a_note", None, "**Loss** fell.")]
    assert (tmp_path / "figures" / "07_demo" / "second_cell.png").read_bytes() == red
    assert (tmp_path / "text" / "07_demo" / "a_note.md").read_text() == "**Loss** fell."
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a_note.md", "second_cell.png"]


def test_several_tags_of_one_kind_take_the_cells_outputs_in_turn(tmp_path):
    red, blue = _png("red"), _png("blue")
    markdown_as_lines = ["first line\n", "second line"]  # how nbformat may store a multi-line output
    notebook = _notebook(_cell(_figure(red), _display("text/markdown", markdown_as_lines), _figure(blue),
                               tags=["report-figure:b_left", "report-text:words", "report-figure:a_right"]))
    items = harvest(notebook, "07_demo.ipynb", "07_demo", tmp_path)
    assert [i.name for i in items] == ["b_left", "words", "a_right"]  # the tags' order
    assert (tmp_path / "figures" / "07_demo" / "b_left.png").read_bytes() == red
    assert (tmp_path / "figures" / "07_demo" / "a_right.png").read_bytes() == blue
    assert items[1].markdown == "first line\nsecond line"


@pytest.mark.parametrize("cell, message", [
    (_cell(nbformat.v4.new_output("stream", text="no plot\n"), tags=["report-figure:curve"]),
     "cell 1 is tagged 'report-figure:curve' but has no image/png output"),
    (_cell(_display("text/plain", "plain"), tags=["report-text:notes"]),
     "cell 1 is tagged 'report-text:notes' but has no text/markdown output"),
    (_cell(_figure(b"\x89PNG"), tags=["report-figure:one", "report-figure:two"]),
     "cell 1 is tagged 'report-figure:two' but has only 1 image/png output(s) for its 2 report-figure: tags"),
    (nbformat.v4.new_markdown_cell("text", metadata={"tags": ["report-text:intro"]}),
     "cell 1 is tagged 'report-text:intro' but has no text/markdown output"),
    (_cell(_figure(b"\x89PNG"), tags=["report-figures:curve"]),
     "cell 1 is tagged 'report-figures:curve' but report tags are report-figure:<name>, report-text:<name> or report-metrics:<name>"),
    (_cell(_figure(b"\x89PNG"), tags=["report-figure:../curve"]),
     "cell 1 is tagged 'report-figure:../curve' but the name after ':' must be a plain file name"),
    (_cell(_figure(b"\x89PNG"), tags=["report-figure:"]),
     "cell 1 is tagged 'report-figure:' but the name after ':' must be a plain file name"),
])
def test_a_tag_that_cannot_be_satisfied_names_notebook_cell_and_tag(tmp_path, cell, message):
    with pytest.raises(HarvestError) as failure:
        harvest(_notebook(cell), "07_demo.ipynb", "07_demo", tmp_path)
    assert str(failure.value).startswith(f"07_demo.ipynb: {message}")
    assert failure.value.cell_index == 1 and failure.value.notebook == "07_demo.ipynb"


def test_a_name_used_twice_is_an_error_not_an_overwrite(tmp_path):
    notebook = _notebook(_cell(_figure(_png("red")), tags=["report-figure:curve"]),
                         _cell(_figure(_png("blue")), tags=["report-figure:curve"]))
    with pytest.raises(HarvestError, match=r"cell 2 is tagged 'report-figure:curve' but an earlier tag"):
        harvest(notebook, "07_demo.ipynb", "07_demo", tmp_path)


def test_a_figure_s_alt_text_is_its_name_and_the_description_its_text_output_carries(tmp_path):
    described = _figure(_png("red"))
    described["data"]["text/plain"] = "Loss per epoch. Axes: epoch, MSE."
    bare = _figure(_png("blue"))
    bare["data"]["text/plain"] = "<Figure size 990x360 with 2 Axes>"
    items = harvest(_notebook(_cell(described, tags=["report-figure:loss_curves"]),
                              _cell(bare, tags=["report-figure:maps"])), "07_demo.ipynb", "07_demo", tmp_path)
    assert [item.alt for item in items] == ["loss curves: Loss per epoch. Axes: epoch, MSE.", "maps"]


def test_describe_figure_names_the_titles_and_axis_labels_a_reader_would_see():
    from helpers.plots.style import describe_figure
    figure = Figure()
    left, right = figure.subplots(1, 2)
    left.set(title="seed 0,\nλ = 1", xlabel="step t", ylabel="y")
    right.set(title="seed 1", xlabel="step t")
    figure.suptitle("Gradient descent.")
    assert describe_figure(figure) == "Gradient descent. Panels: seed 0, λ = 1; seed 1. Axes: step t, y."
    many = Figure()
    for index, ax in enumerate(many.subplots(1, 6)):
        ax.set_title(f"run {index}")
    assert describe_figure(many) == "Panels: run 0; run 1; run 2; run 3 (+2 more)."
    assert describe_figure(Figure()) == "Figure with 0 panels"


def test_a_figure_s_caption_is_its_title_and_its_text_size_comes_from_its_output_metadata(tmp_path):
    titled = _figure(_png("red"))
    titled["data"]["text/plain"] = "Gradient descent. Panels: seed 0; seed 1. Axes: step."
    titled["metadata"] = {"image/png": {"smallest_text_pt": 7.5, "dpi": 110}}
    panels = _figure(_png("blue"))
    panels["data"]["text/plain"] = "Panels: seed 0; seed 1. Axes: step."
    items = harvest(_notebook(_cell(titled, panels, tags=["report-figure:descent", "report-figure:runs"]),
                              _cell(_figure(_png("green")), tags=["report-figure:bare_name"])),
                    "07_demo.ipynb", "07_demo", tmp_path)
    assert [item.caption for item in items] == ["Gradient descent", "seed 0; seed 1", "bare name"]
    assert [(item.smallest_text_pt, item.dpi) for item in items] == [(7.5, 110), (None, None), (None, None)]


def test_a_report_build_s_figure_output_says_the_smallest_text_drawn_in_it():
    from helpers.plots.style import png_with_text_size
    figure = Figure(figsize=(3, 2))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.set_title("big", fontsize=14)
    ax.tick_params(labelsize=6.5)  # the smallest text drawn: the tick labels
    ax.text(0.5, 0.5, "", fontsize=2)  # an empty text draws nothing
    ax.text(0.5, 0.5, "hidden", fontsize=3).set_visible(False)

    def draw(fig):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=50)
        return buffer.getvalue()
    data, metadata = png_with_text_size(draw, figure, 50)
    assert data.startswith(b"\x89PNG") and metadata == {"smallest_text_pt": 6.5, "dpi": 50}
