"""The Jupyter server's pre-save hook: a saved notebook keeps a live widget's static fallback, not the widget.

A live widget's output holds a reference to a widget model in the running kernel
(``application/vnd.jupyter.widget-view+json``) beside a fallback: every ipywidget carries a ``text/plain``
line, and the classroom widgets also their first picture (``image/png``). The model dies with the kernel, and
JupyterLab prefers the widget view to any fallback, so a notebook saved with the reference reopens as
"Error displaying widget: model not found". :func:`strip_live_widget_views` drops the reference from every
output that has a fallback, so the reopened notebook shows the fallback. The browser keeps its live widgets
(only the file written is changed). jupyter/jupyter_server_config.json names it as
``ContentsManager.pre_save_hook``; the server calls it as ``hook(model=, path=, contents_manager=)``.

The server imports it by name, in whatever folder it was started (a user's home on a hub), so ``make setup``
copies this file, which imports nothing, into the environment's ``site-packages``: the one piece of the
project installed there, since it belongs to the server, not to a course copy.
"""
from __future__ import annotations

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC_FALLBACKS = ("image/png", "text/plain")


def strip_live_widget_views(model: dict, path: str = "", contents_manager=None, **_) -> None:
    """Drop the live-widget reference from each output of a notebook ``model`` that also holds a static
    fallback; changes ``model["content"]`` in place. A file that is not a notebook, or a widget output with
    no fallback (it would show nothing either way), is left as it is."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    for cell in model["content"].get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and any(fallback in data for fallback in STATIC_FALLBACKS):
                del data[WIDGET_VIEW]
