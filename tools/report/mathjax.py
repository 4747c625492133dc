"""MathJax for the report's pages, offline: nbconvert's templates typeset ``$...$`` with MathJax 2.7,
which they load from a CDN by default; a report is read (and printed) on machines without network.

When ``jupyter_server_mathjax`` (MathJax 2.7 as a Jupyter server extension, in requirements.txt) is
installed, each build copies its MathJax into ``report/mathjax/`` and the pages load it from there;
without it they fall back to nbconvert's CDN address (formulas then need network).
"""
from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path

from nbconvert import HTMLExporter

FOLDER = "mathjax"
# The combined configuration jupyter_server_mathjax ships (nbconvert's CDN address asks for the CommonHTML
# one, which it leaves out), "Safe" as nbconvert asks, and LOCAL_CONFIG: the web font it ships.
CONFIG = "?config=TeX-AMS-MML_HTMLorMML-full,Safe,local/report"
LOCAL_CONFIG = """MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web",
                                   imageFont: null}});
MathJax.Ajax.loadComplete("[MathJax]/config/local/report.js");
"""


def installed_copy() -> Path | None:
    """The folder holding an installed ``MathJax.js``, or None."""
    spec = find_spec("jupyter_server_mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    return static if (static / "MathJax.js").is_file() else None


def mathjax_url(depth: int) -> str:
    """The MathJax address for a page ``depth`` folders below the report's root."""
    if installed_copy() is None:
        return HTMLExporter.mathjax_url.default_value
    return "../" * depth + f"{FOLDER}/MathJax.js{CONFIG}"


def copy_mathjax(staging: Path) -> None:
    """Put the installed MathJax into ``staging/mathjax`` (nothing without one)."""
    source = installed_copy()
    if source is not None:
        shutil.copytree(source, staging / FOLDER, dirs_exist_ok=True)
        (staging / FOLDER / "config" / "local").mkdir(exist_ok=True)
        (staging / FOLDER / "config" / "local" / "report.js").write_text(LOCAL_CONFIG)
