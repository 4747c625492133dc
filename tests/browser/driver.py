"""Drive one notebook in JupyterLab through Playwright: Run All, read its outputs, move its widgets.

Every wait is bounded; a failure says which notebook, cell or control and what the page showed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

# Text that must never appear in the page or the browser console.
WIDGET_FAILURES = ("Error displaying widget", "model not found")
BUSY_PROMPT_JS = """() => [...document.querySelectorAll('.jp-InputArea-prompt')]
                          .filter(p => p.textContent.includes('*')).length"""
STATUS_JS = "() => (document.querySelector('.jp-StatusBar-TextItem[title], #jp-main-statusbar') || {}).textContent"


@dataclass
class PageLog:
    """Console messages and page errors seen since the notebook was opened."""
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_error)

    def detach(self, page) -> None:
        """Stop recording (the page goes on to another notebook)."""
        page.remove_listener("console", self._on_console)
        page.remove_listener("pageerror", self._on_error)

    def _on_console(self, message) -> None:
        self.console.append(f"{message.type}: {message.text}")

    def _on_error(self, error) -> None:
        self.errors.append(str(error))

    def widget_failures(self) -> list[str]:
        return [line for line in self.console + self.errors
                if any(failure.lower() in line.lower() for failure in WIDGET_FAILURES)]


def wait_until(condition, timeout_s: float, what: str, poll_s: float = 0.5):
    """Poll ``condition()`` until it returns a truthy value; raise ``TimeoutError(what)`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (waited {timeout_s:.0f} s)")
        time.sleep(poll_s)


def kernel_idle(page) -> bool:
    """The status bar says Idle and no cell shows the busy prompt ``[*]``."""
    status = page.evaluate(STATUS_JS) or ""
    return "Idle" in status and page.evaluate(BUSY_PROMPT_JS) == 0


def open_notebook(page, url: str, timeout_s: float) -> None:
    page.goto(url, timeout=timeout_s * 1000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
    wait_until(lambda: kernel_idle(page), timeout_s, "the kernel never became idle after opening the notebook")


MAIN_TABS = "#jp-main-dock-panel .lm-TabBar-tab"
CURRENT_TAB_JS = f"() => (document.querySelector('{MAIN_TABS}.lm-mod-current .lm-TabBar-tabLabel') || {{}}).textContent"
OPEN_NOTEBOOKS_JS = "() => document.querySelectorAll('.jp-NotebookPanel').length"


def open_in_lab(page, lab_root_url: str, url: str, name: str, timeout_s: float) -> None:
    """Open the notebook ``name`` (served at ``url``): in the JupyterLab the page already shows (from its file
    browser, as a user would), else by loading the lab at ``url``. JupyterLab itself then loads once per page,
    not once per notebook (about 10 s each time on a busy 2-core machine)."""
    if not page.url.startswith(lab_root_url) or page.evaluate(OPEN_NOTEBOOKS_JS):
        open_notebook(page, url, timeout_s)
        return
    if not page.locator(".jp-DirListing").first.is_visible():
        page.click('.jp-SideBar [data-id="filebrowser"]')
    page.locator(".jp-DirListing-itemText", has_text=name).first.dblclick()
    wait_until(lambda: page.evaluate(CURRENT_TAB_JS) == name, timeout_s, f"{name} did not open from the file browser")
    launcher = page.locator(MAIN_TABS, has_text="Launcher")  # what the lab opened when the last tab closed
    if launcher.count():
        launcher.first.locator(".lm-TabBar-tabCloseIcon").click()  # the page as a fresh lab shows the notebook
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
    wait_until(lambda: kernel_idle(page), timeout_s, "the kernel never became idle after opening the notebook")


def close_every_tab(page, timeout_s: float) -> None:
    """File ▸ Close All Tabs; a notebook that Run All changed asks whether to save it: Discard (nothing is
    written). Returns once no notebook is left in the page."""
    page.click("#jp-MainMenu >> text=File")
    page.click(".lm-Menu-content >> text=Close All Tabs")

    def closed() -> bool:
        discard = page.locator(".jp-Dialog button", has_text="Discard")
        if discard.count():
            discard.first.click()
        return page.evaluate(OPEN_NOTEBOOKS_JS) == 0

    wait_until(closed, timeout_s, "the notebooks did not close", poll_s=0.2)


BUSY_CELL_JS = """() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
    const index = cells.findIndex(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent?.includes('*'));
    if (index < 0) return 'no cell is running';
    const source = (cells[index].querySelector('.cm-content') || {}).innerText || '';
    return `cell ${index} is still running: ${source.split('\\n')[0].slice(0, 80)}`;
}"""


def run_all(page, timeout_s: float) -> float:
    """Run ▸ Run All Cells, then wait until every cell has finished; returns the seconds it took.
    A timeout names the cell still running."""
    start = time.monotonic()
    page.click("#jp-MainMenu >> text=Run")
    page.click(".lm-Menu-content >> text=Run All Cells")
    wait_until(lambda: page.evaluate(BUSY_PROMPT_JS) > 0 or kernel_idle(page), 30, "Run All did not start")
    time.sleep(1.0)
    try:
        wait_until(lambda: kernel_idle(page), timeout_s, "Run All did not finish")
    except TimeoutError as error:
        raise TimeoutError(f"{error}; {page.evaluate(BUSY_CELL_JS)}") from None
    return time.monotonic() - start


def problem_outputs(page) -> list[str]:
    """The text of every error or stderr output and every widget that failed to render."""
    return page.evaluate("""() => {
        const found = [];
        for (const node of document.querySelectorAll(
                '[data-mime-type="application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type*="error"]'))
            found.push('stderr/error output: ' + node.textContent.slice(0, 400));
        for (const failure of %s)
            if (document.body.innerText.includes(failure)) found.push('page shows: ' + failure);
        return found;
    }""" % list(WIDGET_FAILURES).__repr__())


def stray_reprs(page) -> list[str]:
    """Plain-text outputs that are a function's repr (``<function …>``): a widget helper's return value."""
    return page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output pre')]
        .map(n => n.textContent.trim()).filter(t => /^<function .*>$/.test(t))""")


CONTROL_SELECTOR = ".widget-slider, .widget-hslider, .widget-dropdown"


def move(control, direction: int = 1) -> str:
    """Move one control one step in ``direction`` (+1 or -1): a slider one arrow-key press (the other way at
    its end), a dropdown to the next or previous option (cyclically). Says how it moved."""
    select = control.locator("select")
    if select.count():  # by index: ipywidgets writes the labels with no-break spaces
        options = [" ".join(text.split()) for text in select.locator("option").all_text_contents()]
        current = select.evaluate("node => node.selectedIndex")
        choice = (current + direction) % len(options)
        select.select_option(index=choice)
        return f"dropdown {options[current]!r} -> {options[choice]!r}"
    handle = control.locator(".noUi-handle")
    readout = control.locator(".widget-readout").first
    before = readout.text_content().strip()
    handle.focus()
    handle.press("ArrowRight" if direction > 0 else "ArrowLeft")
    after = readout.text_content().strip()
    if after == before:  # at its end: step the other way instead
        handle.press("ArrowLeft" if direction > 0 else "ArrowRight")
        after = readout.text_content().strip()
    return f"slider {before} -> {after}"
