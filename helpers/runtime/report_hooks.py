"""Report hooks: notebooks hand their headline numbers and deliverables to the report.

The report builder (``python -m tools.report``) sets ``BACKPROP_LAB_REPORT_DIR`` to a staging folder
before it executes each notebook. Outside a report build (JupyterLab, nbval) every function here
does nothing and returns None, so running a notebook never touches ``report/``.

Notebooks call nothing here. The builder collects figures and observations from the executed notebook's
tagged cells (``report-figure:<name>``, ``report-text:<name>``; see ``tools/report/harvest.py``), and
right after a cell tagged ``report-metrics:<name>`` it runs :func:`record_headline_numbers` in the kernel:
the function ``<name>`` of ``tools/report/headline_numbers/<notebook>.py`` turns the notebook's variables
into headline numbers (and deliverable files), which :func:`record_metrics` stores.

Layout written under the report folder, one *section* per notebook (e.g. ``"01_spiral"``)::

    metrics/<section>.json        headline numbers (JSON values), merged across calls
    figures/<section>/<name>.png  key figures (written by the builder from tagged cells)
    text/<section>/<name>.md      observations / answers, Markdown (likewise)
    <name>                        deliverable files, e.g. q2_ytest.txt
"""
from __future__ import annotations

import inspect
import json
import os
import runpy
from pathlib import Path

from helpers.runtime.writable import writing_in

REPORT_ENV = "BACKPROP_LAB_REPORT_DIR"


def report_dir() -> Path | None:
    """The folder a report build writes into, or None outside a report build."""
    value = os.environ.get(REPORT_ENV)
    return Path(value) if value else None


def _target(*parts: str) -> Path | None:
    root = report_dir()
    if root is None:
        return None
    path = root.joinpath(*parts)
    with _writing(root, path.name):
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _writing(root: Path, name: str):
    """A report folder that cannot be written is an error naming it and the option that moves it."""
    return writing_in(root, REPORT_ENV, name, fix=f"build the report elsewhere with python -m tools.report "
                                                  f"--output DIR (it sets ${REPORT_ENV})")


def _check_json_value(key: str, value) -> None:
    try:
        json.dumps(value, allow_nan=False)  # TypeError names a non-JSON type
    except ValueError:
        raise ValueError(f"metric {key!r} contains NaN or inf; record finite numbers "
                         "(report divergence as a flag)") from None


def record_metrics(section: str, **values) -> Path | None:
    """Merge ``values`` (JSON-serialisable, finite) into ``metrics/<section>.json``.

    Keys keep the order they were recorded in: the report shows them in that (the story's) order.
    """
    for key, value in values.items():
        _check_json_value(key, value)
    path = _target("metrics", f"{section}.json")
    if path is None:
        return None
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(values)
    with _writing(report_dir(), path.name):
        path.write_text(json.dumps(current, indent=2))
    return path


def write_deliverable(name: str, content: str) -> Path | None:
    """Write a deliverable file (e.g. ``q2_ytest.txt``) at the top of the report folder."""
    path = _target(name)
    if path is not None:
        with _writing(report_dir(), name):
            path.write_text(content)
    return path


def record_headline_numbers(section: str, source: str | Path, name: str, namespace: dict) -> Path | None:
    """Call the function ``name`` of the Python file ``source`` with the notebook variables its
    parameters name (from ``namespace``, the kernel's globals) and record the numbers it returns.

    The report builder sends this call to the kernel after the cell tagged ``report-metrics:<name>``; the
    function's parameters say which of the notebook's variables the numbers come from."""
    functions = runpy.run_path(str(source))
    function = functions.get(name)
    if not inspect.isfunction(function):
        raise LookupError(f"{source} defines no function {name!r} for the cell tagged 'report-metrics:{name}'")
    parameters = inspect.signature(function).parameters
    missing = [p for p, parameter in parameters.items() if p not in namespace and parameter.default is parameter.empty]
    if missing:
        raise NameError(f"{name} ({source}) needs the notebook variable(s) {', '.join(missing)}, which the "
                        f"notebook has not defined by the cell tagged 'report-metrics:{name}'")
    values = function(**{p: namespace[p] for p in parameters if p in namespace})  # a default: may be absent
    if not isinstance(values, dict):
        raise TypeError(f"{name} ({source}) must return a dict of headline numbers, got {type(values).__name__}")
    return record_metrics(section, **values) if values else None  # nothing to show (a part that did not run)
