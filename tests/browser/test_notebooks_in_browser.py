"""Every notebook in a real JupyterLab in headless Chromium, a 1280×720 window with the file browser open
(a classroom projector): Run All, no error or stderr output, every widget renders, and every input of every
classroom widget changes its picture: each slider or dropdown one step (and back), a walkthrough (the scalar
one in notebook 00c, the layer walkthroughs in 02 and 03) reset and ``next`` through every step, in normal and
(where the widget has the toggle) projector mode. Each input's latency and what the class then sees (smallest
text on screen, widget height) go to ``report/browser/measurements.json`` (summarised by
benchmarks/classroom_latency.py; recorded, not asserted). A stand-in widget with every part of the contract
(contract_widget.py) checks that the measurements read each part right.

The lab runs on the project's settings (jupyter/) with a short autosave interval: after all that, each
notebook file in the lab is byte for byte the committed one (autosave is off; a negative control shows that
with autosave on the same wait rewrites a file). Notebook 00c is then saved explicitly (Ctrl+S) and reopened
in a fresh kernel: no "model not found" (the server's pre-save hook kept the static fallbacks).

Runs as every browser test does (tests/browser/conftest.py: in CI, or when asked for). Screenshots are kept
in ``report/browser/<notebook>/``.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from helpers.data.paths import PROJECT_ROOT
from backprop_lab_save_hook import WIDGET_VIEW
from tools.report.build import NOTEBOOK_GLOB  # the numbered notebooks, sessions of one (00a, 00b) included

from .classroom import controls_without_focus_ring
from .driver import (PageLog, close_every_tab, open_in_lab, open_notebook, problem_outputs, run_all, stray_reprs,
                     wait_until)
from .lab import AUTOSAVE_INTERVAL_S, JupyterLab
from .measurements import measure_notebook, new_record, save
from .walkthrough import Shot

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob(NOTEBOOK_GLOB))
SCREENSHOTS = PROJECT_ROOT / "report" / "browser"
# Bounds: 03-05 take 40-80 s headless on an idle 2-core machine, longer live; the whole test has a budget
# too, so that a hanging notebook cannot hold CI for six times the per-notebook bound.
OPEN_TIMEOUT_S, RUN_ALL_TIMEOUT_S, REDRAW_TIMEOUT_S, WHOLE_TEST_BUDGET_S = 90, 360, 90, 1500
WALKTHROUGH_STEP_TIMEOUT_S = 30  # one click of a walkthrough button: a step renders in well under a second
TIMEOUTS = {"walkthrough": WALKTHROUGH_STEP_TIMEOUT_S, "figure": REDRAW_TIMEOUT_S}  # per input, by widget kind
VIEWPORT = {"width": 1280, "height": 720}  # a projector's
AUTOSAVE_MARGIN_S = 2  # past the autosave interval: time for a save that autosave would have started
SAVED_AND_REOPENED = "00c_activations_and_a_graph"  # a notebook with both kinds of live widget
_started = time.monotonic()


def nyu_walkthrough_shots() -> tuple[Shot, ...]:
    """Notebook 00c's walkthrough is the NYU 1.4 (b) graph: screenshots of the middle forward step and of the
    backward step where z's two paths add up (the steps' order depends on the graph, not on the point)."""
    from helpers.graph_derivations import nyu_graph
    from helpers.plots.walkthrough_steps import build_walkthrough, key_frames
    _, forward, backward, _ = key_frames(build_walkthrough(nyu_graph(x=1.0, y=2.0, z=-1.5, o=0.5)).steps)
    return Shot(forward, "walkthrough_forward"), Shot(backward, "walkthrough_backward")


def layer_walkthrough_shots(layers: int, name: str) -> tuple[Shot, ...]:
    """A layer walkthrough of a network with ``layers`` layers: screenshots of its key forward and backward steps
    (which steps those are depends only on the number of layers)."""
    from helpers.plots.layer_walkthrough_steps import LayerStep, key_frames
    phases = ["start"] + ["forward"] * layers + ["backward"] * layers + ["end"]
    _, forward, backward, _ = key_frames(tuple(LayerStep(phase, 0, "", "", ()) for phase in phases))
    return Shot(forward, f"{name}_forward"), Shot(backward, f"{name}_backward")


# Notebooks that must hold a walkthrough widget, and the screenshots to keep of their first one: notebook 00c's
# scalar walkthrough, notebook 02's layer walkthrough (the course MLP, 3 layers) and notebook 03's (MyNet([2, 3, 2])).
WALKTHROUGHS = {"00c_activations_and_a_graph": nyu_walkthrough_shots,
                "02_manual_backprop_mlp": lambda: layer_walkthrough_shots(3, "layer_walkthrough"),
                "03_mynet_delta_rule": lambda: layer_walkthrough_shots(2, "delta_walkthrough")}


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    with JupyterLab(NOTEBOOKS, tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture(scope="module")
def lab_tab(browser):
    """The notebook tests' page, kept from one test to the next (``{"context", "page"}``, empty when there is none):
    JupyterLab loads in it once instead of once per notebook."""
    tab = {}
    yield tab
    if tab:
        tab["context"].close()


@pytest.fixture
def page(browser, lab, lab_tab, request):
    """The page a notebook test drives. Each test opens its notebook in it and, passed, closes it again (its
    kernel shut down, nothing saved); after a failure, or a notebook that does not close, the page goes and the
    next test loads JupyterLab on a new one, so that no test starts from what another left."""
    if not lab_tab:
        context = browser.new_context(viewport=VIEWPORT)
        lab_tab.update(context=context, page=context.new_page())
    failures = request.session.testsfailed
    try:
        yield lab_tab["page"]
    finally:
        try:
            if request.session.testsfailed != failures:
                raise RuntimeError("the test failed: its page goes")
            close_every_tab(lab_tab["page"], OPEN_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - whatever state the page is in, the next test gets a new one
            lab_tab.pop("page")
            lab_tab.pop("context").close()
        lab.shutdown_kernels()  # each notebook's kernel goes, pass or fail (closing a tab leaves it running)


def wait_past_autosave(dirty_since: float) -> None:
    """Wait until autosave, were it on, would have saved a notebook changed at ``dirty_since`` (usually no wait:
    driving the widgets took longer)."""
    time.sleep(max(0.0, dirty_since + AUTOSAVE_INTERVAL_S + AUTOSAVE_MARGIN_S - time.monotonic()))


@contextlib.contextmanager
def scratch_notebook(browser, lab, name: str, source: str):
    """A notebook of one code cell ``source`` in the lab, opened in a page of its own and run; yields the page,
    the notebook's path and its bytes as written. Afterwards the page, its kernel and the file are gone."""
    path = lab.root / name
    kernelspec = json.loads(NOTEBOOKS[0].read_text())["metadata"]["kernelspec"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)],
                                            metadata={"kernelspec": kernelspec}), path)
    written = path.read_bytes()
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        open_notebook(page, lab.url(name), OPEN_TIMEOUT_S)
        run_all(page, OPEN_TIMEOUT_S)
        yield page, path, written
    finally:
        context.close()
        lab.shutdown_kernels()
        path.unlink()


def test_with_autosave_on_the_same_wait_rewrites_a_notebook(browser, lab):
    """The negative control of the unchanged-on-disk check: the lab's short autosave interval, switched on,
    saves a notebook within the wait that the notebook tests allow."""
    with lab.autosave_on(), scratch_notebook(browser, lab, "autosave.ipynb", "1 + 1") as (_, path, written):
        wait_past_autosave(time.monotonic())  # from the end of Run All, as in the notebook tests
        assert path.read_bytes() != written, "autosave on, yet the notebook was not saved"


def test_the_measurements_read_every_part_of_the_widget_contract(browser, lab, tmp_path):
    """A stand-in widget with every part of the contract (tests/browser/contract_widget.py): its text size,
    status, latency and projector mode are measured as they are."""
    source = (Path(__file__).parent / "contract_widget.py").read_text()
    with scratch_notebook(browser, lab, "contract_widget.ipynb", source) as (page, _, _):
        record = new_record(0.0)
        measure_notebook(page, (), tmp_path, TIMEOUTS, record)
    (widget,) = record["widgets"]
    assert widget["projector"] == "available" and all(widget["contract"].values()), widget["contract"]
    inputs = [(event["mode"], event["control"]) for event in widget["events"]]
    assert inputs == [("normal", "shade"), ("normal", "shade"), ("projector", "projector"),
                      ("projector", "shade"), ("normal", "projector")]
    for event in widget["events"]:
        scale = 2 if event["mode"] == "projector" else 1
        assert event["picture_scale"] == 1.0 and event["smallest_text_px"] == 10 * scale, event
        assert event["showed_running"] and event["input_event_seen"], event
        assert 0.3 <= event["picture_s"] <= event["status_clear_s"] < TIMEOUTS["figure"], event
        assert event["widget_height_px"] > 100 * scale, event


def saved_widget_views(path: Path) -> int:
    """How many outputs of the notebook at ``path`` reference a live widget."""
    cells = json.loads(path.read_text())["cells"]
    return sum(WIDGET_VIEW in output.get("data", {}) for cell in cells for output in cell.get("outputs", []))


def save_and_reopen(page, lab, log: PageLog, notebook: Path) -> None:
    """Ctrl+S the notebook with its live widgets, then reopen it on a fresh kernel: the file holds no live-widget
    reference and the page shows no widget failure."""
    copy = lab.root / notebook.name
    before = copy.stat().st_mtime_ns
    page.click(".jp-Notebook .jp-Cell .jp-InputPrompt")  # the notebook has the focus, in command mode
    page.keyboard.press("Control+s")
    wait_until(lambda: copy.stat().st_mtime_ns != before, 30, f"{notebook.name}: Ctrl+S did not save")  # atomic
    assert saved_widget_views(copy) == 0, f"{notebook.name} saved with references to live widgets"
    lab.shutdown_kernels()
    open_notebook(page, lab.url(notebook.name), OPEN_TIMEOUT_S)
    page.wait_for_timeout(2000)  # the widget manager has restored (nothing) and rendered each widget output
    assert problem_outputs(page) == [], f"{notebook.name}: the saved notebook reopens with widget errors"
    assert log.widget_failures() == [], f"{notebook.name}: widget failures in the console after reopening"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem.split("_")[0] for path in NOTEBOOKS])
def test_notebook_runs_and_its_widgets_redraw(notebook: Path, page, lab, request):
    log = PageLog()
    log.attach(page)
    request.addfinalizer(lambda: log.detach(page))  # the page goes on to the next notebook
    screenshots = SCREENSHOTS / notebook.stem
    shutil.rmtree(screenshots, ignore_errors=True)  # only this notebook's old screenshots
    screenshots.mkdir(parents=True)
    left = WHOLE_TEST_BUDGET_S - (time.monotonic() - _started)
    assert left > 60, f"the browser test's budget of {WHOLE_TEST_BUDGET_S} s is spent: {notebook.name} not run"
    try:
        open_in_lab(page, lab.base_url, lab.url(notebook.name), notebook.name, OPEN_TIMEOUT_S)
        seconds = run_all(page, min(RUN_ALL_TIMEOUT_S, left))
    except Exception:
        page.screenshot(path=str(screenshots / "failure.png"))  # what the page showed when it gave up
        raise
    dirty_since = time.monotonic()  # Run All changed the notebook: autosave, were it on, would save it
    page.screenshot(path=str(screenshots / "after_run_all.png"))
    assert problem_outputs(page) == [], f"{notebook.name}: error or stderr output after Run All ({seconds:.0f} s)"
    assert stray_reprs(page) == [], f"{notebook.name}: a function's repr printed under a widget"
    record = new_record(seconds)
    try:
        shots = WALKTHROUGHS[notebook.stem]() if notebook.stem in WALKTHROUGHS else ()
        measure_notebook(page, shots, screenshots, TIMEOUTS, record)
        record["completed"] = True
    except Exception:
        page.screenshot(path=str(screenshots / "failure.png"))
        raise
    finally:
        save(SCREENSHOTS, notebook.stem, record)
    kinds = [widget["kind"] for widget in record["widgets"]]
    assert "walkthrough" in kinds or notebook.stem not in WALKTHROUGHS, f"{notebook.name}: no walkthrough widget"
    time.sleep(0.5)  # let late console messages arrive
    assert problem_outputs(page) == [], f"{notebook.name}: error or stderr output after the inputs"
    assert log.widget_failures() == [], f"{notebook.name}: widget failures in the browser console"
    assert log.errors == [], f"{notebook.name}: uncaught errors in the page"
    assert controls_without_focus_ring(page) == [], f"{notebook.name}: controls that show no keyboard focus"
    wait_past_autosave(dirty_since)
    assert (lab.root / notebook.name).read_bytes() == notebook.read_bytes(), \
        f"{notebook.name} in the lab differs from the committed file: something saved it"
    if notebook.stem == SAVED_AND_REOPENED:
        save_and_reopen(page, lab, log, notebook)
