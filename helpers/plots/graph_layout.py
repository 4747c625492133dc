"""Where the nodes of a computational graph go: the layered (Sugiyama-style) recipe, small enough to read.

1. layer = how far a node is from the output, counted from the right, so every node sits just
   before its first use (λ in ``... + λ(w₁² + w₂²)`` does not sit far away from the last +);
2. edges that skip layers get one bend point per skipped layer, ordered like nodes;
3. order inside each layer by repeated barycentre sweeps (each node moves to the mean position of
   its neighbours), which removes most edge crossings; then, keeping that order and one row between
   neighbours, pull every node towards its neighbours' mean (least squares), which straightens edges.

:mod:`helpers.plots.graph_drawing` turns layers and rows into a figure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

BARYCENTRE_SWEEPS = 4
STRAIGHTENING_SWEEPS = 8


@dataclass(frozen=True)
class Layout:
    """Where every node goes: ``layer`` (0 = first) and ``row`` (larger = higher, at least 1 apart).

    Edges that skip layers are routed through invisible *bend points*, one per skipped layer, so that
    long edges are ordered like nodes and do not run through boxes; ``routes[(source, target)]``
    lists them from source to target (empty for edges between adjacent layers).
    """
    layer: dict
    row: dict
    routes: dict


def layered_layout(keys: Sequence[Hashable], edges: Sequence[tuple[Hashable, Hashable]]) -> Layout:
    """Layers and rows for a DAG given as node keys in topological order and (source, target) edges."""
    _check_topological(keys, edges)
    layer = _layers_as_late_as_possible(keys, edges)
    routes, up, down = _route_through_bend_points(edges, layer)
    columns = _order_by_barycentres(layer, up, down)
    place = _straightened(columns, up, down)
    return Layout(layer, {k: -place[k] for k in layer}, routes)  # first in a column on top


def _check_topological(keys, edges) -> None:
    position = {k: i for i, k in enumerate(keys)}
    if len(position) != len(keys):
        raise ValueError("node keys must be unique")
    for source, target in edges:
        if source not in position or target not in position:
            raise ValueError(f"edge {source!r} -> {target!r} mentions a node that is not in keys")
        if position[source] >= position[target]:
            raise ValueError("keys must be in topological order (every edge's source before its target)")


def _layers_as_late_as_possible(keys, edges) -> dict:
    """Layer = (longest path of the graph) - (longest path to the output): every node sits right
    before its first consumer, so side branches (the λ(w₁² + w₂²) term) stay next to their use."""
    succs = {k: [] for k in keys}
    for source, target in edges:
        succs[source].append(target)
    to_sink = {}
    for key in reversed(keys):
        to_sink[key] = max((to_sink[s] + 1 for s in succs[key]), default=0)
    depth = max(to_sink.values(), default=0)
    return {key: depth - to_sink[key] for key in keys}


def _route_through_bend_points(edges, layer: dict) -> tuple[dict, dict, dict]:
    """Split edges that skip layers into chains through bend points (added to ``layer``).

    Returns (routes, up, down): each edge's bend points, and each node's neighbours in the layer
    before (``up``) and after (``down``) once every edge joins adjacent layers only.
    """
    routes, adjacent = {}, []
    for index, (source, target) in enumerate(edges):
        chain = [("bend", index, j) for j in range(layer[source] + 1, layer[target])]
        layer.update({bend: bend[2] for bend in chain})
        routes[(source, target)] = chain
        path = [source, *chain, target]
        adjacent += list(zip(path, path[1:]))
    up, down = {k: [] for k in layer}, {k: [] for k in layer}
    for source, target in adjacent:
        up[target].append(source)
        down[source].append(target)
    return routes, up, down


def _centred(column: list) -> dict:
    """Each node's index in its column, counted from the column's middle."""
    return {k: i - (len(column) - 1) / 2 for i, k in enumerate(column)}


def _mean_of(neighbours: list, position: dict, key) -> float:
    """The mean position of a node's ``neighbours``; its own position when it has none."""
    return sum(position[n] for n in neighbours) / len(neighbours) if neighbours else position[key]


def _order_by_barycentres(layer: dict, up: dict, down: dict) -> dict[int, list]:
    """The nodes of every layer (column), ordered by sweeps that move each node to the mean position
    of its neighbours in the previous layer (even sweeps, left to right) or the next one (odd sweeps)."""
    columns: dict[int, list] = {}
    for key in layer:  # real nodes in topological order, then bend points
        columns.setdefault(layer[key], []).append(key)
    position = {k: p for column in columns.values() for k, p in _centred(column).items()}
    for sweep in range(BARYCENTRE_SWEEPS):
        neighbours = up if sweep % 2 == 0 else down
        for index in sorted(columns, reverse=sweep % 2 == 1):
            keyed = [(_mean_of(neighbours[k], position, k), i, k) for i, k in enumerate(columns[index])]
            columns[index] = [k for _, _, k in sorted(keyed, key=lambda t: t[:2])]
            position.update(_centred(columns[index]))
    return columns


def _straightened(columns: dict[int, list], up: dict, down: dict) -> dict:
    """Coordinates: keeping each column's order and one unit between neighbours, move every node
    towards the mean of its neighbours (straightens edges, most visibly the long ones)."""
    place = {k: p for column in columns.values() for k, p in _centred(column).items()}
    for sweep in range(STRAIGHTENING_SWEEPS):
        for index in sorted(columns, reverse=sweep % 2 == 1):
            column = columns[index]
            wanted = [_mean_of(up[k] + down[k], place, k) for k in column]
            place.update(zip(column, _spaced_closest(wanted)))
    return place


def _spaced_closest(wanted: Sequence[float]) -> list[float]:
    """The positions u closest to ``wanted`` (least squares) with u[i+1] >= u[i] + 1.

    With v[i] = u[i] - i this is isotonic regression of wanted[i] - i, solved by pooling adjacent
    violators: merge neighbouring blocks while their means decrease, each block sits at its mean.
    """
    blocks: list[list[float]] = []  # [sum, count]
    for i, w in enumerate(wanted):
        blocks.append([w - i, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    v = [total / count for total, count in blocks for _ in range(count)]
    return [vi + i for i, vi in enumerate(v)]


def count_crossings(layout: Layout, edges: Sequence[tuple[Hashable, Hashable]]) -> int:
    """How many pairs of edge segments cross between adjacent layers (a layout quality measure)."""
    segments = []
    for source, target in edges:
        path = [source, *layout.routes.get((source, target), []), target]
        segments += [(layout.layer[a], layout.row[a], layout.row[b]) for a, b in zip(path, path[1:])]
    return sum(1 for i, (la, a0, a1) in enumerate(segments) for lb, b0, b1 in segments[i + 1:]
               if la == lb and (a0 - b0) * (a1 - b1) < 0)
