"""Input-to-picture time of every live classroom widget, driven in-process (no browser), against the old path.

    BACKPROP_LAB_HEADLESS=1 .venv/bin/python benchmarks/widget_latency.py [--notebooks 00c,01,02,03,04,05]

For each notebook, its code cells up to its figure widget run in this process (headless: the widget cell then
draws once), with ``classroom_widget`` swapped for one that also keeps the live widget
(:func:`helpers.runtime.widgets.live_figure_widget`). Each control then takes a few values in turn, as a
student would set them; for each, the time from setting the control's ``value`` (what the browser's message
does) until the picture's PNG changes (*first*: a progressive picture counts) and until it is final (the
status line stops saying ``running…``). Between inputs the widget is let go idle (work ahead, such as 02's
training of the remaining epochs, finishes), as a class looks at each picture.

The named baseline, *old*, runs in the same process on the same values: the widget cell as committed before
the classroom mechanism (``git show f782cb8:notebooks/<nb>``, run after the old notebook's earlier cells, in
a namespace of its own): its function builds a new pyplot figure, trains
or dreams from scratch on every call, and is rendered to PNG as the inline backend did (``bbox_inches="tight"``).
The walkthroughs (00c, 02, 03) are timed on their ``next`` button and the ``projector`` toggle; their baseline
is a full rebuild of the walkthrough figure for the step (as ``benchmarks/walkthrough_step.py``).

Reported per control: median and worst ms, old and new, and new/old. Targets (issue 23): final or first
picture <= 1000 ms worst, <= 500 ms typical. State the machine's load when you quote the numbers.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("BACKPROP_LAB_HEADLESS", "1")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.plots.layer_walkthrough import LayerWalkthroughFigure  # noqa: E402
from helpers.plots.walkthrough import WalkthroughFigure  # noqa: E402
from helpers.runtime.classroom import RUNNING  # noqa: E402
from helpers.runtime.widgets import live_figure_widget  # noqa: E402

OLD_COMMIT = "f782cb8"  # the widgets before the classroom mechanism
NOTEBOOKS = {"00c": "00c_activations_and_a_graph", "01": "01_spiral_gradient_descent", "02": "02_manual_backprop_mlp",
             "03": "03_mynet_delta_rule", "04": "04_cifar_cat_vs_car", "05": "05_deepdream"}
OLD_NAMES = {"00c": "00_computational_graphs"}  # the notebook's name at OLD_COMMIT (00 was one notebook then)
VALUES = {  # control -> the values it takes in turn (after the default), as a class would set them
    "x0": [0.8, 1.25, -0.5, 2.0, 0.0], "lr": None, "n_steps": [300, 600, 1000, 2000, 100], "seed": [1, 2, 3],
    "epochs": [20, 50, 5, 80, 100, 10], "depth": [20, 30, 10], "width": [32, 64, 16], "init": None,
    "configuration": None, "label": ["dog", "ship", "cat"], "steps": [272, 288, 240, 64], "octaves": [2, 1, 3],
}


def widget_cells(notebook: Path, commit: str | None = None, name_then: str | None = None) -> tuple[list[str], int]:
    """The notebook's code cells (at ``commit``, where it was called ``name_then`` if that is given, or as in the
    working tree) and the index of its figure widget's."""
    text = notebook.read_text() if commit is None else subprocess.run(
        ["git", "show", f"{commit}:notebooks/{name_then or notebook.name}"], cwd=ROOT, check=True, capture_output=True,
        text=True).stdout
    cells = [c.source for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "code"]
    index = next(i for i, source in enumerate(cells) if re.search(r"^\s*(_ = )?classroom_widget\(", source, re.M))
    return cells, index


def run_cells(cells: list[str], namespace: dict) -> list[int]:
    """Run ``cells`` in ``namespace``, quietly; the indices of those that failed (checks that need a sandbox...)."""
    failed = []
    for index, source in enumerate(cells):
        stdout = sys.stdout
        sys.stdout = io.StringIO()
        try:
            exec(compile(source, f"cell {index}", "exec"), namespace)
        except Exception:  # noqa: BLE001 - reported; the widget may not need that cell
            failed.append(index)
        finally:
            sys.stdout = stdout
            plt.close("all")
    return failed


def capture_widgets(kept: list) -> None:
    """Make ``classroom_widget``, however a cell imports it, keep (function, controls) instead of drawing."""
    import helpers.runtime.widgets
    helpers.runtime.widgets.classroom_widget = lambda func, **controls: kept.append((func, controls))


def choices(name: str, control) -> list:
    """The values a control takes in turn."""
    values = VALUES.get(name)
    options = getattr(control, "options", None)
    if values is None and options is not None:
        flat = [o[1] if isinstance(o, tuple) else o for o in options]
        values = [flat[i] for i in (len(flat) // 2, -1, 0, 1)]
    if values is None:  # a log slider: a few of its values
        values = [0.01, 0.1, 0.003, 0.3, 0.03]
    return values


def time_new(widget, name: str, values: list) -> list[tuple[float, float]]:
    """(first picture ms, final picture ms) per value set on ``widget``'s control ``name``."""
    control, results = widget.controls[name], []
    for value in values:
        if control.value == value:
            continue
        changed, final = threading.Event(), threading.Event()
        on_picture = lambda change: changed.set()  # noqa: E731
        on_status = lambda change: change["new"] != RUNNING and final.set()  # noqa: E731
        widget.picture.observe(on_picture, names="value")
        widget.status.observe(on_status, names="value")
        start = time.perf_counter()
        control.value = value
        changed.wait(60)
        first = time.perf_counter() - start
        final.wait(300)
        results.append((first * 1000, (time.perf_counter() - start) * 1000))
        widget.picture.unobserve(on_picture, names="value")
        widget.status.unobserve(on_status, names="value")
        widget.worker.wait(300)  # a class looks at the picture meanwhile: any work ahead finishes
    return results


def time_old(func, defaults: dict, name: str, values: list) -> list[float]:
    """ms per call of the old function with ``name`` set to each value, its pyplot figures rendered as inline did."""
    results, current = [], dict(defaults)
    for value in values:
        if current[name] == value:
            continue
        current[name] = value
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the old 00 printed its table: timed, not shown
            func(**current)
        for number in plt.get_fignums():
            plt.figure(number).savefig(io.BytesIO(), format="png", bbox_inches="tight")
        plt.close("all")
        results.append((time.perf_counter() - start) * 1000)
    return results


WALKTHROUGHS = {  # notebook -> the walkthrough its cells make, from the names they define
    "00c": lambda ns: WalkthroughFigure_(ns, lambda p: WalkthroughFigure(ns["nyu_graph"](**ns["nyu_point"]),
                                                                              projector=p)),
    "02": lambda ns: WalkthroughFigure_(ns, lambda p: LayerWalkthroughFigure(
        ns["walk_mlp"], ns["walk_x"], ns["walk_y"], projector=p)),
    "03": lambda ns: WalkthroughFigure_(ns, lambda p: LayerWalkthroughFigure(
        ns["model"], ns["x"][:4], ns["y"][:4], ns["backpropagation"], projector=p)),
}


def WalkthroughFigure_(namespace: dict, build):  # noqa: N802 - reads as the thing it builds
    from helpers.plots.walkthrough_widget import Walkthroughs, build_controls
    return build_controls(Walkthroughs(build), ipywidgets), build


def time_walkthrough(widget, build) -> dict[str, tuple[list, list]]:
    """'next' and 'projector': (new ms per input, baseline ms: a rebuilt figure's PNG for the same step)."""
    steps = len(widget.walkthroughs.notebook.steps)
    new, old = [], []
    for step in range(1, min(steps, 8)):
        start = time.perf_counter()
        widget.buttons["next"].click()
        widget.worker.wait(60)
        new.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        build(False).png(step)
        old.append((time.perf_counter() - start) * 1000)
    toggles = []
    for pressed in (True, False, True, False):
        start = time.perf_counter()
        widget.projector.value = pressed
        widget.worker.wait(60)
        toggles.append((time.perf_counter() - start) * 1000)
    return {"next": (new, old), "projector": (toggles, old[:len(toggles)])}


def summary(name: str, new: list[float], old: list[float], first: list[float] | None = None) -> str:
    med, worst = statistics.median(new), max(new)
    line = f"  {name:<14} new median {med:6.0f} ms, worst {worst:6.0f} ms"
    if first is not None:
        line += f" (first picture: median {statistics.median(first):5.0f}, worst {max(first):5.0f})"
    if old:
        base = statistics.median(old)
        line += f" | old median {base:6.0f} ms, worst {max(old):6.0f} ms | new/old {med / base:.2f}"
    verdict = "ok" if min(worst, max(first or [worst])) <= 1000 and min(med, statistics.median(first or [med])) <= 500 \
        else "OVER TARGET"
    return f"{line} [{verdict}]"


def bench_notebook(key: str) -> None:
    notebook = ROOT / "notebooks" / f"{NOTEBOOKS[key]}.ipynb"
    cells, index = widget_cells(notebook)
    old_cells, old_index = widget_cells(notebook, OLD_COMMIT, f"{OLD_NAMES[key]}.ipynb" if key in OLD_NAMES else None)
    namespace, kept = {"__name__": "__main__"}, []
    os.chdir(notebook.parent)
    start = time.perf_counter()
    capture_widgets(kept)
    failed = run_cells(cells[:index + 1], namespace)
    # the old cells in a namespace of their own, as the old notebook ran them: mixed into the new one, a name
    # either defines differently (00c's came from the one notebook 00 then) would reach the other's widget
    run_cells(old_cells[:old_index + 1], {"__name__": "__main__"})
    print(f"{NOTEBOOKS[key]}: cells ran in {time.perf_counter() - start:.0f} s"
          + (f" (cells {[i + 1 for i in failed]} failed)" if failed else ""))
    if key in WALKTHROUGHS:
        walkthrough, build = WALKTHROUGHS[key](namespace)
        for control, (new, old) in time_walkthrough(walkthrough, build).items():
            print(summary(f"walk {control}", new, old))
    if len(kept) < 2:
        print("  no figure widget captured (a cell it needs failed?)")
        return
    (func, controls), (old_func, old_controls) = kept[-2], kept[-1]
    widget = live_figure_widget(ipywidgets, func, controls)
    defaults = {name: getattr(c, "value", c) for name, c in old_controls.items()}
    for name in widget.controls:
        values = choices(name, widget.controls[name])
        timings = time_new(widget, name, values)
        old = time_old(old_func, defaults, name, values)
        print(summary(name, [final for _, final in timings], old, [first for first, _ in timings]))
    projector = time_new_projector(widget)
    print(summary("projector", projector, []))


def time_new_projector(widget) -> list[float]:
    results = []
    for pressed in (True, False):
        start = time.perf_counter()
        widget.projector.value = pressed
        widget.worker.wait(300)
        results.append((time.perf_counter() - start) * 1000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", default=",".join(NOTEBOOKS), help="comma-separated keys, e.g. 00c,01")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    for key in args.notebooks.split(","):
        bench_notebook(key)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
