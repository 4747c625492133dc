"""Executing a build's notebooks: one worker process each, ``jobs`` at a time, with progress lines.

The workers and how an interrupted build stops them are in :mod:`tools.report.workers`.
"""
from __future__ import annotations

import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path

from tools.report.content import Item
from tools.report.execute import HEADLINE_NUMBERS_DIR, run_one
from tools.report.publish import RUNS_DIR
from tools.report.workers import start_pool, stop_pool

HEARTBEAT_S = 15.0


@dataclass
class Outcome:
    notebook: Path
    seconds: float | None = None
    error: str | None = None
    items: list[Item] = field(default_factory=list)  # harvested from its tagged cells, in cell order


class Progress:
    """Plain, flushed progress lines that start with the build's elapsed time."""

    def __init__(self, log=print):
        self.start, self._log = time.monotonic(), log

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def __call__(self, message: str) -> None:
        self._log(f"[{self.elapsed():6.1f} s] {message}")
        sys.stdout.flush()


def _log_tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _outcome(notebook: Path, future, log_path: Path) -> Outcome:
    try:
        result = future.result()
    except Exception as error:  # not a cell: the HTML export failed, the worker was killed...
        return Outcome(notebook, error=f"{notebook.name}: {type(error).__name__}: {error}\n"
                                        f"{_log_tail(log_path)}".rstrip())
    if result["ok"]:
        return Outcome(notebook, seconds=result["seconds"], items=result["items"])
    return Outcome(notebook, error=result["message"])


def execute_notebooks(notebooks: list[Path], staging: Path, jobs: int, progress: Progress,
                      start_order: list[Path] | None = None,
                      headline_numbers: Path = HEADLINE_NUMBERS_DIR) -> list[Outcome]:
    """Run the notebooks, ``jobs`` at a time, started in ``start_order`` (default: their order), their
    headline numbers made by the files in ``headline_numbers`` (:mod:`tools.report.execute`);
    after a failure, start no new one. Returns the outcomes in the notebooks' order. Interrupted (any
    exception, e.g. :class:`BuildInterrupted`), it kills the workers and their kernels before raising."""
    logs = staging / RUNS_DIR
    logs.mkdir(parents=True, exist_ok=True)
    queue, running, outcomes = list(start_order or notebooks), {}, []
    pool = start_pool(min(jobs, len(notebooks)))
    try:
        while queue or running:
            while queue and len(running) < jobs and not any(o.error for o in outcomes):
                notebook = queue.pop(0)
                progress(f"start  {notebook.stem}")
                log_path = logs / f"{notebook.stem}.log"
                future = pool.submit(run_one, notebook, staging, log_path, headline_numbers)
                running[future] = (notebook, time.monotonic(), log_path)
            if not running:
                break
            finished, _ = wait(running, timeout=HEARTBEAT_S, return_when=FIRST_COMPLETED)
            if not finished:  # a heartbeat while long notebooks run
                now = time.monotonic()
                progress("running: " + ", ".join(f"{nb.stem} ({now - since:.0f} s)"
                                                 for nb, since, _ in running.values()))
            for future in finished:
                notebook, _, log_path = running.pop(future)
                outcome = _outcome(notebook, future, log_path)
                outcomes.append(outcome)
                progress(f"FAILED {notebook.stem}" if outcome.error else
                         f"done   {notebook.stem} in {outcome.seconds:.1f} s")
    except BaseException:
        stop_pool(pool)  # before anything removes the staging folder they write into
        raise
    pool.shutdown(wait=True)
    if queue:
        progress(f"not started after the failure: {', '.join(nb.stem for nb in queue)}")
    order = {nb: i for i, nb in enumerate(notebooks)}
    return sorted(outcomes, key=lambda o: order[o.notebook])
