"""The report builder (``make report``) on tiny notebooks written into a temporary folder.

Three builds start kernels (a couple of seconds each): one successful build of two notebooks, shared
by the tests of its outputs, and two failing ones (a failing cell through the command line, a report
tag without its output). The rest is fast; the harvest's own cases are in ``test_report_harvest.py``.
"""
from __future__ import annotations

import base64
import io
import json
import platform
from pathlib import Path

import jsonschema
import nbformat
import pytest
from PIL import Image

from helpers.data.paths import PROJECT_ROOT
from tools.report import build as builder
from tools.report import publish
from tools.report.content import SCHEMA_PATH, Item, NotebookRun, collect, validate_metrics
from tools.report.harvest import harvest
from tools.report.printing import print_pdf
from tools.report.summary import escape_markdown
from tools.report.tables import format_value, headline_tables

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

OBSERVATION = """## Step sizes
With $\\lambda = 10^{-3}$ the descent **converges**; larger steps `diverge`. The penalty
$\\frac{\\lambda}{2}\\lVert\\theta\\rVert^2$ keeps the weights small.

- first point
- second point

| lr | val mse |
|---:|---:|
| 0.1 | 0.5 |
"""

METRICS_SOURCE = """test_mse, epochs = 0.012345678, 20
sweep = [{"lr": 0.1, "val_mse": 0.5}, {"lr": 0.01, "val_mse": 0.25}]
print("alpha ran")"""
# The functions the cells tagged report-metrics:<name> name, one file per notebook (tools/report/headline_numbers)
HEADLINE_NUMBERS = {
    "01_alpha.py": """from helpers.runtime.report_hooks import write_deliverable


def training(test_mse, epochs, sweep):
    write_deliverable("q2_ytest.txt", "0.5\\n1.5\\n")
    return {"test_mse": test_mse, "epochs": epochs, "sweep": sweep}
""",
    "02_beta.py": """def accuracy_only(accuracy):
    return {"accuracy": accuracy}


def sweep(wide_sweep):
    return {"wide_sweep": wide_sweep}
"""}
MARKDOWN_SOURCE = f"from IPython.display import Markdown, display\ndisplay(Markdown({OBSERVATION!r}))"
FIGURE_SOURCE = """import matplotlib.pyplot as plt
from helpers.plots.style import use_style
use_style()
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([1, 2, 3], [3, 1, 2])
ax.set(title="loss per step", xlabel="step")
plt.show()"""
TWO_FIGURES_SOURCE = FIGURE_SOURCE + """
fig, ax = plt.subplots(figsize=(2, 2))
ax.bar([0, 1], [2, 1])
plt.show()"""
# A sweep too wide for a page at its natural width: its table must wrap, not run off the page.
WIDE_SWEEP = [{f"setting_{c}": f"value{r}-{c}-" * 3 for c in range(12)} for r in range(3)]
# The report shows the tagged items in cell order, which is neither alphabetical nor grouped by kind.
ALPHA_ITEMS = [("text", "observations"), ("figure", "loss_curve"), ("figure", "zeta_left"),
               ("figure", "alpha_right")]


def _write_notebook(path, *cells):
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    notebook.cells = list(cells)
    nbformat.write(notebook, path)
    return path


def _tagged(source: str, *tags: str):
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})


def _alpha_cells():
    return [nbformat.v4.new_markdown_cell("# Alpha: a *tiny* notebook"),
            _tagged(METRICS_SOURCE, "report-metrics:training"),
            _tagged(MARKDOWN_SOURCE, "report-text:observations"),
            _tagged(FIGURE_SOURCE, "report-figure:loss_curve"),
            _tagged(TWO_FIGURES_SOURCE, "report-figure:zeta_left", "report-figure:alpha_right"),
            nbformat.v4.new_code_cell('test_mse = "changed after the tagged cell"')]  # the numbers are the cell's


def headline_numbers_folder(root: Path) -> Path:
    folder = root / "headline_numbers"
    folder.mkdir()
    for name, source in HEADLINE_NUMBERS.items():
        (folder / name).write_text(source)
    return folder


def notebooks_folder(root: Path) -> Path:
    """``root/notebooks`` laid out as a checkout's: ``helpers`` beside the notebooks links to the project's (the
    project is not installed; a kernel imports the helpers of its notebook's folder)."""
    notebooks = root / "notebooks"
    notebooks.mkdir()
    (notebooks / "helpers").symlink_to(PROJECT_ROOT / "helpers")
    return notebooks


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A successful build of two tiny notebooks (run two at a time)."""
    root = tmp_path_factory.mktemp("report_build")
    notebooks, out = notebooks_folder(root), root / "out"
    _write_notebook(notebooks / "01_alpha.ipynb", *_alpha_cells())
    _write_notebook(notebooks / "02_beta.ipynb", _tagged("accuracy = 0.9312", "report-metrics:accuracy_only"),
                    _tagged(f"wide_sweep = {WIDE_SWEEP!r}", "report-metrics:sweep"))
    headline_numbers = headline_numbers_folder(root)
    committed = {p.name: p.read_bytes() for p in notebooks.glob("*.ipynb")}
    (out / "README.md").parent.mkdir()
    (out / "README.md").write_text("kept\n")
    lines = []
    report = builder.build_report(notebooks, out, jobs=2, log=lines.append, headline_numbers=headline_numbers)
    return {"notebooks": notebooks, "out": out, "report": report, "committed": committed, "log": lines,
            "headline_numbers": headline_numbers}


# ---------------------------------------------------------------------------------------------------
# A successful build
# ---------------------------------------------------------------------------------------------------
def test_build_writes_every_output(built):
    out = built["out"]
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md", "figures", "index.html", "mathjax", "metrics.json", "notebooks", "q2_ytest.txt", "report.pdf"]
    assert (out / "README.md").read_text() == "kept\n"
    assert (out / "q2_ytest.txt").read_text() == "0.5\n1.5\n"
    assert (out / "figures" / "01_alpha" / "loss_curve.png").read_bytes().startswith(b"\x89PNG")
    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/Type /Page" in pdf


def test_executed_copies_have_outputs_and_committed_notebooks_are_untouched(built):
    notebooks, executed = built["notebooks"], built["out"] / "notebooks"
    assert {p.name: p.read_bytes() for p in notebooks.glob("*.ipynb")} == built["committed"]
    alpha = nbformat.read(executed / "01_alpha.ipynb", as_version=4)
    streams = [o.get("text", "") for c in alpha.cells if c.cell_type == "code" for o in c.outputs]
    assert "alpha ran\n" in streams
    # recording the headline numbers after a tagged cell leaves no trace in the executed notebook
    for name in ("01_alpha", "02_beta"):
        code = [c for c in nbformat.read(executed / f"{name}.ipynb", as_version=4).cells if c.cell_type == "code"]
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert sum(len(c.outputs) for c in alpha.cells if "report-metrics:training" in c.metadata.get("tags", [])) == 1
    for name in ("01_alpha", "02_beta"):
        assert "<html" in (executed / f"{name}.html").read_text()[:2000].lower()


def test_index_shows_what_the_notebooks_recorded(built):
    page = (built["out"] / "index.html").read_text()
    assert "Alpha: a tiny notebook" in page  # the section title comes from the notebook's heading
    assert "0.01235" in page and "0.9312" in page  # headline numbers, 4 significant digits
    assert 'src="figures/01_alpha/loss_curve.png"' in page
    assert "<strong>converges</strong>" in page and "<code>diverge</code>" in page
    assert "$\\lambda = 10^{-3}$" in page  # left for MathJax to typeset: from the report's own copy
    assert '<script src="mathjax/MathJax.js?config=' in page and (built["out"] / "mathjax" / "MathJax.js").is_file()
    executed = (built["out"] / "notebooks" / "01_alpha.html").read_text()
    assert '<script src="../mathjax/MathJax.js?config=' in executed
    assert '<a href="q2_ytest.txt">' in page and 'href="notebooks/02_beta.html"' in page


def test_figures_carry_alt_text_saying_what_they_show_and_load_eagerly_for_printing(built):
    page = (built["out"] / "index.html").read_text()
    assert 'alt="loss curve: Panels: loss per step. Axes: step."' in page  # the figure's own title and label
    assert 'loading="lazy"' not in page and page.count("<img ") == page.count(' alt="')
    # captions say what the figure shows (its title), the name only for an untitled one
    assert "<figcaption>loss per step</figcaption>" in page and "<figcaption>alpha right</figcaption>" in page


def test_the_printed_report_is_measured_readable_unclipped_and_typeset(built):
    printed = json.loads((built["out"] / "metrics.json").read_text())["print"]
    assert [f["path"] for f in printed["figures"]] == [f"figures/01_alpha/{name}.png" for _, name in ALPHA_ITEMS[1:]]
    # the figures' smallest text, the course style's 10 pt tick labels, prints at 10 pt: at their own size
    assert printed["smallest_figure_text_pt"] == pytest.approx(10.0, abs=0.1)
    # the 12-column sweep wraps within the page; \frac and \lVert are typeset by the report's own MathJax
    assert printed["clipped_tables"] == [] and printed["raw_tex"] == []


def _image_outputs(notebook, tag):
    """The PNG bytes the executed cell tagged ``tag`` displayed, read straight from its outputs."""
    cell = next(c for c in notebook.cells if tag in c.metadata.get("tags", []))
    return [base64.b64decode(o["data"]["image/png"]) for o in cell.outputs if "image/png" in o.get("data", {})]


def test_tagged_figures_are_the_cells_own_images(built):
    figures = built["out"] / "figures" / "01_alpha"
    executed = nbformat.read(built["out"] / "notebooks" / "01_alpha.ipynb", as_version=4)
    assert sorted(p.name for p in figures.iterdir()) == ["alpha_right.png", "loss_curve.png", "zeta_left.png"]
    assert (figures / "loss_curve.png").read_bytes() == _image_outputs(executed, "report-figure:loss_curve")[0]
    left, right = _image_outputs(executed, "report-figure:zeta_left")  # one cell, two figures: in order
    assert left != right
    assert (figures / "zeta_left.png").read_bytes() == left
    assert (figures / "alpha_right.png").read_bytes() == right
    assert not (built["out"] / "figures" / "02_beta").exists()


def test_tagged_items_appear_in_cell_order(built):
    alpha = built["report"].sections[0]
    assert [(item.kind, item.name) for item in alpha.items] == ALPHA_ITEMS
    assert alpha.items[0].markdown == OBSERVATION  # exactly what display(Markdown(...)) showed
    page = (built["out"] / "index.html").read_text()
    positions = [page.index("<strong>converges</strong>")] + [
        page.index(f'src="figures/01_alpha/{name}.png"') for _, name in ALPHA_ITEMS[1:]]
    assert positions == sorted(positions)


def test_harvesting_the_executed_notebook_writes_each_tagged_output(built, tmp_path):
    executed = nbformat.read(built["out"] / "notebooks" / "01_alpha.ipynb", as_version=4)
    items = harvest(executed, "01_alpha.ipynb", "01_alpha", tmp_path)
    assert [(item.kind, item.name) for item in items] == ALPHA_ITEMS
    assert (tmp_path / "text" / "01_alpha" / "observations.md").read_text(encoding="utf-8") == OBSERVATION
    for item in items[1:]:
        assert item.path == f"figures/01_alpha/{item.name}.png"
        assert (tmp_path / item.path).read_bytes() == (built["out"] / item.path).read_bytes()
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "figures/01_alpha/alpha_right.png", "figures/01_alpha/loss_curve.png", "figures/01_alpha/zeta_left.png",
        "text/01_alpha/observations.md"]


def test_metrics_json_is_valid_and_holds_every_headline_number(built):
    metrics = json.loads((built["out"] / "metrics.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(metrics)
    assert metrics["sections"] == {
        "01_alpha": {"test_mse": 0.012345678, "epochs": 20,
                     "sweep": [{"lr": 0.1, "val_mse": 0.5}, {"lr": 0.01, "val_mse": 0.25}]},
        "02_beta": {"accuracy": 0.9312, "wide_sweep": WIDE_SWEEP}}
    assert list(metrics["sections"]["01_alpha"]) == ["test_mse", "epochs", "sweep"]  # as recorded
    assert list(metrics["sections"]["01_alpha"]["sweep"][0]) == ["lr", "val_mse"]
    assert set(metrics["timing"]["notebooks"]) == {"01_alpha", "02_beta"}
    assert all(0 < s <= metrics["timing"]["total_seconds"] for s in metrics["timing"]["notebooks"].values())
    assert metrics["environment"]["python"] == platform.python_version()
    assert metrics["complete"] is True and metrics["deliverables"] == ["q2_ytest.txt"]


def test_progress_names_each_notebook_and_its_time(built):
    log = "\n".join(built["log"])
    for name in ("01_alpha", "02_beta"):
        assert f"start  {name}" in log and f"done   {name} in" in log
    assert all(line.startswith("[") and " s] " in line for line in built["log"])


# ---------------------------------------------------------------------------------------------------
# A failing notebook
# ---------------------------------------------------------------------------------------------------
def test_failing_notebooks_exit_non_zero_name_cell_and_why_and_keep_the_previous_report(built, tmp_path, monkeypatch,
                                                                                       capsys):
    """An exception, a tag without its output and a dead kernel, in three notebooks run at once."""
    out = built["out"]
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    notebooks = notebooks_folder(tmp_path)
    _write_notebook(notebooks / "03_broken.ipynb", nbformat.v4.new_code_cell("x = 1"),
                    nbformat.v4.new_markdown_cell("Now divide."),
                    nbformat.v4.new_code_cell("y = x / 0  # boom"))
    _write_notebook(notebooks / "04_untold.ipynb", nbformat.v4.new_markdown_cell("# Untold"),
                    _tagged('print("a figure was meant to be here")', "report-figure:missing_plot"))
    _write_notebook(notebooks / "05_crash.ipynb", nbformat.v4.new_code_cell("x = 1"),
                    nbformat.v4.new_code_cell("import os  # a segfault, the OOM killer...\nos._exit(1)"))
    monkeypatch.setattr(builder, "NOTEBOOKS_DIR", notebooks)
    monkeypatch.setattr(builder, "REPORT_DIR", out)

    assert builder.main(["--jobs", "3"]) == 1

    error = capsys.readouterr().err
    assert "03_broken.ipynb" in error and "cell 2" in error
    assert "ZeroDivisionError" in error and "division by zero" in error
    assert "04_untold.ipynb: cell 1 is tagged 'report-figure:missing_plot' but has no image/png output\n" in error
    assert ("05_crash.ipynb: cell 1 ('import os  # a segfault, the OOM killer...') raised DeadKernelError: the "
            "kernel died while running this cell") in error
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # staging folder removed


def test_headline_numbers_needing_a_variable_the_notebook_lacks_fail_naming_cell_and_variable(tmp_path):
    """The function behind a report-metrics tag runs in the kernel right after its cell; a variable it needs
    that the notebook has not defined by then is the build's error, naming the cell, the tag and the name."""
    from tools.report.execute import run_one
    notebooks, headline_numbers = notebooks_folder(tmp_path), tmp_path / "headline_numbers"
    headline_numbers.mkdir()
    (headline_numbers / "06_numbers.py").write_text("def loss(final_loss):\n    return {'loss': final_loss}\n")
    notebook = _write_notebook(notebooks / "06_numbers.ipynb", _tagged("losses = [0.5, 0.25]", "report-metrics:loss"),
                               nbformat.v4.new_code_cell("final_loss = losses[-1]"))
    staging = tmp_path / "staging"
    staging.mkdir()
    result = run_one(notebook, staging, tmp_path / "run.log", headline_numbers)
    assert not result["ok"] and result["cell_index"] == 0 and result["error_name"] == "NameError"
    assert "needs the notebook variable(s) final_loss" in result["message"]
    assert "'report-metrics:loss'" in result["message"] and "06_numbers.ipynb: cell 0" in result["message"]
    assert not (staging / "metrics").exists()


def test_a_follow_up_whose_kernel_dies_fails_the_cell_within_its_timeout(tmp_path):
    """Headline numbers are read by code sent after the tagged cell; a kernel that dies there (or hangs) gives
    an error naming the cell after ``follow_up_timeout_s``, not a build that waits for the cell timeout."""
    from tools.notebook_runner import NotebookExecutionError, execute_notebook
    notebook = _write_notebook(notebooks_folder(tmp_path) / "07_dies.ipynb", _tagged("x = 1", "report-metrics:x"),
                               nbformat.v4.new_code_cell("y = 2"))
    with pytest.raises(NotebookExecutionError) as failure:
        execute_notebook(notebook, follow_up=lambda cell: "import os; os._exit(1)" if cell.source == "x = 1" else None,
                         follow_up_timeout_s=3)
    assert failure.value.cell_index == 0 and failure.value.error_name == "TimeoutError"
    assert "no answer within 3 s (the kernel died or hangs)" in str(failure.value)


def test_a_partial_build_keeps_the_other_sections_of_the_previous_report(built, tmp_path, monkeypatch):
    import shutil
    # printing is the built report's to test; a stand-in saves this build the seconds of a browser
    monkeypatch.setattr(builder, "print_pdf", lambda index, pdf, figures: pdf.write_bytes(b"%PDF") and {
        "figures": [], "clipped_tables": [], "raw_tex": [], "smallest_figure_text_pt": None})
    out = tmp_path / "out"
    shutil.copytree(built["out"], out)
    before = _files_of(out)
    previous = json.loads((out / "metrics.json").read_text())

    report = builder.build_report(built["notebooks"], out, only=["02"], log=lambda line: None,
                                  headline_numbers=built["headline_numbers"])

    after = _files_of(out)
    kept = [name for name in before if name.startswith(("figures/01_alpha/", "notebooks/01_alpha."))]
    assert kept and all(after[name] == before[name] for name in kept + ["q2_ytest.txt", "README.md"])
    metrics = json.loads(after["metrics.json"])
    assert metrics["sections"] == previous["sections"] and metrics["complete"] is False
    assert metrics["timing"]["notebooks"]["01_alpha"] == previous["timing"]["notebooks"]["01_alpha"]
    assert metrics["timing"]["notebooks"]["02_beta"] != previous["timing"]["notebooks"]["02_beta"]  # ran again
    assert [(i.kind, i.name) for i in report.sections[0].items] == ALPHA_ITEMS
    page = after["index.html"].decode()
    assert "Alpha: a tiny notebook" in page and "<strong>converges</strong>" in page
    assert "kept from the previous report (not run in this build): 01_alpha" in page


def _files_of(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_schema_rejects_metrics_missing_required_fields(built):
    metrics = json.loads((built["out"] / "metrics.json").read_text())
    validate_metrics(metrics)
    for path in (["timing"], ["environment", "torch"], ["timing", "notebooks"], ["generated_at"]):
        broken = json.loads(json.dumps(metrics))
        parent = broken
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        with pytest.raises(ValueError, match=f"'{path[-1]}' is a required property"):
            validate_metrics(broken)
    broken = json.loads(json.dumps(metrics))
    broken["timing"]["notebooks"]["01_alpha"] = -1.0
    with pytest.raises(ValueError, match="timing/notebooks/01_alpha"):
        validate_metrics(broken)
    session = json.loads(json.dumps(metrics))
    session["timing"]["notebooks"]["00a_chain_rule"] = 1.0  # a session of notebook 00 is a notebook name
    validate_metrics(session)
    session["timing"]["notebooks"]["00ab_chain_rule"] = 1.0
    with pytest.raises(ValueError, match="00ab_chain_rule"):
        validate_metrics(session)


# ---------------------------------------------------------------------------------------------------
# Fast parts: choosing notebooks, formatting, tables, Markdown, replacing the report
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def three_notebooks(tmp_path):
    for name in ("02_b", "00_a", "10_c", "notes"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    return tmp_path


def test_discover_orders_notebooks_and_only_selects_by_number_name_or_path(three_notebooks):
    names = lambda paths: [p.stem for p in paths]  # noqa: E731
    assert names(builder.discover_notebooks(three_notebooks)) == ["00_a", "02_b", "10_c"]
    assert names(builder.discover_notebooks(three_notebooks, ["10", "00_a"])) == ["00_a", "10_c"]
    assert names(builder.discover_notebooks(three_notebooks, ["notebooks/02_b.ipynb"])) == ["02_b"]
    with pytest.raises(builder.ReportBuildError, match="'07' matches no notebook; available: 00_a, 02_b, 10_c"):
        builder.discover_notebooks(three_notebooks, ["07"])


def test_discover_finds_the_sessions_of_one_notebook_and_only_selects_them_together_or_alone(tmp_path):
    for name in ("01_x", "00b_autograd", "00a_chain", "00c_graph", "0a_stray"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    names = lambda paths: [p.stem for p in paths]  # noqa: E731
    assert names(builder.discover_notebooks(tmp_path)) == ["00a_chain", "00b_autograd", "00c_graph", "01_x"]
    assert names(builder.discover_notebooks(tmp_path, ["00"])) == ["00a_chain", "00b_autograd", "00c_graph"]
    assert names(builder.discover_notebooks(tmp_path, ["00b"])) == ["00b_autograd"]
    with pytest.raises(builder.ReportBuildError, match="'0' matches no notebook"):
        builder.discover_notebooks(tmp_path, ["0"])


def test_longest_first_starts_the_slowest_notebooks_first(three_notebooks, tmp_path):
    notebooks = builder.discover_notebooks(three_notebooks)
    previous = tmp_path / "metrics.json"
    assert builder.longest_first(notebooks, previous) == notebooks  # no previous build
    previous.write_text(json.dumps({"timing": {"notebooks": {"00_a": 5.0, "02_b": 40.0}}}))
    assert [p.stem for p in builder.longest_first(notebooks, previous)] == ["10_c", "02_b", "00_a"]
    previous.write_text("{not json")
    assert builder.longest_first(notebooks, previous) == notebooks


def test_empty_notebook_folder_and_bad_jobs_are_clear_errors(tmp_path):
    with pytest.raises(builder.ReportBuildError, match="no notebooks matching"):
        builder.build_report(tmp_path, tmp_path / "out")
    with pytest.raises(builder.ReportBuildError, match="--jobs must be at least 1, got 0"):
        builder.build_report(tmp_path, tmp_path / "out", jobs=0)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value, text", [
    (0.012345678, "0.01235"), (1e-7, "1\u00d710\u207b\u2077"), (123456.0, "1.235\u00d710\u2075"),
    (0.99996, "1.000"), (1548.5958, "1549"), (99.996, "100.0"), (1.0, "1"), (20, "20"), (True, "yes"), (None, "\u2014"), ("relu", "relu"), ([1, 2.5], "[1, 2.5]"),
])
def test_format_value(value, text):
    assert format_value(value) == text


def test_headline_tables_show_short_lists_inside_records_and_deeper_values_as_json():
    tables = headline_tables({"equality": {"sgd": {"losses": [0.5, 0.25], "identical": True}},
                              "deep": {"a": {"b": {"c": 1}}}})
    singles, equality = tables
    assert equality.header == ["", "losses", "identical"]
    assert equality.rows == [["sgd", "[0.5, 0.25]", "yes"]]
    assert singles.rows == [["deep", '{"a": {"b": {"c": 1}}}']]


def test_headline_tables_turn_records_and_matrices_into_tables():
    tables = headline_tables({"test_mse": 0.5, "sweep": [{"lr": 0.1, "acc": 0.9}, {"lr": 0.01, "wd": 0}],
                              "confusion": [[9, 1], [2, 8]], "per_class": {"cat": 0.93}})
    singles, sweep, confusion, per_class = tables  # in the order recorded
    assert (singles.title, singles.rows) == (None, [["test mse", "0.5"]])
    assert (sweep.title, sweep.header) == ("sweep", ["lr", "acc", "wd"])
    assert sweep.rows == [["0.1", "0.9", "\u2014"], ["0.01", "\u2014", "0"]]
    assert sweep.numeric == [True, True, True]
    assert confusion.header == ["", "0", "1"] and confusion.rows == [["0", "9", "1"], ["1", "2", "8"]]
    assert per_class.rows == [["cat", "0.93"]]


def test_text_from_the_notebooks_is_shown_as_it_is_in_the_summary_markdown():
    assert escape_markdown("a|b $5 *x*") == "a\\|b \\$5 \\*x\\*"  # no new cell, formula or emphasis


def test_a_deliverable_may_not_take_a_name_the_report_uses(tmp_path):
    (tmp_path / "index.html").write_text("mine")
    with pytest.raises(ValueError, match=r"deliverable\(s\) \['index.html'\]"):
        collect(tmp_path, [], {"index.html"}, tmp_path, 1.0, 1, True)


def test_replace_report_swaps_generated_entries_and_keeps_readme(tmp_path):
    out, staging = tmp_path / "report", tmp_path / "report" / ".staging-1"
    (out / "notebooks").mkdir(parents=True)
    (out / "README.md").write_text("kept")
    (out / "index.html").write_text("old")
    (out / "stale.txt").write_text("from an older build")
    (staging / "metrics").mkdir(parents=True)  # intermediate: not published
    (staging / "index.html").write_text("new")
    (staging / "report.pdf").write_text("%PDF")
    publish.replace_report(staging, out)
    assert sorted(p.name for p in out.iterdir()) == [".staging-1", "README.md", "index.html", "report.pdf"]
    assert (out / "index.html").read_text() == "new" and (out / "README.md").read_text() == "kept"


def test_collect_keeps_the_harvest_order_whatever_the_files_times(tmp_path):
    import os
    figure, note = tmp_path / "figures" / "01_a" / "zeta.png", tmp_path / "text" / "01_a" / "alpha.md"
    for path, age in ((figure, 2), (note, 1)):  # written in the opposite order to the harvest's
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
        os.utime(path, ns=(10**18 + age, 10**18 + age))
    harvested = [Item("figure", "zeta", path="figures/01_a/zeta.png"), Item("text", "alpha", markdown="x")]
    notebook = _write_notebook(tmp_path / "01_a.ipynb")
    report = collect(tmp_path, [NotebookRun(notebook, "A", 1.0, harvested)], set(), tmp_path, 2.0, 1, True)
    assert report.sections[0].items == harvested
    assert not report.warnings


def test_collect_keeps_metrics_of_a_section_that_matches_no_notebook(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "09_elsewhere.json").write_text('{"loss": 0.5}')
    notebook = _write_notebook(tmp_path / "01_a.ipynb")
    report = collect(tmp_path, [NotebookRun(notebook, "A", 1.0)], set(), tmp_path, 2.0, 1, True)
    assert [s.name for s in report.sections] == ["01_a", "09_elsewhere"]
    assert report.sections[1].metrics == {"loss": 0.5} and report.sections[1].items == []
    assert "'09_elsewhere' matches no notebook" in report.warnings[0]


def test_long_lists_keep_their_first_and_last_values():
    epochs = [0.5, 0.6, 0.7, 0.8, 0.9]
    assert format_value(epochs, max_items=4) == "[0.5, 0.6, 0.7, \u2026, 0.9] (5 values)"
    assert format_value(epochs, max_items=5) == "[0.5, 0.6, 0.7, 0.8, 0.9]"
    sweep = headline_tables({"sweep": [{"acc_per_epoch": list(range(10)), "short": [1, 2, 3]}]})[0]
    # inside a table's cell only the first and last values, joined by no-break spaces: at most two lines
    assert sweep.rows == [["[0\u00a0\u2026\u00a09] (10\u00a0values)", "[1, 2, 3]"]]
    inline = headline_tables({"epochs": list(range(20))})[0]  # a headline value keeps more of its list
    assert inline.rows == [["epochs", "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, \u2026, 19] (20 values)"]]


def test_replace_report_rolls_back_when_a_rename_fails(tmp_path, monkeypatch):
    out, staging = tmp_path / "report", tmp_path / "report" / ".staging-1"
    staging.mkdir(parents=True)
    (out / "index.html").write_text("old")
    (staging / "index.html").write_text("new")
    (staging / "report.pdf").write_text("%PDF")
    rename = type(out).rename

    def failing_for_the_new_index(self, target):
        if self.parent == staging and self.name == "index.html":  # published last
            raise OSError("disk full")
        return rename(self, target)
    monkeypatch.setattr(type(out), "rename", failing_for_the_new_index)
    with pytest.raises(OSError, match="disk full"):
        publish.replace_report(staging, out)
    assert sorted(p.name for p in out.iterdir()) == [".staging-1", "index.html"]
    assert (out / "index.html").read_text() == "old"
    assert sorted(p.name for p in staging.iterdir()) == ["index.html", "report.pdf"]


def test_the_print_checks_catch_a_clipped_table_raw_tex_and_small_figure_text(tmp_path):
    """The checks behind metrics.json's "print" on a page that gets each of them wrong (no MathJax, a table
    that cannot wrap in a narrow box, a figure whose 8 pt text is shrunk) and right (a wrapping table)."""
    (tmp_path / "figure.png").write_bytes(_png(400, 100))
    (tmp_path / "bad.html").write_text(
        '<p>An L2 penalty $\\frac{\\lambda}{2}$.</p><div style="width:300px">'
        f'<table style="white-space:nowrap"><tr><td>{"wide " * 60}</td></tr></table>'
        f'<table><tr><td>{"wraps " * 60}</td></tr></table></div>'
        '<figure><img src="figure.png" style="width:200px"></figure>')
    printed = print_pdf(tmp_path / "bad.html", tmp_path / "bad.pdf", {"figure.png": {"smallest_text_pt": 8, "dpi": 72}})
    assert len(printed["clipped_tables"]) == 1 and printed["clipped_tables"][0].startswith("wide wide")
    assert printed["raw_tex"] == ["An L2 penalty $\\frac{\\lambda}{2}$"]
    # 8 pt text in a figure 400 pt wide (400 px at 72 dpi) printed 150 pt wide (200 CSS px): 3 pt
    assert printed["smallest_figure_text_pt"] == pytest.approx(3.0)
    assert (tmp_path / "bad.pdf").read_bytes().startswith(b"%PDF")


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()
