"""The layer walkthrough drawn: every a[l] and δ[l] as small heatmaps, and the current step's equations.

:class:`LayerWalkthroughFigure` builds the steps of :func:`helpers.plots.layer_walkthrough_steps.build_layer_walkthrough`
and one figure for all of them. At the top, the overview: a[0..L] in a row (filled in as the forward pass
computes them) and each δ[l] below its a[l] (filled in from the output back); the current one is framed.
Below, the current step's equations, matrix by matrix with their names, shapes and numbers:
a[l-1] · W[l] + b[l] = z[l] and f(z[l]) = a[l] forward; δ[l], dL/dW[l] and dL/db[l] backward (with the
factors they are formed from in the instructor's edition only: see :mod:`helpers.plots.layer_walkthrough_steps`). Each
cell is one unit wide and high, so the inner sizes of a product line up. The caption says whether every number shown agrees with autograd (a float64 replay):
a wrong backward is named at the step where it happens.

The artists are made once (pools sized for the largest step) and only updated per step: one Agg render a
step (``benchmarks/walkthrough_step.py`` times it). ``projector=True`` draws it for a projector
(:data:`~helpers.plots.layer_walkthrough_layout.PROJECTOR`: no overview, numbers on each row's result, text
16 px). Every number is written on the colour that contrasts most with it (black or white, ≥ 4.5:1 on every
colour of the scale), in a cell wide enough for it.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import matplotlib as mpl
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers.plots.layer_walkthrough_steps import LayerStep, Panel, build_layer_walkthrough, key_frames, number_text
from helpers.plots.layer_walkthrough_layout import NOTEBOOK, PROJECTOR, Placed, Sizes, label_text, layout, numbered
from helpers.plots.style import readable_on
from helpers.plots.walkthrough import HIGHLIGHT, PENDING, RenderedSteps
from helpers.runtime.classroom import smallest_text_px, text_px

CMAP = mpl.colormaps["RdBu_r"]
COLOUR_RANGE = 1.7  # each matrix scaled to [-1, 1], drawn on [-1.7, 1.7]: no cell too dark for its number
MAX_NUMBERS = 64  # a matrix with more cells shows colours only
MAX_SIDE = 16  # every entry gets its own cell: larger batches or layers would not fit a screen
DISAGREES = "#C0392B"  # 5.4:1 on white
SHOWN_OPERATOR = {"·": "×"}  # a centred dot of an 11 pt font is a speck on a projector: the product as ×


class _Matrix:
    """The artists of one matrix: its heatmap, frame and label (its numbers are stamped on the rendered pixels)."""

    def __init__(self, ax, sizes: Sizes):
        self.sizes = sizes
        self.image = ax.imshow(np.zeros((1, 1)), cmap=CMAP, vmin=-COLOUR_RANGE, vmax=COLOUR_RANGE,
                               interpolation="nearest", aspect="auto", extent=(0, 1, 1, 0), zorder=1)
        self.frame = ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, linewidth=0.8, zorder=3))
        self.label = ax.text(0, 0, "", ha="center", va="bottom", fontsize=sizes.label_font, zorder=3)

    def show(self, panel: Panel, slot: Placed, computed: bool = True,
             current: bool = False) -> list[tuple[float, float, str, tuple]]:
        """Draw ``panel`` centred in ``slot`` (values hidden while not ``computed``; framed if ``current``).
        Returns its numbers as (x, y, text, RGB colour) at the cell centres (data units), none if the slot
        shows no numbers."""
        values = panel.values.numpy()
        rows, cols = values.shape
        width = cols * slot.cell
        left = slot.left + (slot.width - width) / 2
        largest = float(np.abs(values).max()) or 1.0
        self.image.set_data(values / largest)
        self.image.set_extent((left, left + width, slot.top + rows, slot.top))
        self.image.set_visible(computed)
        self.frame.set_bounds(left, slot.top, width, rows)
        self.frame.set_visible(True)
        self.frame.set_edgecolor(HIGHLIGHT if current else ("#444444" if computed else PENDING))
        self.frame.set_linewidth(2.4 if current else 0.8)
        self.frame.set_linestyle("-" if computed else "--")
        self.label.set_position((left + cols / 2, slot.top - 0.15))
        self.label.set_text(label_text(panel, self.sizes))
        self.label.set_color("black" if computed else PENDING)
        self.label.set_fontweight("bold" if current else "normal")
        self.label.set_visible(True)
        if not (slot.numbers and computed and values.size <= MAX_NUMBERS):
            return []
        return [(left + (col + 0.5) * slot.cell, slot.top + row + 0.5, number_text(values[row, col]),
                 readable_on(cell_colour(values[row, col] / largest))) for row in range(rows) for col in range(cols)]

    def hide(self) -> None:
        for artist in (self.image, self.frame, self.label):
            artist.set_visible(False)


class LayerWalkthroughFigure(RenderedSteps):
    """One figure for all steps of a network's layer walkthrough; :meth:`show` updates it to a step.

    ``model``, ``x`` (N, n_0), ``y`` (N, n_L) and ``backpropagation`` as for
    :func:`~helpers.plots.layer_walkthrough_steps.build_layer_walkthrough` (the model itself is not changed).
    ``steps`` is the tuple of :class:`~helpers.plots.layer_walkthrough_steps.LayerStep`.
    """

    def __init__(self, model, x: torch.Tensor, y: torch.Tensor, backpropagation=None, projector: bool = False):
        self.walk = build_layer_walkthrough(model, x, y, backpropagation)
        self.steps = self.walk.steps
        record = self.walk.record
        largest = max(max(p.values.shape) for step in self.steps for p in step.panels)
        if largest > MAX_SIDE:
            raise ValueError(f"the layer walkthrough draws every entry, so it needs a batch of at most {MAX_SIDE} "
                             f"and layers of at most {MAX_SIDE} units; got a matrix with a side of {largest} "
                             "(take a few samples, e.g. x[:4], y[:4])")
        as_rows = lambda t: t.detach().to("cpu", torch.float64)  # noqa: E731 (already (N, n_l))
        self.activations = [Panel(f"a[{l}]", as_rows(record.a[l])) for l in range(record.L + 1)]
        self.deltas = [Panel(f"δ[{l}]", as_rows(record.delta[l])) for l in range(1, record.L + 1)]
        font = font_manager.findfont(font_manager.FontProperties(family=mpl.rcParams["font.family"]))
        sizes = PROJECTOR if projector else NOTEBOOK
        dpi = sizes.dpi or mpl.rcParams["figure.dpi"]
        self.number_font = ImageFont.truetype(font, size=round(sizes.number_font * dpi / 72))
        self.sizes = sizes = sized_for_numbers(sizes, self.steps, lambda text: self.number_font.getlength(text) / dpi)
        self.geometry = layout(self.steps, self.activations, self.deltas, sizes)
        self.figure = Figure(figsize=(self.geometry.width * sizes.cell_w_in, self.geometry.height * sizes.cell_h_in),
                             dpi=dpi, layout="none")
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_axes([0, 0, 1, 1])
        self.ax.set_axis_off()
        self.ax.set_xlim(0, self.geometry.width)
        self.ax.set_ylim(self.geometry.height, 0)
        self.overview = [_Matrix(self.ax, sizes) for _ in self.geometry.activation_row + self.geometry.delta_row]
        self._make_pools(sizes)
        self.numbers: list[tuple[float, float, str, tuple]] = []
        self.caption = [self.figure.text(0.01, 1 - (0.7 + line) * 1.3 * sizes.caption_font / 72
                                         / self.figure.get_size_inches()[1], "", va="center",
                                         fontsize=sizes.caption_font, fontweight="bold" if line == 0 else "normal")
                        for line in range(3)]
        self.current = None

    def _make_pools(self, sizes: Sizes) -> None:
        """Per equation row, as many matrix slots and operator texts as the fullest step needs."""
        rows = max(len(placed) for placed in self.geometry.rows)
        items = [max((len(step_rows[i]) for step_rows in self.geometry.rows if i < len(step_rows)), default=0)
                 for i in range(rows)]
        self.matrix_pool = [[_Matrix(self.ax, sizes) for _ in range(count)] for count in items]
        self.operator_pool = [[self.ax.text(0, 0, "", ha="center", va="center", fontsize=sizes.operator_font)
                               for _ in range(count)] for count in items]

    def show(self, index: int) -> None:
        """Update every artist to step ``index`` (0 = start, len(steps) - 1 = end)."""
        if not 0 <= index < len(self.steps):
            raise IndexError(f"step index must be in [0, {len(self.steps) - 1}], got {index}")
        step = self.steps[index]
        self._show_overview(step)
        self._show_equations(self.geometry.rows[index])
        self._show_caption(step, index)
        self.current = index

    def _show_overview(self, step: LayerStep) -> None:
        """a[l] once computed (a[0] from the start), δ[l] once the backward pass reached layer l."""
        after_forward = step.phase in ("backward", "end")
        slots = self.geometry.activation_row + self.geometry.delta_row
        for number, (matrix, panel, slot) in enumerate(zip(self.overview, self.activations + self.deltas, slots)):
            if number < len(self.activations):  # a[l], l = number
                layer, computed = number, number == 0 or after_forward or (step.phase == "forward" and number <= step.layer)
                current = step.phase == "forward" and layer == step.layer
            else:  # δ[l], l = number - L
                layer = number - len(self.activations) + 1
                computed = step.phase == "end" or (step.phase == "backward" and layer >= step.layer)
                current = step.phase == "backward" and layer == step.layer
            matrix.show(panel, replace(slot, numbers=False), computed, current)

    def _show_equations(self, rows: list[list[Placed]]) -> None:
        self.numbers = []
        for row, (matrices, operators) in enumerate(zip(self.matrix_pool, self.operator_pool)):
            placed = rows[row] if row < len(rows) else []
            panels = [p for p in placed if isinstance(p.item, Panel)]
            texts = [p for p in placed if isinstance(p.item, str)]
            for slot, matrix in zip(panels + [None] * len(matrices), matrices):
                if slot is None:
                    matrix.hide()
                    continue
                self.numbers += matrix.show(slot.item, slot)
                if not slot.item.agrees:
                    matrix.frame.set_edgecolor(DISAGREES)
                    matrix.label.set_color(DISAGREES)
            for slot, text in zip(texts + [None] * len(operators), operators):
                text.set_visible(slot is not None)
                if slot is not None:
                    text.set_text(SHOWN_OPERATOR.get(slot.item, slot.item))
                    text.set_position((slot.left + slot.width / 2, slot.top))

    def _show_caption(self, step: LayerStep, index: int) -> None:
        wrong = [panel.name for panel in step.panels if not panel.agrees]
        verdict = (f"✗ differs from autograd: {', '.join(dict.fromkeys(wrong))}" if wrong else
                   "every number shown agrees with autograd (float64 replay)" if step.phase != "start" else
                   "a[l] and δ[l] appear above as the passes compute them")
        lines = (f"step {index}/{len(self.steps) - 1} · {step.title}", step.formula, verdict)
        for text, line in zip(self.caption, lines):
            text.set_text(line)
        self.caption[2].set_color(DISAGREES if wrong else "#555555")  # 7.5:1 on white

    def key_frames(self) -> list[int]:
        return key_frames(self.steps)

    def rgba(self, index: int) -> np.ndarray:
        """Step ``index`` rendered: Agg draws the figure, then the cells' numbers are stamped on its pixels
        (hundreds of small matplotlib texts would cost most of a step's time). An (H, W, 4) uint8 array."""
        pixels = super().rgba(index)
        if not self.numbers:
            return pixels
        height = pixels.shape[0]
        picture = Image.fromarray(pixels)
        pen = ImageDraw.Draw(picture)
        for (x, y), (_, _, text, colour) in zip(self.ax.transData.transform([(x, y) for x, y, _, _ in self.numbers]),
                                                self.numbers):
            pen.text((x, height - y), text, fill=tuple(round(255 * c) for c in colour) + (255,), font=self.number_font,
                     anchor="mm")
        return np.asarray(picture)

    def text_px(self) -> int:
        """The smallest text of the current picture: the figure's texts and, if any, the stamped numbers."""
        numbers = [text_px(self.sizes.number_font, self.figure.dpi)] if self.numbers else []
        return min([smallest_text_px(self.figure), *numbers])


def cell_colour(scaled: float) -> tuple[float, float, float]:
    """The RGB colour of a cell whose value, divided by its matrix's largest magnitude, is ``scaled``."""
    return tuple(CMAP(0.5 + scaled / (2 * COLOUR_RANGE))[:3])


def sized_for_numbers(sizes: Sizes, steps, inches: Callable[[str], float]) -> Sizes:
    """``sizes`` with numbered cells wide enough for the widest number any step writes in them (``inches``
    measures a number's text)."""
    texts = [number_text(value) for step in steps for row in step.equations
             for item, shown in zip(row, numbered(row, sizes)) if shown and item.values.numel() <= MAX_NUMBERS
             for value in item.values.flatten().tolist()]
    return replace(sizes, number_cell=sizes.number_cell_for(max(map(inches, texts), default=0.0)))
