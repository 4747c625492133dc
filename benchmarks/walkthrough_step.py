"""Milliseconds per step of the classroom walkthrough, against redrawing from scratch, in the same run.

    .venv/bin/python benchmarks/walkthrough_step.py [--repeats 3] [--projector]

One step is what the live widget does when the slider moves: update the kept artists
(:meth:`WalkthroughFigure.show`) and encode the figure as the PNG the ``ipywidgets.Image`` shows
(:meth:`WalkthroughFigure.png`). The named baseline, *full redraw*, builds a new
:class:`WalkthroughFigure` for the step and encodes it (what a widget that rebuilt its figure would
cost). Both run over every step of the NYU 1.4 (b) graph and of a two-neuron loss with weight decay
(a larger graph), and of the layer walkthrough (:class:`LayerWalkthroughFigure`, also rebuilt for the
baseline) on notebook 02's course MLP (2 -> 3 -> 3 -> 1, batch 4) and notebook 03's MyNet([2, 3, 2])
(batch 4), alternating so that a busy machine slows both alike. Reported: median wall ms per step, CPU ms
per step, and the ratio. Target: <= 300 ms per step.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project: helpers/ and tools/ (not installed)

from helpers.graph_derivations import nyu_graph  # noqa: E402 (after choosing the backend)
from helpers.layers import MLP  # noqa: E402
from helpers.mynet import MyNet  # noqa: E402
from helpers.plots.layer_walkthrough import LayerWalkthroughFigure  # noqa: E402
from helpers.plots.style import use_style  # noqa: E402
from helpers.plots.walkthrough import WalkthroughFigure  # noqa: E402
from helpers.scalar_autodiff import Value, sigmoid  # noqa: E402

TARGET_MS = 300.0


def two_neurons_with_weight_decay() -> Value:
    """L = [y - σ(w₂ σ(w₁x + b₁) + b₂)]² + λ(w₁² + w₂²): notebook 00's largest graph."""
    y, w1, x, b1, w2, b2, lam = (Value(v, n) for n, v in (("y", 1.0), ("w₁", 0.5), ("x", 1.2), ("b₁", -0.3),
                                                             ("w₂", 0.8), ("b₂", 0.1), ("λ", 0.01)))
    loss = (y - sigmoid(w2 * sigmoid(w1 * x + b1) + b2)) ** 2 + lam * (w1 ** 2 + w2 ** 2)
    loss.label = "L"
    return loss


def course_mlp_walkthrough(projector: bool) -> LayerWalkthroughFigure:
    """Notebook 02's layer walkthrough: the CSE 849 MLP 2 -> 3 -> 3 -> 1 on a batch of 4 (8 steps)."""
    generator = torch.Generator().manual_seed(0)
    model = MLP(2, 1, 3, lr=0.1, dtype=torch.float64, generator=generator)
    x, y = (torch.randn(4, n, dtype=torch.float64, generator=generator) for n in (2, 1))
    return LayerWalkthroughFigure(model, x, y, projector=projector)


def mynet_walkthrough(projector: bool) -> LayerWalkthroughFigure:
    """Notebook 03's layer walkthrough: MyNet([2, 3, 2]) (tanh) on a batch of 4 (6 steps)."""
    torch.manual_seed(0)
    x, y = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    return LayerWalkthroughFigure(MyNet([2, 3, 2]).double(), x, y, projector=projector)


WALKTHROUGHS = {  # name -> a new figure, given projector
    "NYU 1.4 (b)": lambda large: WalkthroughFigure(nyu_graph(1.0, 2.0, -1.5, 0.5), projector=large),
    "two neurons + weight decay": lambda large: WalkthroughFigure(two_neurons_with_weight_decay(), projector=large),
    "layers: course MLP 2-3-3-1": course_mlp_walkthrough,
    "layers: MyNet [2, 3, 2]": mynet_walkthrough,
}


def time_per_step(function, steps: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per call of ``function(index)`` over ``steps`` indices."""
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(steps):
        function(index)
    return ((time.perf_counter() - wall) * 1000 / steps, (time.process_time() - cpu) * 1000 / steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--projector", action="store_true")
    args = parser.parse_args()
    use_style()
    for name, build in WALKTHROUGHS.items():
        kept = build(args.projector)
        count = len(kept.steps)
        kept.png(0)  # first render: fonts and caches, as when the widget first appears
        update, rebuild = [], []
        for _ in range(args.repeats):
            update.append(time_per_step(kept.png, count))
            rebuild.append(time_per_step(lambda i: build(args.projector).png(i), count))
        update_ms, rebuild_ms = (statistics.median(w for w, _ in runs) for runs in (update, rebuild))
        update_cpu = statistics.median(c for _, c in update)
        verdict = "ok" if update_ms <= TARGET_MS else "OVER TARGET"
        print(f"{name} ({count} steps{', projector' if args.projector else ''}): update {update_ms:.0f} ms/step "
              f"(CPU {update_cpu:.0f} ms), full redraw {rebuild_ms:.0f} ms/step, "
              f"ratio {update_ms / rebuild_ms:.2f}; target <= {TARGET_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
