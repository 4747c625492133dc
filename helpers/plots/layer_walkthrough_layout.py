"""Where the layer walkthrough puts things: pure geometry, in cell units (no drawing).

A matrix of shape (rows, cols) is drawn as rows × cols cells (a cell is ``Sizes.cell_w_in`` wide and
``Sizes.cell_h_in`` high; a matrix whose numbers are drawn gets cells wide enough for them), so shapes can be
compared by eye: in a[l-1] × W[l] = … the inner sizes line up. In the notebook (:data:`NOTEBOOK`) the picture
has an overview band at the top (every a[l] in a row, every δ[l] below its a[l]) and below it up to two
equation rows for the current step, every matrix with its numbers; for a projector (:data:`PROJECTOR`) only
the equation rows, with numbers on each row's result; every row's height is the largest it reaches over all steps, so
nothing moves vertically from one step to the next.
"""
from __future__ import annotations

from dataclasses import dataclass

from helpers.plots.layer_walkthrough_steps import LayerStep, Panel

LABEL_UNITS = 1.4  # room above a matrix for its name and shape (in cell heights)
GAP_UNITS = 0.6  # between neighbouring items of a row (in cell widths)
ROW_GAP_UNITS = 0.9  # between rows (in cell heights)
MARGIN_UNITS = 0.5
CHAR_EM = 0.63  # a label character's width as a fraction of the font size (DejaVu Sans, generous)
NUMBER_PAD_EM = 0.8  # air either side of a number in its cell


@dataclass(frozen=True)
class Sizes:
    """How large things are drawn: cells (inches), fonts (points), whether the overview band (every a[l] and
    δ[l]) is drawn, whether every matrix shows its numbers or only each row's result (the last matrix), and
    ``number_cell``, the width of a numbered matrix's cells in cell widths (its numbers must fit)."""
    cell_w_in: float = 0.5
    cell_h_in: float = 0.22
    label_font: float = 8.0
    number_font: float = 6.5
    operator_font: float = 11.0
    caption_font: float = 8.5
    overview: bool = True
    numbers_everywhere: bool = True
    number_cell: float = 1.0
    caption_units: float = 3.6  # the caption's three lines at the top (in cell heights)
    dpi: float | None = None  # pixels per inch of the picture (None: matplotlib's figure.dpi)

    def number_cell_for(self, widest_in: float) -> float:
        """The ``number_cell`` (cell widths) in which a number ``widest_in`` inches wide fits with some air."""
        return max(1.0, (widest_in + NUMBER_PAD_EM * self.number_font / 72) / self.cell_w_in)


NOTEBOOK = Sizes()
PROJECTOR_POINTS, PROJECTOR_DPI = 12.8, 90.0  # 16 px text: see helpers.runtime.classroom.PROJECTOR_TEXT_PX
PROJECTOR = Sizes(cell_w_in=0.28, cell_h_in=0.3, label_font=PROJECTOR_POINTS, number_font=PROJECTOR_POINTS,
                  operator_font=1.3 * PROJECTOR_POINTS, caption_font=PROJECTOR_POINTS, overview=False,
                  numbers_everywhere=False, caption_units=2.7, dpi=PROJECTOR_DPI)


@dataclass(frozen=True)
class Placed:
    """One item of a row: a panel (``item`` a :class:`Panel`) or an operator (a string), its left edge and width
    (cell widths), for a panel its top edge (cell heights from the top of the figure), the width of its cells
    (cell widths) and whether its numbers are drawn."""
    item: Panel | str
    left: float
    width: float
    top: float = 0.0
    cell: float = 1.0
    numbers: bool = True


def label_text(panel: Panel, sizes: Sizes) -> str:
    """A matrix's name, with its shape where there is room (a projector's picture shows the shape as cells)."""
    return f"{panel.name}  {panel.shape_text}" if sizes.numbers_everywhere else panel.name


def text_units(text: str, sizes: Sizes) -> float:
    """Width of ``text`` at the label font, in cell widths."""
    return len(text) * CHAR_EM * sizes.label_font / 72 / sizes.cell_w_in


def numbered(items, sizes: Sizes) -> list[bool]:
    """Per item of a row, whether its numbers are drawn: every panel's, or only the row's result (the panel
    after its "=", else its last panel)."""
    panels = [i for i, item in enumerate(items) if isinstance(item, Panel)]
    after_equals = [i + 1 for i, item in enumerate(items[:-1]) if item == "=" and i + 1 in panels]
    result = after_equals[0] if after_equals else (panels[-1] if panels else -1)
    return [isinstance(item, Panel) and (sizes.numbers_everywhere or i == result) for i, item in enumerate(items)]


def item_width(item: Panel | str, sizes: Sizes, cell: float = 1.0) -> float:
    """A panel's slot is as wide as its matrix or its label, whichever is wider; an operator as its text."""
    if isinstance(item, str):
        return text_units(item, sizes) + 0.2
    return max(item.values.shape[1] * cell, text_units(label_text(item, sizes), sizes))


def panel_height(item: Panel | str) -> float:
    return item.values.shape[0] if isinstance(item, Panel) else 0.0


def place_row(items, middle: float, sizes: Sizes) -> list[Placed]:
    """The items left to right from the margin, each panel centred vertically on ``middle`` (cell heights)."""
    placed, left = [], MARGIN_UNITS
    for item, numbers in zip(items, numbered(items, sizes)):
        cell = sizes.number_cell if numbers else 1.0
        width = item_width(item, sizes, cell)
        top = middle + (LABEL_UNITS - panel_height(item)) / 2  # an operator: its text's centre line
        placed.append(Placed(item, left, width, top, cell, numbers))
        left += width + GAP_UNITS
    return placed


def row_height(items) -> float:
    return max((panel_height(item) for item in items), default=0.0) + LABEL_UNITS


@dataclass(frozen=True)
class Layout:
    """The whole picture in cell units: ``width`` × ``height``; ``activation_row`` and ``delta_row`` are the
    overview's placed panels (a[0..L] and δ[1..L]; empty without the overview); ``rows[i]`` are step i's
    equation rows, placed."""
    width: float
    height: float
    activation_row: list[Placed]
    delta_row: list[Placed]
    rows: list[list[list[Placed]]]


def layout(steps: tuple[LayerStep, ...], activations: list[Panel], deltas: list[Panel],
           sizes: Sizes = NOTEBOOK) -> Layout:
    """Place the overview (``activations`` a[0..L], ``deltas`` δ[1..L], each δ[l] under a[l]; only if
    ``sizes.overview``) and every step's equation rows; heights are the maxima over the steps."""
    top = sizes.caption_units
    activation_row, delta_row = [], []
    if sizes.overview:
        activation_height = row_height(activations)
        activation_row = place_row(activations, top + activation_height / 2, sizes)
        top += activation_height + ROW_GAP_UNITS
        delta_row = [Placed(panel, slot.left, max(slot.width, item_width(panel, sizes)), top + LABEL_UNITS)
                     for panel, slot in zip(deltas, activation_row[1:])]
        top += row_height(deltas) + 1.5 * ROW_GAP_UNITS
    count = max(len(step.equations) for step in steps)
    heights = [max(row_height(step.equations[i]) for step in steps if i < len(step.equations)) for i in range(count)]
    middles, y = [], top
    for height in heights:
        middles.append(y + height / 2)
        y += height + ROW_GAP_UNITS
    rows = [[place_row(equation, middles[i], sizes) for i, equation in enumerate(step.equations)] for step in steps]
    right = max(p.left + p.width for placed in (activation_row, delta_row, *[r for s in rows for r in s])
                for p in placed)
    return Layout(right + MARGIN_UNITS, y + MARGIN_UNITS, activation_row, delta_row, rows)
