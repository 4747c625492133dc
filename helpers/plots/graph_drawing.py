"""Computational graphs as matplotlib figures, laid out in layers (no graphviz needed).

Two kinds of nodes: *value* nodes (rounded boxes: name, value and, after a backward pass, the
gradient of the output) and *operator* nodes (circles: the primitive). Inputs sit on the left and the
output on the right (or inputs on top and the output at the bottom, for long graphs); every edge
points from an operand to its use.

Nodes are placed by :func:`~helpers.plots.graph_layout.layered_layout` (layers, then rows inside
each layer); here each layer gets as wide as its widest label, and graphs too wide for a page are
drawn top to bottom.

:func:`draw_graph` draws a :class:`~helpers.scalar_autodiff.Value` expression;
:func:`draw_autograd_graph` draws PyTorch's backward graph (``grad_fn`` nodes) of a tensor.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgba

from helpers.plots.graph_layout import Layout, count_crossings, layered_layout  # noqa: F401 (re-exported)
from helpers.plots.style import PALETTE
from helpers.scalar_autodiff import Value, node_names, post_order, topological_order
from helpers.scalar_autodiff import format_number

EDGE_COLOUR = "#666666"
STYLES = {  # kind of node -> (face colour, edge colour, box style)
    "input": (to_rgba(PALETTE[0], 0.18), PALETTE[0], "round,pad=0.35"),
    "constant": (to_rgba("#999999", 0.15), "#888888", "round,pad=0.35"),
    "intermediate": ("white", "#555555", "round,pad=0.35"),
    "output": (to_rgba(PALETTE[1], 0.25), PALETTE[1], "round,pad=0.35"),
    "operator": (to_rgba(PALETTE[2], 0.18), PALETTE[2], "circle,pad=0.25"),
    "function": (to_rgba(PALETTE[2], 0.18), PALETTE[2], "round,pad=0.35"),  # autograd backward nodes
}


@dataclass(frozen=True)
class GraphNode:
    key: Hashable
    kind: str  # one of STYLES
    text: str


# Rough size of an 8-point label, in inches, so that each layer gets the room its largest box needs.
CHAR_WIDTH_IN, LINE_HEIGHT_IN, BOX_PAD_IN, LAYER_GAP_IN = 0.068, 0.15, 0.16, 0.3
ROW_HEIGHT_IN = 0.62  # between rows of a left-to-right drawing
MAX_WIDTH_IN = 11.0  # wider left-to-right drawings are drawn top to bottom instead
# Top to bottom, an operator's circle sits on the top edge of its result's box (a layer of operators takes the
# circles' height, less the overlap): a long graph stays short enough to print with readable labels.
OPERATOR_IN, OPERATOR_OVERLAP_IN, VERTICAL_GAP_IN = 0.2, 0.05, 0.24


def _box_size(text: str) -> tuple[float, float]:
    lines = text.splitlines()
    return max(len(line) for line in lines) * CHAR_WIDTH_IN + BOX_PAD_IN, len(lines) * LINE_HEIGHT_IN + BOX_PAD_IN


def _layer_centres(extents: Sequence[float], gaps: Sequence[float] | None = None) -> list[float]:
    """Centre of every layer along the layers' axis; ``gaps[i]``: the room after layer ``i`` (LAYER_GAP_IN)."""
    centres, position = [], LAYER_GAP_IN / 2
    for index, extent in enumerate(extents):
        centres.append(position + extent / 2)
        position += extent + (LAYER_GAP_IN if gaps is None else gaps[index])
    return centres


def _successors(layout: Layout, edges) -> dict:
    """Each node's or bend point's next points along the edges (bend points included)."""
    following: dict = {}
    for source, target in edges:
        path = [source, *layout.routes[(source, target)], target]
        for before, after in zip(path, path[1:]):
            following.setdefault(before, []).append(after)
    return following


def _operator_layers(nodes: Sequence[GraphNode], layout: Layout, following: dict) -> set[int]:
    """Layers holding only operators and bend points, each with one successor: in a vertical drawing each
    operator sits on top of the box of its result (and a bend point above its next point), so such a layer
    takes no more room than the circles."""
    kinds = {node.key: node.kind for node in nodes}
    layers = set(layout.layer.values())
    for key, layer in layout.layer.items():
        if kinds.get(key, "operator") != "operator" or len(following.get(key, ())) != 1:
            layers.discard(layer)
    return layers - {max(layout.layer.values())}


def _vertical_rows(layout: Layout, operator_layers: set[int], following: dict) -> dict:
    """Rows of a vertical drawing: in an operator layer every point takes its successor's row."""
    row = dict(layout.row)
    for layer in sorted(operator_layers, reverse=True):
        for key in (k for k, at in layout.layer.items() if at == layer):
            row[key] = row[following[key][0]]
    return row


def _geometry(nodes: Sequence[GraphNode], edges, layout: Layout, orientation: str):
    """(centre of every key in inches, figure size, orientation actually used, operator layers)."""
    n_layers = max(layout.layer.values()) + 1
    sizes = {node.key: _box_size(node.text) for node in nodes}
    if orientation == "auto":
        widths = [0.15] * n_layers
        for key, (w, _) in sizes.items():
            widths[layout.layer[key]] = max(widths[layout.layer[key]], w)
        orientation = "horizontal" if sum(widths) + LAYER_GAP_IN * n_layers <= MAX_WIDTH_IN else "vertical"
    axis = 0 if orientation == "horizontal" else 1  # which box dimension lies along the layers
    extents = [0.15] * n_layers  # layers holding only bend points stay thin
    for key, size in sizes.items():
        extents[layout.layer[key]] = max(extents[layout.layer[key]], size[axis])
    rows = layout.row
    lowest, highest = min(rows.values()), max(rows.values())
    if orientation == "horizontal":
        along = _layer_centres(extents)
        total = along[-1] + extents[-1] / 2 + LAYER_GAP_IN / 2
        across = ROW_HEIGHT_IN
        centre = {k: (along[layout.layer[k]], (rows[k] - lowest + 0.6) * across) for k in layout.layer}
        return centre, (total, (highest - lowest + 1.2) * across), orientation, set()
    following = _successors(layout, edges)
    operators = _operator_layers(nodes, layout, following)
    rows = _vertical_rows(layout, operators, following)
    extents = [OPERATOR_IN if layer in operators else extent for layer, extent in enumerate(extents)]
    along = _layer_centres(extents, [-OPERATOR_OVERLAP_IN if layer in operators else VERTICAL_GAP_IN
                                     for layer in range(n_layers)])
    total = along[-1] + extents[-1] / 2 + LAYER_GAP_IN / 2
    across = max(w for w, _ in sizes.values()) + 0.25
    centre = {k: ((highest - rows[k] + 0.6) * across, total - along[layout.layer[k]]) for k in layout.layer}
    return centre, ((highest - lowest + 1.2) * across, total), orientation, operators


def _draw(nodes: Sequence[GraphNode], edges: Sequence[tuple[Hashable, Hashable]], ax=None,
          title: str | None = None, orientation: str = "auto"):
    if orientation not in ("auto", "horizontal", "vertical"):
        raise ValueError(f"orientation must be 'auto', 'horizontal' or 'vertical', got {orientation!r}")
    layout = layered_layout([n.key for n in nodes], edges)
    centre, (width, height), orientation, operators = _geometry(nodes, edges, layout, orientation)
    if ax is None:
        fig, ax = plt.subplots(figsize=(width, height + (0.3 if title else 0.0)))
    fig = ax.figure
    artists = {}
    for node in nodes:
        face, edge, box = STYLES[node.kind]
        artists[node.key] = ax.text(*centre[node.key], node.text, ha="center", va="center", fontsize=8, zorder=3,
                                    bbox=dict(boxstyle=box, facecolor=face, edgecolor=edge, linewidth=1.0))
    # Box-relative coordinates: leave the source's right (bottom) edge, enter the target's left (top) edge.
    leave, enter = ((1.0, 0.5), (0.0, 0.5)) if orientation == "horizontal" else ((0.5, 0.0), (0.5, 1.0))
    for source, target in edges:
        start, shrink = dict(xytext=leave, textcoords=artists[source]), 4
        if layout.layer[source] in operators:  # the circle touches its result's box: a plain joint, no arrow
            ax.annotate("", xy=enter, xycoords=artists[target], zorder=2, **start, arrowprops=dict(
                arrowstyle="-", color=EDGE_COLOUR, linewidth=0.8, shrinkA=0, shrinkB=0))
            continue
        for bend in layout.routes[(source, target)]:
            ax.annotate("", xy=centre[bend], zorder=2, **start, arrowprops=dict(
                arrowstyle="-", color=EDGE_COLOUR, linewidth=0.8, shrinkA=shrink, shrinkB=0))
            start, shrink = dict(xytext=centre[bend], textcoords="data"), 0
        ax.annotate("", xy=enter, xycoords=artists[target], zorder=2, **start, arrowprops=dict(
            arrowstyle="-|>", color=EDGE_COLOUR, linewidth=0.8, shrinkA=shrink, shrinkB=4))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def value_graph(output: Value, show_gradients: bool | None = None, show_values: bool = True
                ) -> tuple[list[GraphNode], list[tuple]]:
    """Nodes and edges of ``output``'s computational graph: a value node per Value, an operator node
    per primitive. Gradients are shown when ``show_gradients`` (default: when ``output.backward()``
    has run, i.e. ``output.grad == 1``); without ``show_values`` only the inputs show a number (a graph
    beside a table the student fills, exercise 0.12)."""
    if not isinstance(output, Value):
        raise TypeError(f"draw_graph expects the Value an expression produced, got {type(output).__name__}")
    if show_gradients is None:
        show_gradients = output.grad == 1.0 and show_values
    names = node_names(output)
    out_name = names[id(output)]
    nodes, edges = [], []
    for value in topological_order(output):
        key = id(value)
        if not value.is_leaf:
            op_key = ("op", key)
            nodes.append(GraphNode(op_key, "operator", value.primitive.symbol))
            edges += [(id(o), op_key) for o in dict.fromkeys(value.operands)]
            edges.append((op_key, key))
        if value.is_constant:
            kind, text = "constant", names[key]
        else:
            kind = "output" if value is output else "input" if value.is_leaf else "intermediate"
            text = f"{names[key]} = {format_number(value.data)}" if show_values or value.is_leaf else names[key]
            if show_gradients:
                text += f"\n∂{out_name}/∂{names[key]} = {format_number(value.grad)}"
        nodes.append(GraphNode(key, kind, text))
    return nodes, edges


def draw_graph(output: Value, ax=None, title: str | None = None, show_gradients: bool | None = None,
               orientation: str = "auto", show_values: bool = True):
    """Draw ``output``'s computational graph; returns the matplotlib Figure (drawn into ``ax`` if given).

    ``orientation``: "horizontal" (inputs left), "vertical" (inputs on top) or "auto" (horizontal
    unless that would be wider than MAX_WIDTH_IN inches).
    """
    nodes, edges = value_graph(output, show_gradients, show_values)
    return _draw(nodes, edges, ax, title, orientation)


def autograd_graph(tensor, names: Mapping[str, object] | None = None) -> tuple[list[GraphNode], list[tuple]]:
    """PyTorch's backward graph of ``tensor``: a node per ``grad_fn``, leaves named via ``names``
    (name -> tensor), edges pointing from inputs towards the output."""
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"draw_autograd_graph expects a torch.Tensor, got {type(tensor).__name__}")
    if tensor.grad_fn is None:
        raise ValueError("the tensor has no grad_fn: compute it from tensors with requires_grad=True "
                         "(outside torch.no_grad()) to record a graph")
    by_identity = {id(t): name for name, t in (names or {}).items()}
    order = post_order(tensor.grad_fn, lambda fn: [child for child, _ in fn.next_functions if child is not None])
    nodes, edges = [], []
    for fn in order:
        variable = getattr(fn, "variable", None)
        if variable is not None:  # AccumulateGrad: a leaf tensor that requires grad
            nodes.append(GraphNode(fn, "input", by_identity.get(id(variable), f"leaf {tuple(variable.shape)}")))
        else:
            nodes.append(GraphNode(fn, "function", type(fn).__name__))
        edges += [(child, fn) for child in dict.fromkeys(c for c, _ in fn.next_functions if c is not None)]
    nodes.append(GraphNode("output", "output", f"output {tuple(tensor.shape)}"))
    edges.append((tensor.grad_fn, "output"))
    return nodes, edges


def draw_autograd_graph(tensor, names: Mapping[str, object] | None = None, ax=None, title: str | None = None,
                        orientation: str = "auto"):
    """Draw the backward graph PyTorch recorded for ``tensor``; returns the Figure."""
    nodes, edges = autograd_graph(tensor, names)
    return _draw(nodes, edges, ax, title, orientation)
