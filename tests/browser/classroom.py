"""Find the live classroom widgets on a page and time one input on one of them (the contract in issue 23).

A classroom widget is a box of CSS class ``classroom-widget`` whose picture is the ``img.classroom-picture``,
whose ``classroom-status`` says ``running…`` while a picture is being computed, and whose ``projector`` toggle
(``classroom-projector``) re-lays it out for a projector; the picture's class ``classroom-text-px-<N>`` gives
the smallest text drawn in it, in picture pixels. Widgets from before that contract are found too (a
walkthrough box ``walkthrough``, an ``ipywidgets.interact`` box ``widget-interact``, their picture the first
``img`` inside): what they lack is recorded as :data:`NOT_AVAILABLE`, never failed on.

:func:`timed_input` records in the page itself, so that Playwright's round trips do not count: the time of
the input event (``event.timeStamp`` of the first pointerdown, keydown or change inside the widget) and of
every later change of the picture's ``src`` and of the status text (a MutationObserver on the widget).
"""
from __future__ import annotations

import re
import time

from .driver import kernel_idle, wait_until

WIDGET_SELECTOR = ".classroom-widget, .walkthrough, .widget-interact"
NOT_AVAILABLE = "not available"
RUNNING = "running"
INDEX_ATTRIBUTE = "data-classroom-index"  # set by the test on each widget it found, to find it again

# Marks each outermost widget (one nested in another is part of it) with its index; returns their kinds.
MARK_WIDGETS_JS = """([selector, attribute]) => {
    const all = [...document.querySelectorAll(selector)];
    const outermost = all.filter(node => !all.some(other => other !== node && other.contains(node)));
    outermost.forEach((node, index) => node.setAttribute(attribute, String(index)));
    return outermost.map(node => node.querySelector('.walkthrough-next') ? 'walkthrough' : 'figure');
}"""

# Shared by the recorder and the reader: the widget's picture and status element.
PARTS_JS = """const pictureOf = w => w.querySelector('img.classroom-picture') || w.querySelector('img');
              const statusOf = w => w.querySelector('.classroom-status');"""

ARM_JS = """(widget) => {
    %s
    const record = {armed: performance.now(), input: null, pictures: [], statuses: []};
    let lastSrc = (pictureOf(widget) || {}).src || '';
    let lastStatus = statusOf(widget) ? statusOf(widget).textContent : null;
    const onInput = event => { if (record.input === null) record.input = event.timeStamp; };
    const types = ['pointerdown', 'keydown', 'change'];
    types.forEach(type => widget.addEventListener(type, onInput, {capture: true}));
    const observer = new MutationObserver(() => {
        const now = performance.now(), src = (pictureOf(widget) || {}).src || '';
        if (src && src !== lastSrc) { record.pictures.push(now); lastSrc = src; }
        const status = statusOf(widget) ? statusOf(widget).textContent : null;
        if (status !== lastStatus) { record.statuses.push([now, status]); lastStatus = status; }
    });
    observer.observe(widget, {subtree: true, childList: true, attributes: true, characterData: true});
    widget.__classroomRecord = record;
    widget.__classroomStop = () => {
        observer.disconnect();
        types.forEach(type => widget.removeEventListener(type, onInput, {capture: true}));
        return record;
    };
}""" % PARTS_JS

# What settles an input: a new picture, loaded, and no status saying running.
SETTLED_JS = """(widget) => {
    %s
    const record = widget.__classroomRecord, picture = pictureOf(widget), status = statusOf(widget);
    return record.pictures.length > 0 && !!picture && picture.complete && picture.naturalWidth > 0
        && !(status && status.textContent.includes('%s'));
}""" % (PARTS_JS, RUNNING)

APPEARANCE_JS = """(widget) => {
    %s
    const picture = pictureOf(widget), status = statusOf(widget);
    const textPx = picture && /(?:^|\\s)classroom-text-px-(\\d+)(?:\\s|$)/.exec(picture.className);
    return {height: widget.getBoundingClientRect().height, textPx: textPx ? Number(textPx[1]) : null,
            naturalWidth: picture ? picture.naturalWidth : 0, clientWidth: picture ? picture.clientWidth : 0,
            contract: {widget: widget.classList.contains('classroom-widget'),
                       picture: !!picture && picture.classList.contains('classroom-picture'),
                       textPx: !!textPx, status: !!status,
                       projector: !!widget.querySelector('.classroom-projector')}};
}""" % PARTS_JS


def find_widgets(page) -> list[tuple[object, str]]:
    """Every classroom widget on the page, in page order, as (locator, kind), kind 'walkthrough' or 'figure'."""
    kinds = page.evaluate(MARK_WIDGETS_JS, [WIDGET_SELECTOR, INDEX_ATTRIBUTE])
    return [(page.locator(f'[{INDEX_ATTRIBUTE}="{index}"]'), kind) for index, kind in enumerate(kinds)]


def appearance(widget) -> dict:
    """What a class sees of the widget now: its height on screen, the smallest text in its picture on screen
    (N picture pixels × shown width / natural width), the picture's scale, and which contract parts it has."""
    seen = widget.evaluate(APPEARANCE_JS)
    scale = seen["clientWidth"] / seen["naturalWidth"] if seen["naturalWidth"] else None
    return {"widget_height_px": round(seen["height"], 1),
            "picture_scale": round(scale, 3) if scale else NOT_AVAILABLE,
            "text_px_in_picture": seen["textPx"] if seen["textPx"] is not None else NOT_AVAILABLE,
            "smallest_text_px": (round(seen["textPx"] * scale, 1) if seen["textPx"] is not None and scale
                                 else NOT_AVAILABLE),
            "contract": seen["contract"]}


def latencies(record: dict, has_status: bool) -> dict:
    """Seconds from the input event to the first and the last new picture, and to the status no longer
    saying running (None when it never said so; not available without a status element)."""
    start = record["input"] if record["input"] is not None else record["armed"]
    running = [text for _, text in record["statuses"] if text and RUNNING in text]
    cleared = [moment for moment, text in record["statuses"] if not (text and RUNNING in text)]
    if not has_status:
        status_clear = NOT_AVAILABLE
    else:
        status_clear = round((cleared[-1] - start) / 1000, 3) if running and cleared else None
    return {"picture_s": round((record["pictures"][0] - start) / 1000, 3),
            "final_picture_s": round((record["pictures"][-1] - start) / 1000, 3),
            "showed_running": bool(running) if has_status else NOT_AVAILABLE,
            "status_clear_s": status_clear, "input_event_seen": record["input"] is not None}


def callback_error(widget) -> str:
    """The text of an error the widget's callback printed into the widget, or ""."""
    errors = widget.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    return errors.first.inner_text()[-600:] if errors.count() else ""


def timed_input(page, widget, act, what: str, timeout_s: float) -> dict:
    """Do ``act()`` (one input on ``widget``), wait until its new picture has loaded, the status no longer says
    running and the kernel is idle; return the latencies and the widget's appearance after it. A picture
    that does not change within ``timeout_s``, or an error printed by the callback, fails."""
    widget.evaluate(ARM_JS)
    try:
        how = act()
        description = f"{what} ({how})" if how else what

        def settled():
            error = callback_error(widget)
            if error:
                raise AssertionError(f"{description}: the callback printed an error:\n{error}")
            return widget.evaluate(SETTLED_JS) and kernel_idle(page)

        try:
            wait_until(settled, timeout_s, f"{description}: the picture did not change", poll_s=0.05)
        except TimeoutError as error:
            raise AssertionError(str(error)) from None
    finally:
        record = widget.evaluate("widget => widget.__classroomStop()")
    shown = appearance(widget)
    return {"input": description, **latencies(record, shown["contract"]["status"]), **shown}


def control_name(control) -> str:
    """A slider's or dropdown's description (its label), as the class reads it."""
    label = control.locator(".widget-label").first
    return " ".join((label.text_content() or "").split()) if label.count() else "unlabelled"


def projector_toggle(widget):
    """The widget's ``projector`` toggle, or None where it has none."""
    toggle = widget.locator(".classroom-projector")
    return toggle.first if toggle.count() else None


def scroll_to_top(widget) -> None:
    """Scroll the notebook so that the widget starts at the top of the window (as an instructor would show it)."""
    widget.evaluate("widget => widget.scrollIntoView({block: 'start'})")
    time.sleep(0.2)  # the notebook's scroll settles


def has_picture(widget) -> bool:
    """The widget shows a loaded picture."""
    return widget.evaluate("""(widget) => { %s
        const picture = pictureOf(widget); return !!picture && picture.complete && picture.naturalWidth > 0; }"""
                           % PARTS_JS)


NOT_A_WORD = re.compile(r"\W+")  # Unicode-aware: λ and x₀ stay


def file_name(text: str) -> str:
    """``text`` as a file-name part: lower case, each run of other characters than letters and digits one '-'."""
    return NOT_A_WORD.sub("-", text.lower()).strip("-") or "unlabelled"


FOCUSABLE = "button, select, .noUi-handle"  # a classroom widget's controls: buttons, toggles, dropdowns, sliders
OUTLINE_JS = "el => { const s = getComputedStyle(el); return [s.outlineStyle, parseFloat(s.outlineWidth) || 0]; }"


def controls_without_focus_ring(page) -> list[str]:
    """Every visible control of every classroom widget, focused: those that show no focus ring at least 2 px wide,
    by their text or class."""
    missing = []
    for widget, _ in find_widgets(page):
        for control in widget.locator(FOCUSABLE).all():
            if not control.is_visible():
                continue
            control.focus()
            style, width = control.evaluate(OUTLINE_JS)
            if style == "none" or width < 2:
                missing.append((control.text_content() or "").strip() or control.evaluate("el => el.className"))
    return missing
