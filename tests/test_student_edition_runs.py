"""The student edition runs top to bottom: a fresh workspace (``python -m tools.editions``), every notebook
executed headless in a kernel started in the workspace, as JupyterLab would. No cell fails; each check cell
says its exercise is not done yet (it runs the stubs in the sandbox), and the cells that needed an unfinished
exercise say they used a labelled reference result; no sentence of the instructor edition's generated observations
(``tests/leak_sentences.py``) is among the outputs. The CIFAR-10 tensors come from the project's caches as a
class's read-only shared cache (``BACKPROP_LAB_SHARED_CACHE``, as on a hub), not built again in the workspace
(building its own is tested in ``tests/test_student_workspace.py``).

(Autograding never runs these demonstration cells: the grading kernel runs check cells only, see
``tests/test_grading.py``.)
"""
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.checks.exercises import all_exercises
from helpers.data.paths import PROJECT_ROOT, SHARED_CACHE_ENV, cache_dir
from helpers.data.question_points import cs475_point
from helpers.runtime.variant import HUB_USER_ENV, as_student
from tests.leak_sentences import leaked
from tests.variant_keys import table_entries
from tools.workspace import update_workspace

EXERCISES = all_exercises()
STEMS = sorted(path.stem for path in (PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edition") / "student"
    update_workspace(folder, PROJECT_ROOT)
    return folder


def printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


def shown(cell) -> str:
    """Everything a cell printed or displayed as text (stream, Markdown, plain text)."""
    data = [output.get("data", {}) for output in cell.get("outputs", [])]
    return printed(cell) + "".join(d.get("text/markdown", "") + d.get("text/plain", "") for d in data)


@pytest.mark.parametrize("stem", STEMS)
def test_the_student_edition_runs_to_the_end_without_an_error(workspace, stem, monkeypatch):
    monkeypatch.setenv("BACKPROP_LAB_HEADLESS", "1")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv(SHARED_CACHE_ENV, str(cache_dir()))
    monkeypatch.setenv(HUB_USER_ENV, "alice")  # as on a hub: notebook 00 shows alice's own numbers
    path = next(workspace.rglob(f"{stem}.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [(cell.source[:80], out.get("ename"), out.get("evalue")) for cell in code for out in cell.outputs
              if out.get("output_type") == "error"]
    assert errors == []
    checks = [cell for cell in code if any(tag.startswith("check:") for tag in cell.metadata.get("tags", []))]
    assert len(checks) == sum(e.notebook == stem for e in EXERCISES.values())
    assert all("not done yet" in printed(cell) for cell in checks), [printed(cell) for cell in checks]
    assert "[not done yet]" in "".join(printed(cell) for cell in code)
    observations = leaked(stem, "\n".join(shown(cell) for cell in code))
    assert not observations, "the instructor edition's observations in the student edition:\n" + "\n".join(observations)
    assert os.environ.get("NBGRADER_EXECUTION") is None
    if stem == "00a_chain_rule_by_table":  # the CS475 tables are the student's: steps and ?, never filled
        tables = [printed(cell) for cell in code if "print(cs475_table(" in cell.source]
        with as_student("alice"):
            first = ", ".join(f"{k} = {v:g}" for k, v in cs475_point("task1").items())
        assert len(tables) == 5 and f"at your point {first})" in tables[0], tables[0]
        assert all("fill in every ?" in t and "backward pass" not in t and "expansion" not in t for t in tables)
        # nor does any other cell print an entry of them (a reference standing in, the engine, torch autograd)
        everything = "\n".join(shown(cell) for cell in code)
        entries = table_entries("alice")
        assert len(entries) > 20
        found = [e for e in entries if re.search(rf"(?<![\d.]){re.escape(e)}(?!\d)", everything)]
        assert not found, f"alice's 0.12 table entries in the student edition's outputs: {found}"
    shared = {path.name for path in cache_dir().glob("*.pt")}
    assert not shared & {path.name for path in (workspace / "data" / "cache").glob("*.pt")}, \
        "the workspace built a cache the class's shared cache holds"
