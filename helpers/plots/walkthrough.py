"""The walkthrough drawn: the engine's graph and the chain-rule table, redrawn step by step.

:class:`WalkthroughFigure` draws an expression once with :func:`helpers.plots.graph_drawing.draw_graph`
(sized for its fullest labels), adds the chain-rule table on the right, then shows any step of
:func:`helpers.plots.walkthrough_steps.build_walkthrough` by *updating* the artists it keeps (texts, box colours, edge
colours, one highlight bar), never rebuilding them: a step costs one Agg render. Forward steps fill in
values as they are computed; a backward step labels each edge from its node to the node's consumers with
upstream × local = contribution, and a node reached by several paths shows its contributions adding up.
``projector=True`` lays it out for a projector: the graph alone (the current line of the table joins the
caption), figure and fonts scaled so the smallest text is :data:`~helpers.runtime.classroom.PROJECTOR_TEXT_PX`
pixels high, the whole as wide as the notebook at most.

:func:`key_frame_strip` renders a forward step and a backward step as one figure (what headless runs and the
report show).
"""
from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, PathPatch

from helpers.plots.graph_drawing import CHAR_WIDTH_IN, EDGE_COLOUR, draw_graph, layered_layout, value_graph
from helpers.plots.style import IMAGE_TEXT_PT_ATTRIBUTE, PALETTE
from helpers.scalar_autodiff import Value
from helpers.scalar_autodiff import format_number
from helpers.plots.walkthrough_text import caption, node_label, sum_text, table_lines
from helpers.plots.walkthrough_steps import Step, build_walkthrough, key_frames
from helpers.runtime.classroom import NOTEBOOK_WIDTH_PX, PROJECTOR_TEXT_PX, Picture, smallest_text_px, text_px

HIGHLIGHT = PALETTE[3]  # the node, edges and table row of the current step
HIGHLIGHT_TEXT = "#A84A00"  # the current step's labels: HIGHLIGHT darkened to 5.8:1 on white (3.9:1 before)
PAST_SUM = PALETTE[0]  # the sums of earlier backward steps (5.1:1 on white)
PENDING = "#767676"  # table rows not reached yet: the lightest grey with 4.5:1 on white
TABLE_LINE_IN, CAPTION_IN, TABLE_FONT, CAPTION_FONT = 0.19, 0.45, 8, 9
PROJECTOR_CAPTION_IN = 0.3  # a caption line before scaling: the scaled 9 pt text and a little air
GRAPH_FONT, LABEL_FONT = 8, 7  # node boxes (graph_drawing's size), edge and sum labels
STRIP_FRAMES = (1, 2)  # of key_frames(): the forward step and the backward step
STRIP_SCALE, STRIP_GAP, STRIP_TITLE_IN = 0.75, 0.03, 0.4  # of a frame's size; between frames, of a frame's height
TINT = 0.8 + 0.2 * np.array([*to_rgb(HIGHLIGHT), 1.0])  # multiplies the current line's pixels: text stays dark


class RenderedSteps:
    """What every walkthrough figure shares: ``steps``, ``figure`` (an Agg-backed Figure kept out of pyplot),
    ``show(index)`` updating the artists to a step, and ``key_frames()`` naming the steps a printed strip shows."""

    steps: tuple
    figure: Figure

    def show(self, index: int) -> None:
        raise NotImplementedError

    def key_frames(self) -> list[int]:
        raise NotImplementedError

    def text_px(self) -> int:
        """The pixel height of the smallest text drawn in the current step's picture."""
        return smallest_text_px(self.figure)

    def picture(self, index: int) -> Picture:
        """Step ``index`` as the live widget's :class:`~helpers.runtime.classroom.Picture`."""
        png = self.png(index)
        width, height = (round(v) for v in self.figure.get_size_inches() * self.figure.dpi)
        return Picture(png, (width, height), self.text_px())

    def png(self, index: int) -> bytes:
        """Step ``index`` as PNG bytes (what the live widget displays): one Agg render, quickly compressed
        (savefig would render twice with the course style's tight bounding box)."""
        buffer = io.BytesIO()
        Image.fromarray(self.rgba(index)[..., :3]).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def rgba(self, index: int) -> np.ndarray:
        """Step ``index`` rendered by Agg: an (H, W, 4) uint8 array."""
        self.show(index)
        self.figure.canvas.draw()
        return np.asarray(self.figure.canvas.buffer_rgba()).copy()


class WalkthroughFigure(RenderedSteps):
    """One figure for all steps of ``output``'s walkthrough; :meth:`show` updates it to a step.

    Runs ``output.backward()``. ``steps`` is the tuple of :class:`~helpers.plots.walkthrough_steps.Step`.
    """

    def __init__(self, output: Value, projector: bool = False):
        self.walk = build_walkthrough(output)
        self.steps = self.walk.steps
        self.figure = draw_graph(output, show_gradients=True)  # sized for the fullest labels
        plt.close(self.figure)  # kept out of pyplot: shown only as rendered frames
        self.figure.set_layout_engine("none")  # fixed positions: no layout solve on every render
        FigureCanvasAgg(self.figure)
        self.graph_ax = self.figure.axes[0]
        self._find_artists(output)
        self.projector = projector
        self.label_font = GRAPH_FONT if projector else LABEL_FONT
        scale = self._projector_scale() if projector else 1.0
        self.scale = scale
        self._add_table_and_caption(scale)
        self._freeze_geometry(scale)
        self.current = None

    def _projector_scale(self) -> float:
        """So that the smallest text (edge labels, drawn at the nodes' size) is PROJECTOR_TEXT_PX high."""
        return PROJECTOR_TEXT_PX * 72 / (GRAPH_FONT * self.figure.dpi) * (1 + 1e-9)

    # ---- building (once) -----------------------------------------------------------------------

    def _find_artists(self, output: Value) -> None:
        """Map nodes and edges to the artists draw_graph made (node boxes first, then edge segments)."""
        nodes, edges = value_graph(output, show_gradients=True)
        texts = self.graph_ax.texts
        self.node_text = {node.key: texts[i] for i, node in enumerate(nodes)}
        self.full_text = {node.key: node.text for node in nodes}
        routes = layered_layout([n.key for n in nodes], edges).routes
        segments, self.edge_segments = iter(texts[len(nodes):]), {}
        for source, target in edges:
            self.edge_segments[(source, target)] = [next(segments) for _ in range(len(routes[(source, target)]) + 1)]

    def _freeze_geometry(self, scale: float) -> None:
        """Boxes and arrows as placed by one draw, made fixed: each box a patch the size of its fullest label
        (boxes and arrows do not jump while labels fill in), each edge segment a plain arrow between fixed
        points (an annotation would lay out the text it is attached to on every render)."""
        self.figure.canvas.draw()
        to_data = self.graph_ax.transData.inverted()
        self.node_box = {}
        for key, text in self.node_text.items():
            patch = text.get_bbox_patch()
            outline = patch.get_path().transformed(patch.get_transform()).transformed(to_data)
            self.node_box[key] = self.graph_ax.add_patch(PathPatch(
                outline, facecolor=patch.get_facecolor(), edgecolor=patch.get_edgecolor(), linewidth=1.0, zorder=2.5))
            text.set_bbox(None)
        self.box_colour = {key: box.get_edgecolor() for key, box in self.node_box.items()}
        self.sum_label = {}  # below each node reached by several paths: its contributions adding up
        for step in self.steps:
            if step.phase == "backward" and len(step.contributions) > 1:
                bottom = self.node_box[step.key].get_path().get_extents()
                self.sum_label[step.key] = self.graph_ax.text(
                    bottom.x0 + bottom.width / 2, bottom.y0 - 0.03, "", ha="center", va="top",
                    fontsize=self.label_font * scale, zorder=4, color=HIGHLIGHT_TEXT, fontweight="bold")
        self.edge_label = {}
        for (source, target), parts in self.edge_segments.items():
            arrows = []
            for part in parts:
                props = part.arrowprops
                start, end = to_data.transform(_shrunk(np.array(part.arrow_patch._posA_posB),  # pixels, from the draw
                                                       props["shrinkA"], props["shrinkB"], self.figure.dpi))
                arrows.append(self.graph_ax.add_patch(FancyArrowPatch(
                    start, end, arrowstyle=props["arrowstyle"], shrinkA=0, shrinkB=0, color=props["color"],
                    linewidth=props["linewidth"], mutation_scale=part.get_size(), zorder=2)))
                part.remove()
            self.edge_segments[(source, target)] = arrows
            if isinstance(target, tuple):  # operand -> primitive: backward labels sit mid-way on the last segment
                x, y = (start + end) / 2
                self.edge_label[(source, target[1])] = self.graph_ax.text(
                    x, y + 0.04, "", ha="center", va="bottom", fontsize=self.label_font * scale, zorder=4,
                    color=HIGHLIGHT_TEXT,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))

    def _add_table_and_caption(self, scale: float) -> None:
        """Widen the figure by the table's width (the graph keeps its size in inches, top left; no table for a
        projector), then scale figure and fonts by ``scale``. The table is one image composed from two
        pre-rendered versions (every line black, every line grey): a step changes pixels, not hundreds of glyphs."""
        graph_w, graph_h = self.figure.get_size_inches()
        self.lines = table_lines(self.walk)
        self.row_text = {(section, index): number for number, (_, section, index) in enumerate(self.lines)}
        captions = 2 if self.projector else 1  # a projector's caption adds the current line of the table
        caption_in = PROJECTOR_CAPTION_IN if self.projector else CAPTION_IN
        table_w = 0.0 if self.projector else max(len(text) for text, _, _ in self.lines) * CHAR_WIDTH_IN + 0.4
        height = max(graph_h, 0 if self.projector else (len(self.lines) + 1) * TABLE_LINE_IN) + captions * caption_in
        width, table_h = graph_w + table_w, height - captions * caption_in
        # a projector's graph wider than the notebook is squeezed across: its gaps narrow, its text keeps its size
        self.figure.set_size_inches(min(width * scale, NOTEBOOK_WIDTH_PX / self.figure.dpi) if self.projector
                                    else width * scale, height * scale)
        self.graph_ax.set_position([0, (table_h - graph_h) / height, graph_w / width, graph_h / height])
        for text in self.graph_ax.texts:
            text.set_fontsize(text.get_fontsize() * scale)
        self.caption = [self.figure.text(0.01, 1 - (line + 0.5) * caption_in / height, "", va="center",
                                         fontsize=CAPTION_FONT * scale) for line in range(captions)]
        self.table_image = None if self.projector else self._add_table(scale, graph_w, table_w, table_h)

    def _add_table(self, scale: float, graph_w: float, table_w: float, table_h: float):
        """The table pasted pixel for pixel at the bottom right (no axes, no resampling)."""
        inch = scale * self.figure.dpi  # pixels per (unscaled) inch
        pixels = (round(table_h * inch), round(table_w * inch))
        self.table_images = {colour: _render_lines(self.lines, colour, pixels, self.figure.dpi, scale)
                             for colour in ("black", PENDING)}
        self.line_rows = [slice(round((n + 0.5) * TABLE_LINE_IN * inch), round((n + 1.5) * TABLE_LINE_IN * inch))
                          for n in range(len(self.lines))]
        return self.figure.figimage(self.table_images["black"], xo=round(graph_w * inch), yo=0, origin="upper")

    def text_px(self) -> int:
        """The smallest text of the current picture: the figure's texts and, if shown, the table's lines."""
        table = [] if self.table_image is None else [text_px(TABLE_FONT * self.scale, self.figure.dpi)]
        return min([smallest_text_px(self.figure), *table])

    # ---- updating (every step) -----------------------------------------------------------------

    def show(self, index: int) -> None:
        """Update every artist to step ``index`` (0 = start, len(steps) - 1 = end)."""
        if not 0 <= index < len(self.steps):
            raise IndexError(f"step index must be in [0, {len(self.steps) - 1}], got {index}")
        step = self.steps[index]
        computed = {s.key for s in self.steps[:index + 1] if s.phase == "forward"}
        finished = {s.key: s for s in self.steps[:index + 1] if s.phase == "backward"}
        self._update_nodes(step, computed, finished)
        self._update_edges(step)
        self._update_sums(step, finished)
        self._update_table(index)
        self.caption[0].set_text(caption(self.walk.output, step, index, len(self.steps)))
        if self.projector:
            self.caption[1].set_text(self.lines[self.table_current][0] if self.table_current is not None else "")
        self.current = index

    def _update_nodes(self, step: Step, computed: set, finished: dict) -> None:
        for key, artist in self.node_text.items():
            value_key = key[1] if isinstance(key, tuple) else key
            text = self.full_text[key]
            if not isinstance(key, tuple):
                text = node_label(text, key in computed or not self._is_primitive(key), finished.get(key),
                                   self.walk.output)
            artist.set_text(text)
            current = value_key == step.key and step.phase in ("forward", "backward")
            self.node_box[key].set_linewidth(2.6 if current else 1.0)
            self.node_box[key].set_edgecolor(HIGHLIGHT if current else self.box_colour[key])

    def _is_primitive(self, key) -> bool:
        return ("op", key) in self.node_text

    def _update_sums(self, step: Step, finished: dict) -> None:
        for key, label in self.sum_label.items():
            label.set_visible(key in finished)
            if key in finished:
                label.set_text(sum_text(finished[key]))
                label.set_color(HIGHLIGHT_TEXT if finished[key] is step else PAST_SUM)

    def _update_edges(self, step: Step) -> None:
        names_to_key = {s.node: s.key for s in self.steps}
        for (operand, consumer), label in self.edge_label.items():
            # only the current step's edges are labelled: earlier results live on in the boxes' gradients
            contribution = next((c for c in step.contributions if names_to_key[c.consumer] == consumer), None) \
                if operand == step.key else None
            label.set_visible(contribution is not None)
            if contribution is not None:
                label.set_text(f"{format_number(contribution.upstream)} × {format_number(contribution.local)}"
                               f" = {format_number(contribution.contribution)}")
        for (source, target), parts in self.edge_segments.items():
            lit = (step.phase == "backward" and source == step.key) or \
                  (step.phase == "forward" and isinstance(target, tuple) and target[1] == step.key)
            for part in parts:
                part.set_color(HIGHLIGHT if lit else EDGE_COLOUR)
                part.set_linewidth(2.0 if lit else 0.8)

    def _update_table(self, index: int) -> None:
        """Lines reached so far black, the others grey, the current step's line on a tinted bar."""
        step = self.steps[index]
        reached = {(s.table_section, s.table_index) for s in self.steps[:index + 1] if s.table_section}
        self.table_current = self.row_text.get((step.table_section, step.table_index)) if step.table_section else None
        self.table_reached = {n for n, (_, section, row) in enumerate(self.lines)
                              if section is None or (section, row) in reached}
        if self.table_image is None:
            return
        image = self.table_images[PENDING].copy()
        for number in self.table_reached:
            image[self.line_rows[number]] = self.table_images["black"][self.line_rows[number]]
        if self.table_current is not None:
            rows = image[self.line_rows[self.table_current]]
            rows[...] = (rows * TINT).astype(np.uint8)
        self.table_image.set_data(image)

    def key_frames(self) -> list[int]:
        """Start, the middle forward step, a backward step (at a node reached by two paths if any), the end."""
        return key_frames(self.steps)


def _shrunk(ends: np.ndarray, shrink_a: float, shrink_b: float, dpi: float) -> np.ndarray:
    """The segment ``ends`` (2 × 2 pixels) shortened by the arrow's shrinks (points) at each end, once, instead
    of on every render."""
    direction = ends[1] - ends[0]
    length = np.hypot(*direction)
    if length == 0:
        return ends
    unit = direction / length
    return np.array([ends[0] + unit * shrink_a * dpi / 72, ends[1] - unit * shrink_b * dpi / 72])


def _render_lines(lines, colour: str, pixels: tuple[int, int], dpi: float, scale: float) -> np.ndarray:
    """The table's lines drawn in ``colour`` (headers bold) as an (H, W, 4) uint8 image, (H, W) = ``pixels``."""
    figure = Figure(figsize=(pixels[1] / dpi, pixels[0] / dpi), dpi=dpi, layout="none")
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    ax.set_xlim(0, pixels[1] / dpi / scale)
    ax.set_ylim(pixels[0] / dpi / scale, 0)  # inches from the top, before scaling
    for number, (text, section, _) in enumerate(lines):
        ax.text(0.15, (number + 1) * TABLE_LINE_IN, text, va="center", fontsize=TABLE_FONT * scale, color=colour,
                fontweight="bold" if section is None else "normal")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def key_frame_strip(walkthrough: RenderedSteps, title: str | None = None):
    """Two of the frames ``walkthrough.key_frames()`` names (the forward step and the backward step) one above
    the other, as one pyplot Figure (each panel an (H, W, 4) render of the walkthrough figure, at
    ``STRIP_SCALE`` of its size); ``walkthrough`` is a :class:`RenderedSteps` (the scalar
    :class:`WalkthroughFigure` or the layer walkthrough's figure). Headless runs and the report draw it from
    the projector's drawing (:func:`helpers.plots.walkthrough_widget.present`): its text is large for its
    size, so the strip prints on a page with its smallest text at 8 pt or more. The Figure's
    ``IMAGE_TEXT_PT_ATTRIBUTE`` says how small the text in the frames is, in the strip's points
    (:func:`helpers.plots.style.png_with_text_size` reports it with the text drawn as text)."""
    frames = [walkthrough.key_frames()[i] for i in STRIP_FRAMES]
    images, text_px = [], []
    for index in frames:
        images.append(walkthrough.rgba(index))
        text_px.append(walkthrough.text_px())
    width, height = walkthrough.figure.get_size_inches() * STRIP_SCALE
    title_in = STRIP_TITLE_IN if title else 0.0
    figure_height = len(images) * height * (1 + STRIP_GAP) + title_in
    fig, axes = plt.subplots(len(images), 1, figsize=(width, figure_height), layout="none", squeeze=False)
    for ax, image in zip(axes.flat, images):
        ax.imshow(image, interpolation="lanczos")
        ax.set_axis_off()
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - title_in / figure_height, hspace=STRIP_GAP)
    if title:
        fig.suptitle(title)
    inches_per_pixel = min(width / images[0].shape[1], height / images[0].shape[0])
    setattr(fig, IMAGE_TEXT_PT_ATTRIBUTE, round(min(text_px) * inches_per_pixel * 72, 2))
    return fig
