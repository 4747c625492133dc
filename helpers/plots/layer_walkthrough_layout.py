"""Where the layer walkthrough puts things: pure geometry, in cell units (no drawing).

A matrix of shape (rows, cols) is drawn as rows × cols cells, one unit per cell (a cell is ``CELL_W_IN`` wide
and ``CELL_H_IN`` high), so shapes can be compared by eye: in a[l-1] · W[l] = … the inner sizes line up. The
picture has an overview band at the top (every a[l] in a row, every δ[l] below its a[l]) and below it up to
two equation rows for the current step; every row's height is the largest it reaches over all steps, so
nothing moves vertically from one step to the next.
"""
from __future__ import annotations

from dataclasses import dataclass

from helpers.plots.layer_walkthrough_steps import LayerStep, Panel

CELL_W_IN, CELL_H_IN = 0.5, 0.22
CHAR_IN = 0.07  # width of one character of an 8 pt label, in inches
LABEL_UNITS = 1.4  # room above a matrix for its name and shape (in cell heights)
GAP_UNITS = 0.6  # between neighbouring items of a row (in cell widths)
ROW_GAP_UNITS = 0.9  # between rows (in cell heights)
CAPTION_UNITS = 3.6  # the caption's two lines at the top (in cell heights)
MARGIN_UNITS = 0.5


@dataclass(frozen=True)
class Placed:
    """One item of a row: a panel (``item`` a :class:`Panel`) or an operator (a string), its left edge and width
    (cell widths) and, for a panel, its top edge (cell heights from the top of the figure)."""
    item: Panel | str
    left: float
    width: float
    top: float = 0.0


def label_text(panel: Panel) -> str:
    return f"{panel.name}  {panel.shape_text}"


def text_units(text: str) -> float:
    """Width of ``text`` at the label font, in cell widths."""
    return len(text) * CHAR_IN / CELL_W_IN


def item_width(item: Panel | str) -> float:
    """A panel's slot is as wide as its matrix or its label, whichever is wider; an operator as its text."""
    if isinstance(item, str):
        return text_units(item) + 0.2
    return max(item.values.shape[1], text_units(label_text(item)))


def panel_height(item: Panel | str) -> float:
    return item.values.shape[0] if isinstance(item, Panel) else 0.0


def place_row(items, middle: float) -> list[Placed]:
    """The items left to right from the margin, each panel centred vertically on ``middle`` (cell heights)."""
    placed, left = [], MARGIN_UNITS
    for item in items:
        width = item_width(item)
        top = middle + (LABEL_UNITS - panel_height(item)) / 2  # an operator: its text's centre line
        placed.append(Placed(item, left, width, top))
        left += width + GAP_UNITS
    return placed


def row_height(items) -> float:
    return max((panel_height(item) for item in items), default=0.0) + LABEL_UNITS


@dataclass(frozen=True)
class Layout:
    """The whole picture in cell units: ``width`` × ``height``; ``activation_row`` and ``delta_row`` are the
    overview's placed panels (a[0..L] and δ[1..L]); ``rows[i]`` are step i's equation rows, placed."""
    width: float
    height: float
    activation_row: list[Placed]
    delta_row: list[Placed]
    rows: list[list[list[Placed]]]


def layout(steps: tuple[LayerStep, ...], activations: list[Panel], deltas: list[Panel]) -> Layout:
    """Place the overview (``activations`` a[0..L], ``deltas`` δ[1..L], each δ[l] under a[l]) and every step's
    equation rows; heights are the maxima over the steps."""
    top = CAPTION_UNITS
    activation_height = row_height(activations)
    activation_row = place_row(activations, top + activation_height / 2)
    top += activation_height + ROW_GAP_UNITS
    delta_height = row_height(deltas)
    delta_row = [Placed(panel, slot.left, max(slot.width, item_width(panel)), top + LABEL_UNITS)
                 for panel, slot in zip(deltas, activation_row[1:])]
    top += delta_height + 1.5 * ROW_GAP_UNITS
    count = max(len(step.equations) for step in steps)
    heights = [max(row_height(step.equations[i]) for step in steps if i < len(step.equations)) for i in range(count)]
    middles, y = [], top
    for height in heights:
        middles.append(y + height / 2)
        y += height + ROW_GAP_UNITS
    rows = [[place_row(equation, middles[i]) for i, equation in enumerate(step.equations)] for step in steps]
    right = max(p.left + p.width for placed in (activation_row, delta_row, *[r for s in rows for r in s])
                for p in placed)
    return Layout(right + MARGIN_UNITS, y + MARGIN_UNITS, activation_row, delta_row, rows)
