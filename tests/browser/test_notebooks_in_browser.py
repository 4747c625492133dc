"""Every notebook in a real JupyterLab in headless Chromium: Run All, no error or stderr output, every
widget renders, and moving each slider or dropdown redraws its plot. A walkthrough widget (the scalar one in
notebook 00, the layer walkthroughs in 02 and 03) is driven by its buttons: reset, then ``next`` through every
step (forward and backward pass), the picture changing each time.

Runs when ``CI=true`` (where a browser that cannot start is a failure) or ``BACKPROP_LAB_BROWSER_TEST=1``;
otherwise it is skipped with a message saying how to enable it. Screenshots of each widget before and after
each move are kept in ``report/browser/<notebook>/``.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from helpers.data.paths import PROJECT_ROOT

from .driver import PageLog, exercise_widgets, open_notebook, problem_outputs, run_all, stray_reprs
from .lab import JupyterLab
from .walkthrough import Shot, drive_walkthroughs

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = PROJECT_ROOT / "report" / "browser"
ENABLE_ENV, CHROMIUM_ENV = "BACKPROP_LAB_BROWSER_TEST", "BACKPROP_LAB_CHROMIUM"
HOW_TO_ENABLE = (f"browser test skipped: set {ENABLE_ENV}=1 to run it (needs Debian's chromium: "
                 f"`apt-get install chromium`, or {CHROMIUM_ENV}=/path/to/chromium); CI runs it always")
# Flags for a headless Chromium on a machine without network or GPU (as root it also needs --no-sandbox).
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Bounds: 03-05 take 40-80 s headless on an idle 2-core machine, longer live; the whole test has a budget
# too, so that a hanging notebook cannot hold CI for six times the per-notebook bound.
OPEN_TIMEOUT_S, RUN_ALL_TIMEOUT_S, REDRAW_TIMEOUT_S, WHOLE_TEST_BUDGET_S = 90, 360, 90, 1500
WALKTHROUGH_STEP_TIMEOUT_S = 30  # one click of a walkthrough button: a step renders in well under a second
_started = time.monotonic()


def nyu_walkthrough_shots() -> tuple[Shot, ...]:
    """Notebook 00's walkthrough is the NYU 1.4 (b) graph: screenshots of the middle forward step and of the
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


# Notebooks that must hold a walkthrough widget, and the screenshots to keep of their first one: notebook 00's
# scalar walkthrough, notebook 02's layer walkthrough (the course MLP, 3 layers) and notebook 03's (MyNet([2, 3, 2])).
WALKTHROUGHS = {"00_computational_graphs": nyu_walkthrough_shots,
                "02_manual_backprop_mlp": lambda: layer_walkthrough_shots(3, "layer_walkthrough"),
                "03_mynet_delta_rule": lambda: layer_walkthrough_shots(2, "delta_walkthrough")}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def cannot_run(reason: str):
    """A missing browser fails in CI and when asked for explicitly; skips otherwise."""
    pytest.fail(f"browser test cannot run: {reason}", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    if not (in_ci() or os.environ.get(ENABLE_ENV, "").strip() == "1"):
        pytest.skip(HOW_TO_ENABLE)
    executable = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        cannot_run("no chromium found (apt-get install chromium, or set BACKPROP_LAB_CHROMIUM)")
    try:
        from playwright.sync_api import Error as PlaywrightError, sync_playwright
    except ImportError as error:
        cannot_run(f"playwright is not installed ({error}); run `make setup`")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, timeout=60_000)
        except PlaywrightError as error:
            cannot_run(f"chromium at {executable} did not start: {str(error).splitlines()[0]}")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    with JupyterLab(NOTEBOOKS, tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
        lab.shutdown_kernels()  # each notebook's kernel goes, pass or fail


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem[:2] for path in NOTEBOOKS])
def test_notebook_runs_and_its_widgets_redraw(notebook: Path, page, lab):
    log = PageLog()
    log.attach(page)
    screenshots = SCREENSHOTS / notebook.stem
    shutil.rmtree(screenshots, ignore_errors=True)  # only this notebook's old screenshots
    screenshots.mkdir(parents=True)
    left = WHOLE_TEST_BUDGET_S - (time.monotonic() - _started)
    assert left > 60, f"the browser test's budget of {WHOLE_TEST_BUDGET_S} s is spent: {notebook.name} not run"
    try:
        open_notebook(page, lab.url(notebook.name), OPEN_TIMEOUT_S)
        seconds = run_all(page, min(RUN_ALL_TIMEOUT_S, left))
    except Exception:
        page.screenshot(path=str(screenshots / "failure.png"))  # what the page showed when it gave up
        raise
    page.screenshot(path=str(screenshots / "after_run_all.png"))
    assert problem_outputs(page) == [], f"{notebook.name}: error or stderr output after Run All ({seconds:.0f} s)"
    assert stray_reprs(page) == [], f"{notebook.name}: a function's repr printed under a widget"
    moves = exercise_widgets(page, screenshots, REDRAW_TIMEOUT_S)
    shots = WALKTHROUGHS[notebook.stem]() if notebook.stem in WALKTHROUGHS else ()
    walks = drive_walkthroughs(page, screenshots, shots, WALKTHROUGH_STEP_TIMEOUT_S)
    assert walks or notebook.stem not in WALKTHROUGHS, f"{notebook.name}: no walkthrough widget on the page"
    moves += walks
    time.sleep(0.5)  # let late console messages arrive
    assert problem_outputs(page) == [], f"{notebook.name}: error or stderr output after moving {moves}"
    assert log.widget_failures() == [], f"{notebook.name}: widget failures in the browser console"
    assert log.errors == [], f"{notebook.name}: uncaught errors in the page"
    (screenshots / "moves.txt").write_text("\n".join(moves) + "\n")
