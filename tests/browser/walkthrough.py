"""Drive a walkthrough widget (helpers/plots/walkthrough_widget.py) in the browser: reset, then ``next``
through every step to the end, timing each click and checking after it that the picture changed and nothing
failed.

Its buttons carry the CSS classes ``walkthrough-<name>``; its picture is the ``<img>`` inside the box and its
``step`` slider shows the current step in its readout.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .classroom import scroll_to_top, timed_input
from .driver import move, problem_outputs, wait_until


@dataclass(frozen=True)
class Shot:
    """Save screenshots of the walkthrough at step ``step`` named ``<name>…png``."""
    step: int
    name: str


def shown_step(box) -> int:
    """The step the slider's readout shows (0 = start)."""
    return int(box.locator(".widget-readout").first.text_content().strip())


def last_step(box) -> int:
    """The slider's maximum: the index of the end frame (read from the slider handle's ARIA attribute)."""
    return int(box.locator(".noUi-handle").first.get_attribute("aria-valuemax").split(".")[0])


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


def picture_drawn(box) -> bytes:
    """The walkthrough's picture as drawn on the page (a screenshot of its ``<img>``)."""
    return box.locator("img").first.screenshot()


def step(page, box, button: str, expected_step: int, before: bytes, context: dict) -> tuple[dict, bytes]:
    """Click ``walkthrough-<button>`` (timed, :func:`~.classroom.timed_input`); the slider must then show
    ``expected_step`` and the drawn picture differ from ``before``. Returns the measurement and the picture."""
    what = f"walkthrough ({context['mode']}): {button} to step {expected_step}"
    try:
        event = timed_input(page, box, lambda: box.locator(f".walkthrough-{button}").click(), what,
                            context["timeout_s"])
        wait_until(lambda: shown_step(box) == expected_step, context["timeout_s"],
                   f"{what}: the slider shows {shown_step(box)}", poll_s=0.05)
    except (AssertionError, TimeoutError):
        no_failure(page, what, context["logged_before"])  # the kernel's own error says more than the timeout
        raise
    no_failure(page, what, context["logged_before"])
    after = picture_drawn(box)
    assert after != before, f"{what}: the img src changed but the drawn picture is the same"
    return {**event, "mode": context["mode"], "control": button, "step": expected_step}, after


def save_shot(page, box, shot: Shot, context: dict) -> None:
    """The walkthrough at a key step: the widget alone (normal mode) and the 1280×720 window as the class
    sees it, the widget scrolled to the top (each mode)."""
    if context["mode"] == "normal":
        box.screenshot(path=str(context["screenshots"] / f"{shot.name}.png"))
    scroll_to_top(box)
    page.screenshot(path=str(context["screenshots"] / f"{shot.name}_{context['mode']}_1280x720.png"))


def drive_walkthrough(page, box, mode: str, shots: tuple[Shot, ...], screenshots: Path, timeout_s: float
                      ) -> list[dict]:
    """Reset, then ``next`` through every step to the end, each click timed; then move the step slider one key
    press. Saves the requested screenshots. Returns one measurement per input."""
    context = {"mode": mode, "timeout_s": timeout_s, "screenshots": screenshots,
               "logged_before": kernel_errors(page)}  # what other widgets logged is not this widget's failure
    box.scroll_into_view_if_needed()
    end = last_step(box)
    assert end > 1, f"walkthrough has {end + 1} steps: nothing to walk through"
    wanted = {shot.step: shot for shot in shots}
    assert set(wanted) <= set(range(end + 1)), f"screenshot steps {sorted(wanted)} outside 0..{end}"
    events, current = [], picture_drawn(box)
    if shown_step(box) == 0:  # leave the start, so that reset has to redraw
        event, current = step(page, box, "next", 1, current, context)
        events.append(event)
    event, current = step(page, box, "reset", 0, current, context)
    events.append(event)
    for number in range(1, end + 1):
        event, current = step(page, box, "next", number, current, context)
        events.append(event)
        if number in wanted:
            save_shot(page, box, wanted[number], context)
    slider = box.locator(".widget-slider, .widget-hslider").first
    event = timed_input(page, box, lambda: move(slider), "walkthrough: step slider", timeout_s)
    no_failure(page, "walkthrough: step slider", context["logged_before"])
    events.append({**event, "mode": mode, "control": "step slider"})
    return events
