"""The pre-save hook, run by a real Jupyter contents manager configured from jupyter/jupyter_server_config.json:
a notebook saved with live widgets keeps their static fallbacks and nothing else changes."""
from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import ipywidgets
import nbformat
from jupyter_server.services.contents.filemanager import FileContentsManager
from traitlets.config import Config

import backprop_lab_save_hook  # installed into the environment by make setup, from jupyter/
from backprop_lab_save_hook import WIDGET_VIEW, strip_live_widget_views
from helpers.data.paths import PROJECT_ROOT

SERVER_CONFIG = PROJECT_ROOT / "jupyter" / "jupyter_server_config.json"
COMMITTED = PROJECT_ROOT / "notebooks" / "00c_activations_and_a_graph.ipynb"
PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a")).decode()  # the bytes of a PNG's signature suffice here


def project_contents_manager(root) -> FileContentsManager:
    """The contents manager a `make setup` JupyterLab runs, with the project's server config."""
    return FileContentsManager(root_dir=str(root), config=Config(json.loads(SERVER_CONFIG.read_text())))


def with_live_widgets(notebook: dict) -> dict:
    """The committed notebook as JupyterLab holds it after Run All: three outputs of its first code cell are
    live widgets, one a classroom widget (picture and text fallback), one an ipywidgets interact (text
    only), one a bare widget view with no fallback."""
    notebook = copy.deepcopy(notebook)
    cell = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    classroom = {**ipywidgets.VBox([ipywidgets.Image(format="png")])._repr_mimebundle_(), "image/png": PNG}
    interact = ipywidgets.IntSlider(description="x0")._repr_mimebundle_()
    bare = {WIDGET_VIEW: interact[WIDGET_VIEW]}
    cell["outputs"] += [nbformat.v4.new_output("display_data", data=data) for data in (classroom, interact, bare)]
    return notebook


def test_the_project_server_config_installs_the_hook():
    assert project_contents_manager(PROJECT_ROOT).pre_save_hook is strip_live_widget_views


def test_the_environment_holds_the_hook_as_the_project_has_it():
    """The server imports the copy make setup put into site-packages: a changed hook needs `make setup`."""
    installed = Path(backprop_lab_save_hook.__file__)
    assert installed.parent.name == "site-packages", installed
    assert installed.read_bytes() == (PROJECT_ROOT / "jupyter" / "backprop_lab_save_hook.py").read_bytes()


def test_a_save_keeps_fallbacks_drops_widget_views_that_have_one_and_changes_nothing_else(tmp_path):
    live = with_live_widgets(json.loads(COMMITTED.read_text()))
    project_contents_manager(tmp_path).save({"type": "notebook", "content": copy.deepcopy(live)}, "saved.ipynb")
    saved = nbformat.read(tmp_path / "saved.ipynb", as_version=4)  # multi-line strings joined, as in `live`
    classroom, interact, bare = next(c for c in saved["cells"] if c["cell_type"] == "code")["outputs"][-3:]
    assert set(classroom["data"]) == {"text/plain", "image/png"} and classroom["data"]["image/png"] == PNG
    assert set(interact["data"]) == {"text/plain"}
    assert set(bare["data"]) == {WIDGET_VIEW}  # nothing to fall back to: left as it was
    for cell in live["cells"]:  # what the hook removed, removed from the notebook held in the browser
        for output in cell.get("outputs", [])[:-1]:
            output.get("data", {}).pop(WIDGET_VIEW, None)
    assert saved["cells"] == nbformat.reads(json.dumps(live), as_version=4)["cells"]


def test_a_notebook_without_widgets_and_a_plain_file_pass_unchanged():
    notebook = json.loads(COMMITTED.read_text())
    model = {"type": "notebook", "content": copy.deepcopy(notebook)}
    strip_live_widget_views(model=model, path="00.ipynb", contents_manager=None)
    assert model["content"] == notebook
    text = {"type": "file", "format": "text", "content": json.dumps({"data": {WIDGET_VIEW: {}, "text/plain": ""}})}
    before = copy.deepcopy(text)
    strip_live_widget_views(model=text, path="notes.json", contents_manager=None)
    assert text == before
