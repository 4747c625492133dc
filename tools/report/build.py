"""``python -m tools.report [--jobs N] [--only NB ...]``: the main command (``make report``).

Executes every notebook ``notebooks/[0-9][0-9]_*.ipynb`` headlessly (never writing the committed
file), ``--jobs`` of them at a time, each in its own process and kernel, into a staging folder
``report/.staging-<pid>``: the notebooks' report hooks (:mod:`helpers.runtime.report_hooks`) write
their headline numbers and deliverables there, and the builder adds the figures and observations of
their tagged cells (:mod:`tools.report.harvest`). Then it writes, from what the run produced:

- ``notebooks/<name>.ipynb`` and ``.html``: the executed notebooks;
- ``index.html`` (:mod:`tools.report.html`) and ``report.pdf`` (:mod:`tools.report.pdf`): one section
  per notebook with its headline numbers, key figures and observations;
- ``metrics.json``: every headline number, versions, timings; checked against
  ``tools/report/metrics_schema.json`` before it is written;
- the deliverables the notebooks wrote (e.g. ``q2_ytest.txt``) and ``figures/``.

Only when every notebook succeeded does the new report replace the previous one (a handful of
renames at the very end, :mod:`tools.report.publish`); otherwise the builder says which notebook,
which cell and why, keeps the previous report, removes the staging folder and exits with status 1.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from helpers.data.paths import PROJECT_ROOT
from tools.report.content import (Item, NotebookRun, Report, collect, metrics_document,
                                  notebook_title, validate_metrics)
from tools.report.execute import run_one
from tools.report.html import write_index
from tools.report.pdf import write_pdf
from tools.report.publish import INDEX, KEEP, RUNS_DIR, new_staging, replace_report

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORT_DIR = PROJECT_ROOT / "report"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
DEFAULT_JOBS = 2
HEARTBEAT_S = 15.0
PDF, METRICS = "report.pdf", "metrics.json"


class ReportBuildError(RuntimeError):
    """The report could not be built; the message says why (which notebook, cell and error)."""


@dataclass
class _Outcome:
    notebook: Path
    seconds: float | None = None
    error: str | None = None
    items: list[Item] = field(default_factory=list)  # harvested from its tagged cells, in cell order


class _Progress:
    """Plain, flushed progress lines that start with the build's elapsed time."""

    def __init__(self, log=print):
        self.start, self._log = time.monotonic(), log

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def __call__(self, message: str) -> None:
        self._log(f"[{self.elapsed():6.1f} s] {message}")
        sys.stdout.flush()


# ---------------------------------------------------------------------------------------------------
# Which notebooks
# ---------------------------------------------------------------------------------------------------
def discover_notebooks(notebooks_dir: Path, only: list[str] | None = None) -> list[Path]:
    """``notebooks_dir/[0-9][0-9]_*.ipynb`` in order; ``only`` keeps those named (``"01"``,
    ``"01_spiral_gradient_descent"``, or a path to the file)."""
    notebooks = sorted(Path(notebooks_dir).glob(NOTEBOOK_GLOB))
    if not notebooks:
        raise ReportBuildError(f"no notebooks matching {NOTEBOOK_GLOB} in {notebooks_dir}")
    if not only:
        return notebooks
    chosen = []
    for wanted in only:
        key = Path(wanted).name.removesuffix(".ipynb")
        matches = [nb for nb in notebooks if nb.stem == key or nb.stem.startswith(f"{key}_")]
        if not matches:
            names = ", ".join(nb.stem for nb in notebooks)
            raise ReportBuildError(f"--only {wanted!r} matches no notebook; available: {names}")
        chosen += [nb for nb in matches if nb not in chosen]
    return sorted(chosen)


# ---------------------------------------------------------------------------------------------------
# Executing them (one worker process each, `jobs` at a time)
# ---------------------------------------------------------------------------------------------------
def _pool_context():
    """Fork on Linux: the workers start at once with the parent's modules (seconds of imports) loaded;
    a fork-context pool forks all its workers before it starts its thread, so forking is safe. Spawn
    elsewhere (macOS system libraries are not fork-safe)."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _log_tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _outcome(notebook: Path, future, log_path: Path) -> _Outcome:
    try:
        result = future.result()
    except Exception as error:  # not a cell: the HTML export failed, the worker was killed...
        return _Outcome(notebook, error=f"{notebook.name}: {type(error).__name__}: {error}\n"
                                        f"{_log_tail(log_path)}".rstrip())
    if result["ok"]:
        return _Outcome(notebook, seconds=result["seconds"], items=result["items"])
    return _Outcome(notebook, error=result["message"])


def longest_first(notebooks: list[Path], previous_metrics: Path) -> list[Path]:
    """The order to start the notebooks in: slowest first by the previous build's ``metrics.json``,
    so that the longest one does not start last and keep the others' cores idle. Notebooks it does
    not know come first, in their order."""
    try:
        seconds = json.loads(previous_metrics.read_text())["timing"]["notebooks"]
    except (OSError, ValueError, KeyError, TypeError):
        seconds = {}
    known = {name: s for name, s in seconds.items() if isinstance(s, (int, float))} if isinstance(seconds, dict) else {}
    return sorted(notebooks, key=lambda nb: -known.get(nb.stem, float("inf")))


def execute_notebooks(notebooks: list[Path], staging: Path, jobs: int, progress: _Progress,
                      start_order: list[Path] | None = None) -> list[_Outcome]:
    """Run the notebooks, ``jobs`` at a time, started in ``start_order`` (default: their order);
    after a failure, start no new one. Returns the outcomes in the notebooks' order."""
    logs = staging / RUNS_DIR
    logs.mkdir(parents=True, exist_ok=True)
    queue, running, outcomes = list(start_order or notebooks), {}, []
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(notebooks)), mp_context=_pool_context())
    try:
        while queue or running:
            while queue and len(running) < jobs and not any(o.error for o in outcomes):
                notebook = queue.pop(0)
                progress(f"start  {notebook.stem}")
                log_path = logs / f"{notebook.stem}.log"
                future = pool.submit(run_one, notebook, staging, log_path)
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
    finally:  # on Ctrl-C the kernels got the signal too; do not wait for stragglers
        pool.shutdown(wait=not running, cancel_futures=True)
    if queue:
        progress(f"not started after the failure: {', '.join(nb.stem for nb in queue)}")
    order = {nb: i for i, nb in enumerate(notebooks)}
    return sorted(outcomes, key=lambda o: order[o.notebook])


# ---------------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------------
def write_outputs(report: Report, staging: Path) -> dict:
    """index.html, report.pdf and the validated metrics.json into ``staging``; returns the metrics."""
    metrics = metrics_document(report)
    validate_metrics(metrics)
    (staging / METRICS).write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    write_index(report, staging / INDEX)
    write_pdf(report, staging, staging / PDF)
    return metrics


def build_report(notebooks_dir: Path = NOTEBOOKS_DIR, output_dir: Path = REPORT_DIR, jobs: int = DEFAULT_JOBS,
                 only: list[str] | None = None, log=print) -> Report:
    """Build the report of the notebooks in ``notebooks_dir`` into ``output_dir``.

    Raises :class:`ReportBuildError` (previous report untouched) when a notebook fails.
    """
    if jobs < 1:
        raise ReportBuildError(f"--jobs must be at least 1, got {jobs}")
    notebooks_dir, output_dir = Path(notebooks_dir).resolve(), Path(output_dir).resolve()
    notebooks = discover_notebooks(notebooks_dir, only)
    complete = len(notebooks) == len(discover_notebooks(notebooks_dir))
    progress = _Progress(log)
    staging = new_staging(output_dir)
    progress(f"{len(notebooks)} notebook(s), {min(jobs, len(notebooks))} at a time -> {output_dir}")
    try:
        outcomes = execute_notebooks(notebooks, staging, jobs, progress,
                                     start_order=longest_first(notebooks, output_dir / METRICS))
        failures = [o.error for o in outcomes if o.error]
        if failures:
            raise ReportBuildError("\n".join(failures))
        runs = [NotebookRun(o.notebook, notebook_title(o.notebook), o.seconds, o.items) for o in outcomes]
        progress("writing index.html, report.pdf, metrics.json")
        reserved = {INDEX, PDF, METRICS} | KEEP
        try:
            report = collect(staging, runs, reserved, PROJECT_ROOT, progress.elapsed(), jobs, complete)
            for warning in report.warnings:
                progress(f"warning: {warning}")
            write_outputs(report, staging)
        except ValueError as error:  # a clashing deliverable name, metrics that break the schema
            raise ReportBuildError(str(error)) from None
        replace_report(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"report ready: {output_dir / INDEX}")
    return report


def _summary(report: Report) -> str:
    width = max(len(s.name) for s in report.sections)
    lines = [f"  {s.name:<{width}}  {s.seconds:6.1f} s" for s in report.sections if s.seconds is not None]
    return "\n".join(lines + [f"  {'total (wall)':<{width}}  {report.total_seconds:6.1f} s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                        help=f"notebooks executed at the same time (default {DEFAULT_JOBS})")
    parser.add_argument("--only", nargs="+", metavar="NB",
                        help="build a partial report of these notebooks (e.g. 01 or 02_manual_backprop_mlp)")
    args = parser.parse_args(argv)
    try:
        report = build_report(NOTEBOOKS_DIR, REPORT_DIR, jobs=args.jobs, only=args.only,
                              log=lambda line: print(line, flush=True))
    except ReportBuildError as error:
        print(f"\nreport FAILED:\n{error}\nThe previous report in {REPORT_DIR} is kept.", file=sys.stderr,
              flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; the previous report in {REPORT_DIR} is kept.", file=sys.stderr, flush=True)
        return 130
    print(f"\nper notebook:\n{_summary(report)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
