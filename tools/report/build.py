"""``python -m tools.report [--jobs N] [--only NB ...]``: the main command (``make report``).

Executes every notebook ``notebooks/[0-9][0-9]*_*.ipynb`` headlessly (never writing the committed
file), ``--jobs`` of them at a time, each in its own process and kernel, into a staging folder
``report/.staging-<pid>``: after each cell tagged ``report-metrics:<name>`` the kernel writes that cell's
headline numbers and deliverables there (``tools/report/headline_numbers/``, :mod:`tools.report.execute`), and
the builder adds the figures and observations of the tagged cells (:mod:`tools.report.harvest`). Then it writes, from what the run produced:

- ``notebooks/<name>.ipynb`` and ``.html``: the executed notebooks;
- ``index.html`` (:mod:`tools.report.summary`, rendered by nbconvert) and ``report.pdf`` (that page
  printed by Chromium, :mod:`tools.report.printing`): one section per notebook with its headline
  numbers, key figures and observations; ``mathjax/``: the pages' MathJax (:mod:`tools.report.mathjax`);
- ``metrics.json``: every headline number, versions, timings, and how the PDF prints (smallest figure
  text, clipped tables, TeX left untypeset); checked against ``tools/report/metrics_schema.json``
  before it is written;
- the deliverables the notebooks wrote (e.g. ``q2_ytest.txt``) and ``figures/``.

Only when every notebook succeeded does the new report replace the previous one (a handful of
renames at the very end, :mod:`tools.report.publish`); otherwise the builder says which notebook,
which cell and why, keeps the previous report, removes the staging folder and exits with status 1.

One build at a time per report folder: a second one is refused at once, naming the running one's
pid (status 1). A build first finishes what a killed one left (:func:`tools.report.publish.recover`).
Interrupted (Ctrl-C, SIGTERM, to the builder or its process group), it kills its workers and their
kernels, removes its staging folder and exits with 130 (SIGINT) or 143 (SIGTERM); a signal that comes
while the PDF is printed waits until Chromium is done (seconds), one that comes while the report is
being published until the renames are done (:mod:`tools.report.workers`).
A partial build (``--only``) keeps the previous report's other sections (:mod:`tools.report.partial`).
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from string import ascii_lowercase

from helpers.data.paths import PROJECT_ROOT
from tools.report.content import NotebookRun, Report, collect, metrics_document, notebook_title, validate_metrics
from tools.report.execute import HEADLINE_NUMBERS_DIR
from tools.report.mathjax import FOLDER as MATHJAX, copy_mathjax
from tools.report.partial import keep_previous_sections
from tools.report.printing import PrintError, print_pdf, print_warnings
from tools.report.publish import INDEX, KEEP, ReportBusyError, locked, new_staging, recover, replace_report
from tools.report.running import Outcome, Progress, execute_notebooks
from tools.report.summary import write_index
from tools.report.workers import BuildInterrupted, signals_deferred, signals_raise

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORT_DIR = PROJECT_ROOT / "report"
NOTEBOOK_GLOB = "[0-9][0-9]*_*.ipynb"  # "01_spiral_...", and a session of one: "00a_chain_rule_..."
DEFAULT_JOBS = 2
PDF, METRICS = "report.pdf", "metrics.json"


class ReportBuildError(RuntimeError):
    """The report could not be built; the message says why (which notebook, cell and error)."""


# ---------------------------------------------------------------------------------------------------
# Which notebooks
# ---------------------------------------------------------------------------------------------------
def discover_notebooks(notebooks_dir: Path, only: list[str] | None = None) -> list[Path]:
    """``notebooks_dir/[0-9][0-9]*_*.ipynb`` in order; ``only`` keeps those named (``"01"``,
    ``"01_spiral_gradient_descent"``, or a path to the file; ``"00"`` names all of 00a, 00b, 00c)."""
    notebooks = sorted(Path(notebooks_dir).glob(NOTEBOOK_GLOB))
    if not notebooks:
        raise ReportBuildError(f"no notebooks matching {NOTEBOOK_GLOB} in {notebooks_dir}")
    if not only:
        return notebooks
    chosen = []
    for wanted in only:
        key = Path(wanted).name.removesuffix(".ipynb")
        matches = [nb for nb in notebooks if nb.stem == key or nb.stem.startswith(f"{key}_")
                   or nb.stem.split("_")[0].rstrip(ascii_lowercase) == key]
        if not matches:
            names = ", ".join(nb.stem for nb in notebooks)
            raise ReportBuildError(f"--only {wanted!r} matches no notebook; available: {names}")
        chosen += [nb for nb in matches if nb not in chosen]
    return sorted(chosen)


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


# ---------------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------------
@contextmanager
def writing(folder: Path, what: str):
    """Turn an ``OSError`` (a read-only folder, a full disk) into a :class:`ReportBuildError` that
    names the file and the fix, not a bare traceback."""
    try:
        yield
    except OSError as error:
        where = error.filename or folder
        raise ReportBuildError(f"could not {what}: {error.strerror or error}: {where}\nMake {folder} writable "
                               f"(or build elsewhere with --output DIR) and check that its disk has free "
                               f"space (df -h {folder}).") from None


def write_outputs(report: Report, staging: Path, progress=print) -> dict:
    """index.html, its MathJax, report.pdf and the validated metrics.json into ``staging``; returns the
    metrics. What the printed PDF gets wrong (small figure text, a clipped table, raw TeX) is a warning."""
    copy_mathjax(staging)
    write_index(report, staging, staging / INDEX)
    figures = {item.path: {"smallest_text_pt": item.smallest_text_pt, "dpi": item.dpi}
               for section in report.sections for item in section.items if item.kind == "figure"}
    try:
        with signals_deferred():  # an interrupt raised inside Playwright's event loop would be lost
            printed = print_pdf(staging / INDEX, staging / PDF, figures)
    except PrintError as error:
        raise ReportBuildError(str(error)) from None
    for warning in print_warnings(printed):
        progress(f"warning: {warning}")
    metrics = metrics_document(report, printed)
    validate_metrics(metrics)
    (staging / METRICS).write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return metrics


def _assemble(outcomes: list[Outcome], kept: list[NotebookRun], staging: Path, jobs: int, complete: bool,
              progress: Progress) -> Report:
    """The report of this build's runs and the previous report's ``kept`` sections, written to staging."""
    runs = [NotebookRun(o.notebook, notebook_title(o.notebook), o.seconds, o.items) for o in outcomes]
    runs = sorted(runs + kept, key=lambda run: run.path.name)
    progress("writing index.html, report.pdf, metrics.json")
    reserved = {INDEX, PDF, METRICS, MATHJAX} | KEEP
    try:
        report = collect(staging, runs, reserved, PROJECT_ROOT, progress.elapsed(), jobs, complete)
        if kept:
            report.warnings.append("kept from the previous report (not run in this build): "
                                   + ", ".join(run.name for run in kept))
        for warning in report.warnings:
            progress(f"warning: {warning}")
        with writing(staging.parent, "write the report"):
            write_outputs(report, staging, progress)
    except ValueError as error:  # a clashing deliverable name, metrics that break the schema
        raise ReportBuildError(str(error)) from None
    return report


def _build(notebooks: list[Path], others: list[Path], output_dir: Path, jobs: int, progress: Progress,
           headline_numbers: Path) -> Report:
    """Execute, assemble and publish, holding the report folder's lock."""
    with writing(output_dir, "tidy the report folder"):
        recover(output_dir, progress)
        staging = new_staging(output_dir)
    published = False
    try:
        outcomes = execute_notebooks(notebooks, staging, jobs, progress,
                                     start_order=longest_first(notebooks, output_dir / METRICS),
                                     headline_numbers=headline_numbers)
        failures = [o.error for o in outcomes if o.error]
        if failures:
            raise ReportBuildError("\n".join(failures))
        with writing(staging, "keep the previous report's other sections"):
            kept = keep_previous_sections(output_dir, staging, others)
        report = _assemble(outcomes, kept, staging, jobs, not others, progress)
        with writing(output_dir, "publish the report"), signals_deferred():
            replace_report(staging, output_dir)
            published = True
    except BuildInterrupted as interrupted:
        interrupted.published = published
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def build_report(notebooks_dir: Path = NOTEBOOKS_DIR, output_dir: Path = REPORT_DIR, jobs: int = DEFAULT_JOBS,
                 only: list[str] | None = None, log=print, headline_numbers: Path = HEADLINE_NUMBERS_DIR) -> Report:
    """Build the report of the notebooks in ``notebooks_dir`` into ``output_dir``; the functions that make
    each notebook's headline numbers are in ``headline_numbers`` (one file per notebook, see its README).

    Raises :class:`ReportBuildError` (previous report untouched) when a notebook fails, the folder
    cannot be written or another build holds it; :class:`BuildInterrupted` on SIGINT or SIGTERM
    (workers and kernels killed, staging removed; ``published`` says whether the new report got in).
    """
    if jobs < 1:
        raise ReportBuildError(f"--jobs must be at least 1, got {jobs}")
    notebooks_dir, output_dir = Path(notebooks_dir).resolve(), Path(output_dir).resolve()
    notebooks = discover_notebooks(notebooks_dir, only)
    others = [nb for nb in discover_notebooks(notebooks_dir) if nb not in notebooks]
    progress = Progress(log)
    with signals_raise():
        try:
            with writing(output_dir, "create the report folder"), locked(output_dir):
                progress(f"{len(notebooks)} notebook(s), {min(jobs, len(notebooks))} at a time -> {output_dir}")
                report = _build(notebooks, others, output_dir, jobs, progress, headline_numbers)
        except ReportBusyError as error:
            raise ReportBuildError(str(error)) from None
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
                        help="build a partial report of these notebooks (e.g. 01 or 02_manual_backprop_mlp); "
                             "the previous report's other sections are kept")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, metavar="DIR",
                        help="the folder of notebooks (default: notebooks/)")
    parser.add_argument("--output", type=Path, default=REPORT_DIR, metavar="DIR",
                        help="the report folder (default: report/)")
    args = parser.parse_args(argv)
    try:
        report = build_report(args.notebooks, args.output, jobs=args.jobs, only=args.only,
                              log=lambda line: print(line, flush=True))
    except ReportBuildError as error:
        print(f"\nreport FAILED:\n{error}\nThe previous report in {args.output} is kept.", file=sys.stderr,
              flush=True)
        return 1
    except KeyboardInterrupt as interrupted:
        signum = getattr(interrupted, "signum", signal.SIGINT)
        outcome = "new report published" if getattr(interrupted, "published", False) else "previous report kept"
        print(f"\ninterrupted ({signal.Signals(signum).name}): {outcome} in {args.output}",
              file=sys.stderr, flush=True)
        return 128 + signum
    print(f"\nper notebook:\n{_summary(report)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
