"""Headless runs (nbval, the report builder, CI) set ``BACKPROP_LAB_HEADLESS=1``.

Then widgets collapse to one call with their defaults and progress bars stay silent, so the stored
notebook outputs are identical from run to run.
"""
from __future__ import annotations

import os

HEADLESS_ENV = "BACKPROP_LAB_HEADLESS"


def is_headless() -> bool:
    return os.environ.get(HEADLESS_ENV, "").strip().lower() in {"1", "true", "yes"}
