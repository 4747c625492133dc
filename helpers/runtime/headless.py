"""Headless runs (nbval, the report builder, CI) set ``BACKPROP_LAB_HEADLESS=1``; nbgrader sets
``NBGRADER_EXECUTION`` while it validates or autogrades, which counts as headless too (nobody watches).

Then widgets collapse to one call with their defaults and progress bars stay silent, so the stored
notebook outputs are identical from run to run.
"""
from __future__ import annotations

import os

HEADLESS_ENV = "BACKPROP_LAB_HEADLESS"
NBGRADER_ENV = "NBGRADER_EXECUTION"


def is_headless() -> bool:
    """True when ``BACKPROP_LAB_HEADLESS`` is 1/true/yes or nbgrader is executing the notebook."""
    return (os.environ.get(HEADLESS_ENV, "").strip().lower() in {"1", "true", "yes"}
            or bool(os.environ.get(NBGRADER_ENV)))
