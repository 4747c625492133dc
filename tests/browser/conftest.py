"""What every browser test shares: one headless Chromium (Debian's, driven by Playwright through
``executable_path``; Playwright's own browser download is not used).

The browser tests run when ``CI=true`` (where a browser that cannot start is a failure) or
``BACKPROP_LAB_BROWSER_TEST=1``; otherwise they are skipped with a message saying how to enable them.
"""
from __future__ import annotations

import os
import shutil

import pytest

ENABLE_ENV, CHROMIUM_ENV = "BACKPROP_LAB_BROWSER_TEST", "BACKPROP_LAB_CHROMIUM"
HOW_TO_ENABLE = (f"browser tests skipped: set {ENABLE_ENV}=1 to run it (needs Debian's chromium: "
                 f"`apt-get install chromium`, or {CHROMIUM_ENV}=/path/to/chromium); CI runs it always")
# Flags for a headless Chromium on a machine without network or GPU (as root it also needs --no-sandbox).
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def cannot_run(reason: str):
    """A missing browser (or anything else a browser test needs) fails in CI and when asked for explicitly."""
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
