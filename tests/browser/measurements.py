"""Measure every classroom widget of a notebook, in normal and in projector mode, into report/browser/.

For each input (a walkthrough click, one step of a slider, a dropdown choice, the projector toggle) one
record: the latencies of :func:`~.classroom.timed_input` and what the widget looks like afterwards
(:func:`~.classroom.appearance`). All of a run's notebooks go into one JSON file, ``measurements.json``
(format: :data:`FORMAT`, read by benchmarks/classroom_latency.py); running the test for one notebook (``-k 02``)
replaces that notebook's entry and keeps the others. Speed is recorded, not asserted: it depends on the
machine and its load, which are recorded with it.
"""
from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

from .classroom import NOT_AVAILABLE, appearance, control_name, file_name, find_widgets, has_picture, \
    projector_toggle, timed_input
from .driver import CONTROL_SELECTOR, move, wait_until
from .walkthrough import Shot, drive_walkthrough

# The measurements file's layout; a reader checks it. {"format": 1, "notebooks": {stem: notebook record}},
# a notebook record {"measured_at", "machine": {"cpu_count", "load_average_before", "load_average_after"},
# "run_all_s", "measure_s" (seconds the test spent on Run All and on measuring),
# "page": {"viewport", "file_browser_open", "notebook_width_px"}, "completed", "widgets": [widget record]},
# a widget record {"index", "kind": "walkthrough" | "figure", "contract": {part: present}, "projector":
# "available" | "not available", "events": [event]}, an event {"mode": "normal" | "projector", "control",
# "input", "picture_s", "final_picture_s", "showed_running", "status_clear_s", "input_event_seen",
# "widget_height_px", "picture_scale", "text_px_in_picture", "smallest_text_px", "contract", and "step" for a
# walkthrough click}; a part a widget lacks is "not available".
FORMAT = 1
FILE_NAME = "measurements.json"

PAGE_JS = """() => {
    const browser = document.querySelector('#filebrowser');
    const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
    return {viewport: {width: window.innerWidth, height: window.innerHeight},
            file_browser_open: !!browser && browser.offsetWidth > 0 && !browser.classList.contains('lm-mod-hidden'),
            notebook_width_px: notebook ? notebook.clientWidth : null};
}"""


def show_file_browser(page) -> dict:
    """Open the left sidebar's file browser if it is closed (a classroom's JupyterLab has it open); returns
    the window's size, whether the file browser shows and the notebook's width."""
    if not page.evaluate(PAGE_JS)["file_browser_open"]:
        page.click('.jp-SideBar [data-id="filebrowser"]')
        page.wait_for_timeout(300)
    return page.evaluate(PAGE_JS)


def drive_figure(page, widget, mode: str, screenshots: Path, name: str, timeout_s: float) -> list[dict]:
    """Move each slider and dropdown one step (in normal mode one step and back, two measurements); a
    screenshot of the widget after each control's moves."""
    controls = widget.locator(CONTROL_SELECTOR)
    assert controls.count(), f"{name} has no slider or dropdown"
    events = []
    for c in range(controls.count()):
        control = controls.nth(c)
        label = control_name(control)
        widget.scroll_into_view_if_needed()
        for direction in (1, -1) if mode == "normal" else (1,):
            event = timed_input(page, widget, lambda: move(control, direction), f"{name}, {label}", timeout_s)
            events.append({**event, "mode": mode, "control": label})
        widget.screenshot(path=str(screenshots / f"{name}_control{c}_{file_name(label)}_{mode}.png"))
    return events


def measure_widget(page, widget, kind: str, index: int, shots: tuple[Shot, ...], screenshots: Path,
                   timeouts: dict) -> dict:
    """Drive the widget in normal mode, then (where it has the toggle) press ``projector``, drive it again and
    press the toggle once more: every input measured."""
    name = f"widget{index}"
    widget.scroll_into_view_if_needed()
    timeout_s = timeouts[kind]
    wait_until(lambda: has_picture(widget), timeout_s, f"{name} ({kind}) shows no picture before any input")

    def drive(mode: str) -> list[dict]:
        if kind == "walkthrough":
            return drive_walkthrough(page, widget, mode, shots, screenshots, timeout_s)
        return drive_figure(page, widget, mode, screenshots, name, timeout_s)

    events = drive("normal")
    toggle = projector_toggle(widget)
    if toggle is not None:
        for mode in ("projector", "normal"):
            event = timed_input(page, widget, toggle.click, f"{name}: projector toggle", timeout_s)
            events.append({**event, "mode": mode, "control": "projector"})
            if mode == "projector":
                events += drive("projector")
    return {"index": index, "kind": kind, "contract": appearance(widget)["contract"],
            "projector": "available" if toggle is not None else NOT_AVAILABLE, "events": events}


def measure_notebook(page, shots: tuple[Shot, ...], screenshots: Path, timeouts: dict, record: dict) -> None:
    """Measure every classroom widget on the page into ``record`` (a notebook record, filled as it goes, so that
    a failure still leaves what was measured). The walkthrough ``shots`` apply to the first walkthrough."""
    started = time.monotonic()
    record.update(page=show_file_browser(page), widgets=[])
    record["machine"]["load_average_before"] = [round(load, 2) for load in os.getloadavg()]
    first_walkthrough = True
    for index, (widget, kind) in enumerate(find_widgets(page)):
        walkthrough_shots = shots if kind == "walkthrough" and first_walkthrough else ()
        first_walkthrough = first_walkthrough and kind != "walkthrough"
        record["widgets"].append(measure_widget(page, widget, kind, index, walkthrough_shots, screenshots,
                                                timeouts))
    record["machine"]["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    record["measure_s"] = round(time.monotonic() - started, 1)  # what measuring adds to the test's time


def new_record(run_all_s: float) -> dict:
    """A notebook record before measuring: when, on how many CPUs, how long Run All took."""
    return {"measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpu_count": os.cpu_count()}, "run_all_s": round(run_all_s, 1), "completed": False,
            "widgets": []}


def save(folder: Path, notebook: str, record: dict) -> Path:
    """Write ``record`` as ``notebook``'s entry of ``folder/measurements.json``, keeping the other notebooks'."""
    path = folder / FILE_NAME
    try:
        measured = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        measured = {}
    if measured.get("format") != FORMAT:
        measured = {"format": FORMAT, "notebooks": {}}
    measured["notebooks"][notebook] = record
    measured["notebooks"] = dict(sorted(measured["notebooks"].items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(measured, indent=1) + "\n")
    return path
