"""Drive a walkthrough widget (helpers/plots/walkthrough_widget.py) in the browser: reset, then ``next``
through every step to the end, checking after each click that the picture changed and nothing failed.

The widget is found by its CSS classes (the box ``walkthrough``, each button ``walkthrough-<name>``); its
picture is the ``<img>`` inside the box and its ``step`` slider shows the current step in its readout.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .driver import kernel_idle, move, problem_outputs, wait_until

WALKTHROUGH_SELECTOR = ".walkthrough"


@dataclass(frozen=True)
class Shot:
    """Save a screenshot of the walkthrough at step ``step`` as ``<name>.png``."""
    step: int
    name: str


def shown_step(box) -> int:
    """The step the slider's readout shows (0 = start)."""
    return int(box.locator(".widget-readout").first.text_content().strip())


def last_step(box) -> int:
    """The slider's maximum: the index of the end frame (read from the slider handle's ARIA attribute)."""
    return int(box.locator(".noUi-handle").first.get_attribute("aria-valuemax").split(".")[0])


def picture_src(box) -> str:
    """The picture's ``src`` (a new blob URL at every redraw), or "" while it has none."""
    return box.locator("img").first.get_attribute("src") or ""


def picture(box) -> tuple[str, bytes]:
    """The picture's ``src`` and the screenshot bytes of the ``<img>`` as drawn on the page."""
    return picture_src(box), box.locator("img").first.screenshot()


def kernel_errors(page) -> str:
    """The log console's count of kernel messages that belong to no cell (a widget callback's traceback
    goes there, not under the cell), as JupyterLab's status bar shows it; "" while it shows none."""
    return page.evaluate("""() => {
        const item = document.querySelector('.jp-LogConsoleStatusItem');
        return item && /\\d/.test(item.textContent) ? item.textContent.trim() : '';
    }""")


def log_console_text(page) -> str:
    """Open the log console (click its status-bar item) and return the end of what it shows."""
    page.click(".jp-LogConsoleStatusItem")
    page.wait_for_selector(".jp-LogConsolePanel", timeout=10_000)
    page.wait_for_timeout(500)
    return page.evaluate("() => document.querySelector('.jp-LogConsolePanel').innerText")[-1500:]


def no_failure(page, what: str, logged_before: str) -> None:
    """No error or stderr output in the page, and nothing new in the log console since ``logged_before``."""
    problems = problem_outputs(page)
    assert problems == [], f"{what}: an error appeared: {problems}"
    if kernel_errors(page) != logged_before:
        raise AssertionError(f"{what}: the kernel logged outside every cell (log console was "
                             f"{logged_before or 'empty'}, now {kernel_errors(page)}):\n{log_console_text(page)}")


def click_and_wait(page, box, button: str, expected_step: int, before: tuple[str, bytes], timeout_s: float,
                   logged_before: str):
    """Click ``walkthrough-<button>``; wait until the slider shows ``expected_step``, the picture's ``src``
    changed and the kernel is idle; then the drawn picture must differ from ``before``. Returns the picture."""
    what = f"walkthrough: {button} to step {expected_step}"
    box.locator(f".walkthrough-{button}").click()

    def settled():
        no_failure(page, what, logged_before)
        return shown_step(box) == expected_step and picture_src(box) not in ("", before[0]) and kernel_idle(page)

    try:
        wait_until(settled, timeout_s, f"{what}: the picture did not change (slider shows {shown_step(box)})",
                   poll_s=0.1)
    except TimeoutError as error:
        raise AssertionError(str(error)) from None
    after = picture(box)
    assert after[1] != before[1], f"{what}: the img src changed but the drawn picture is the same"
    return after


def drive_walkthrough(page, box, screenshots: Path, shots: tuple[Shot, ...], timeout_s: float) -> str:
    """Reset, then ``next`` through every step to the end, then move the step slider one key press;
    saves the requested screenshots of the whole widget. Returns one line saying what was done.
    """
    logged_before = kernel_errors(page)  # what other widgets logged is not this widget's failure
    box.scroll_into_view_if_needed()
    end = last_step(box)
    assert end > 1, f"walkthrough has {end + 1} steps: nothing to walk through"
    wanted = {shot.step: shot.name for shot in shots}
    assert set(wanted) <= set(range(end + 1)), f"screenshot steps {sorted(wanted)} outside 0..{end}"
    current = picture(box)
    if shown_step(box) == 0:  # leave the start, so that reset has to redraw
        current = click_and_wait(page, box, "next", 1, current, timeout_s, logged_before)
    current = click_and_wait(page, box, "reset", 0, current, timeout_s, logged_before)
    started = time.monotonic()
    for step in range(1, end + 1):
        current = click_and_wait(page, box, "next", step, current, timeout_s, logged_before)
        if step in wanted:
            box.screenshot(path=str(screenshots / f"{wanted[step]}.png"))
    seconds_per_next = (time.monotonic() - started) / end  # click to settled picture, screenshots included
    how = move(box.locator(".widget-slider, .widget-hslider").first)  # at the end: steps down one
    wait_until(lambda: picture_src(box) != current[0] and kernel_idle(page), timeout_s,
               f"walkthrough: the step slider ({how}) did not redraw")
    no_failure(page, f"walkthrough: step slider ({how})", logged_before)
    return (f"walkthrough: reset, next x{end} (steps 1..{end}, picture changed each time, "
            f"{seconds_per_next:.2f} s per click in the browser), step {how}")


def drive_walkthroughs(page, screenshots: Path, shots: tuple[Shot, ...], timeout_s: float) -> list[str]:
    """Drive every walkthrough widget on the page; ``shots`` apply to the first one."""
    boxes = page.locator(WALKTHROUGH_SELECTOR)
    return [drive_walkthrough(page, boxes.nth(b), screenshots, shots if b == 0 else (), timeout_s)
            for b in range(boxes.count())]
