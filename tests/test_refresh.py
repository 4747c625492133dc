"""``make refresh`` (``tools.refresh``) stores only real changes: an unchanged notebook keeps its bytes.

One test starts a kernel (a tiny notebook, a couple of seconds); the rest merge notebooks built in memory.
"""
from __future__ import annotations

import os

import nbformat
import pytest

from helpers.data.paths import PROJECT_ROOT
from tools import refresh

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
WIDGET_STATE = {"application/vnd.jupyter.widget-state+json": {
    "state": {"5f1e0c2a9b7d4e21a3c4b5d6e7f80912": {"model_name": "FloatSliderModel", "state": {"value": 0.1}}},
    "version_major": 2, "version_minor": 0}}
SOURCES = ['print(f"took {__import__(\'random\').random() * 100:.2f} s")',  # a timing: sanitised
           'import time\nprint("first", flush=True)\ntime.sleep(0.3)\nprint("second")',  # may arrive split
           "x = 2\nx * 21"]


def _stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def _notebook(outputs, counts=(1, 2, 3), widgets=WIDGET_STATE):
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC, "custom": {"kept": True}})
    if widgets:
        notebook.metadata["widgets"] = widgets
    for index, (source, cell_outputs, count) in enumerate(zip(SOURCES, outputs, counts)):
        cell = nbformat.v4.new_code_cell(source, execution_count=count)
        cell.id = f"cell-{index}"
        cell.outputs = cell_outputs
        notebook.cells.append(cell)
    return notebook


def _stored(answer="42"):
    """The notebook as committed: its outputs from an earlier run."""
    return _notebook([[_stream("took 3.14 s\n")], [_stream("first\nsecond\n")],
                      [nbformat.v4.new_output("execute_result", data={"text/plain": answer}, execution_count=3)]])


def _fresh(answer="42", counts=(1, 2, 3)):
    """The same notebook just executed: another timing, the stream split, new widget model ids."""
    return _notebook([[_stream("took 97.5 s\n")], [_stream("first\n"), _stream("second\n")],
                      [nbformat.v4.new_output("execute_result", data={"text/plain": answer}, execution_count=3)]],
                     counts=counts, widgets={"application/vnd.jupyter.widget-state+json": {"state": {"other-id": {}}}})


PATTERNS = refresh.sanitize_patterns()


def test_outputs_equal_under_nbval_sanitisation_with_streams_merged_are_unchanged():
    merged, changed = refresh.merge(_stored(), _fresh(), PATTERNS)
    assert changed == []
    assert nbformat.writes(merged) == nbformat.writes(_stored())  # the stored cells and metadata, as they were


def test_a_real_change_replaces_that_cell_only_and_keeps_the_metadata():
    merged, changed = refresh.merge(_stored(answer="41"), _fresh(answer="42"), PATTERNS)
    assert changed == [2]
    assert merged.cells[2].outputs[0]["data"]["text/plain"] == "42"
    assert merged.cells[0].outputs == _stored().cells[0].outputs  # "3.14 s" kept: not a change
    assert len(merged.cells[1].outputs) == 1  # the stored, merged stream kept
    assert merged.metadata == _stored().metadata  # widget state and the rest untouched


def test_execution_counts_and_images_are_not_compared_as_nbval_does_but_stream_names_are():
    merged, changed = refresh.merge(_stored(), _fresh(counts=(1, 2, 4)), PATTERNS)
    assert changed == [] and [cell.outputs[0]["data"] for cell in merged.cells[2:]] == [{"text/plain": "42"}]
    assert refresh.merge(_stored(), _fresh(), PATTERNS)[0] == _stored()  # counts as run, outputs equal: nothing new
    stored, fresh = _stored(), _fresh()
    for notebook, pixels in ((stored, "iVBORw0KGgo="), (fresh, "iVBORw0KGgp=")):
        notebook.cells[2].outputs[0]["data"]["image/png"] = pixels
    assert refresh.merge(stored, fresh, PATTERNS)[1] == []
    merged, changed = refresh.merge(stored, fresh, PATTERNS, everything=True)  # --all: every fresh output
    assert changed == [0, 1, 2] and merged.cells[2].outputs[0]["data"]["image/png"] == "iVBORw0KGgp="
    fresh.cells[1].outputs = [_stream("first\n"), _stream("second\n", name="stderr")]
    assert refresh.merge(stored, fresh, PATTERNS)[1] == [1]


def test_every_code_cell_is_numbered_as_the_run_executed_it_top_to_bottom():
    stored = _stored(answer="41")
    stored.cells[1].execution_count = None  # added by hand, not yet run
    merged, changed = refresh.merge(stored, _fresh(answer="42", counts=(1, 2, 3)), PATTERNS)
    assert changed == [2]  # only the real change is reported
    assert [cell.execution_count for cell in merged.cells] == [1, 2, 3]
    assert merged.cells[2].outputs[0]["execution_count"] == 3


def test_counts_out_of_order_are_renumbered_even_when_no_output_changed():
    stored = _stored()
    for cell, count in zip(stored.cells, (5, None, 2)):
        cell.execution_count = count
    merged, changed = refresh.merge(stored, _fresh(counts=(1, 2, 3)), PATTERNS)
    assert changed == [] and merged != stored
    assert [cell.execution_count for cell in merged.cells] == [1, 2, 3]


def test_a_changed_cell_showing_a_widget_takes_the_fresh_widget_state():
    view = "application/vnd.jupyter.widget-view+json"
    stored, fresh = _stored(answer="41"), _fresh(answer="42")
    for notebook, model in ((stored, "5f1e0c2a9b7d4e21a3c4b5d6e7f80912"), (fresh, "other-id")):
        notebook.cells[2].outputs[0]["data"][view] = {"model_id": model, "version_major": 2, "version_minor": 0}
    merged, changed = refresh.merge(stored, fresh, PATTERNS)
    assert changed == [2]
    assert merged.metadata["widgets"] == fresh.metadata["widgets"]
    assert merged.metadata["custom"] == {"kept": True}
    stored.cells[2].outputs[0]["data"]["text/plain"] = "42"  # same output, another model id: unchanged
    assert refresh.merge(stored, fresh, PATTERNS)[1] == []


def test_the_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "nb.ipynb"
    path.write_text("old")

    def crash(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        refresh.write_atomically(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["nb.ipynb"]  # no temporary file left


def test_refreshing_an_unchanged_notebook_writes_nothing(tmp_path, capsys):
    """End to end with a kernel: the stored notebook is what an earlier run gave."""
    path = tmp_path / "tiny.ipynb"
    nbformat.write(_stored(), path)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    assert refresh.main([str(path)]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime

    nbformat.write(_stored(answer="41"), path)  # a stale output: stored anew, the rest byte for byte
    assert refresh.main([str(path)]) == 0
    assert "cell(s) 2" in capsys.readouterr().out
    assert path.read_text() == nbformat.writes(_stored(answer="42")) + "\n"  # cells 0, 1, metadata as stored


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_each_committed_notebook_reads_as_one_run_top_to_bottom(path):
    """A reader sees [1], [2], [3] … down the notebook: the stored outputs are one run's, in order."""
    counts = [cell.execution_count for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), counts
