"""``report/report.pdf``: the summary page printed by Chromium (Playwright, Debian's chromium through
``executable_path``, as nbconvert's webpdf exporter prints), with the page's print stylesheet; and, from
the same print layout, what a reader of the paper would notice:

- ``figures``: for each figure, the smallest text in it once printed, in points: the smallest font
  drawn in the figure (recorded when it was drawn, :func:`helpers.plots.style.png_with_text_size`) ×
  its printed width / its natural width (the PNG's pixels at its dpi);
- ``clipped_tables``: tables wider than the box they sit in (their right edge would be cut off);
- ``raw_tex``: TeX left as text once MathJax has typeset the page (``\\frac``, ``$x$``).

The page is laid out at the printed text width of a portrait A4 page, in print media; a figure wider than
that prints on a landscape page (``figure.wide``), at most as wide as its text.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ENV = "BACKPROP_LAB_CHROMIUM"
# A headless Chromium without network or GPU (as root it also needs --no-sandbox), as the browser test runs it.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
MARGIN_MM = 10
# (width, height) of a page's text: A4 less the margins, upright and on its side
PAPER_TEXT_MM = {"portrait": (210 - 2 * MARGIN_MM, 297 - 2 * MARGIN_MM),
                 "landscape": (297 - 2 * MARGIN_MM, 210 - 2 * MARGIN_MM)}
PAPER = {"margin_mm": MARGIN_MM}  # for the page's print stylesheet
CSS_PX_PER_MM = 96 / 25.4
MIN_FIGURE_TEXT_PT = 8.0
MATHJAX_TIMEOUT_MS = 30_000

# Waits until MathJax (when the page has it) has typeset everything queued, or ``ms`` have passed (what it
# left untypeset is then found as raw TeX), and until the web fonts are in.
TYPESET = """async (ms) => {
  if (window.MathJax && MathJax.Hub) {
    await Promise.race([new Promise(done => MathJax.Hub.Queue(done)), new Promise(done => setTimeout(done, ms))]);
  }
  await document.fonts.ready;
}"""
# What a reader of the printed page would notice (see the module's docstring).
INSPECT = r"""(figures) => {
  const printed = [...document.querySelectorAll("figure img")].map(img => {
    const known = figures[img.getAttribute("src")] || {};
    const naturalPt = img.naturalWidth * 72 / (known.dpi || 100);
    const box = img.getBoundingClientRect();  // drawn within it, keeping its aspect (object-fit: contain)
    const widthPt = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight) * img.naturalWidth * 0.75;
    return {path: img.getAttribute("src"), printed_width_pt: widthPt,
            smallest_text_pt: known.smallest_text_pt == null ? null : known.smallest_text_pt * widthPt / naturalPt};
  });
  const clipped = [...document.querySelectorAll("table")]
    .filter(t => t.scrollWidth > t.parentElement.clientWidth + 0.5)
    .map(t => (t.previousElementSibling ? t.previousElementSibling.innerText + ": " : "") +
              t.rows[0].innerText.replace(/\s+/g, " ").slice(0, 80));
  const text = document.body.innerText;
  const raw = [...text.matchAll(/\\[A-Za-z]+|\$[^$\n]+\$/g)]  // the TeX, after up to 30 characters before it
    .map(m => text.slice(Math.max(0, m.index - 30), m.index + m[0].length).trim());
  return {figures: printed, clipped_tables: clipped, raw_tex: raw};
}"""


class PrintError(RuntimeError):
    """The PDF could not be printed; the message says why and what to install."""


def chromium_executable() -> str:
    executable = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        raise PrintError(f"no chromium to print report.pdf with: apt-get install chromium (or set {CHROMIUM_ENV})")
    return executable


def print_pdf(index: Path, pdf: Path, figures: dict[str, dict]) -> dict:
    """Print ``index`` to ``pdf``; returns what the print layout shows (see the module's docstring).
    ``figures`` maps each figure's ``src`` to its ``smallest_text_pt`` and ``dpi``."""
    from playwright.sync_api import Error, sync_playwright

    width_px = round(PAPER_TEXT_MM["portrait"][0] * CSS_PX_PER_MM)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS,
                                                 handle_sigint=False, handle_sigterm=False, handle_sighup=False)
            try:
                page = browser.new_page(viewport={"width": width_px, "height": 1000})
                page.emulate_media(media="print")
                page.goto(index.resolve().as_uri(), wait_until="load")
                page.evaluate(TYPESET, MATHJAX_TIMEOUT_MS)
                facts = page.evaluate(INSPECT, figures)
                page.pdf(path=str(pdf), print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except Error as error:
        raise PrintError(f"Chromium could not print {index.name}: {str(error).splitlines()[0]}") from None
    smallest = [f["smallest_text_pt"] for f in facts["figures"] if f["smallest_text_pt"] is not None]
    facts["smallest_figure_text_pt"] = round(min(smallest), 2) if smallest else None
    for figure in facts["figures"]:
        for key in ("printed_width_pt", "smallest_text_pt"):
            figure[key] = None if figure[key] is None else round(figure[key], 2)
    return facts


def print_warnings(facts: dict) -> list[str]:
    """What the printed report gets wrong, in words (nothing when it is right)."""
    warnings = [f"figure text prints at {f['smallest_text_pt']} pt (under {MIN_FIGURE_TEXT_PT} pt): {f['path']}"
                for f in facts["figures"] if f["smallest_text_pt"] is not None
                and f["smallest_text_pt"] < MIN_FIGURE_TEXT_PT]
    warnings += [f"table clipped at the page's right margin: {t}" for t in facts["clipped_tables"]]
    warnings += [f"TeX printed as text, not typeset: {t!r}" for t in facts["raw_tex"]]
    return warnings
