"""Notebook 00 poses every question of CS-587 and CS475 (and NYU 1.4 a-c) as a numbered question followed
by its answer, and its closing table says where each one is: numbers consecutive, each answered, each listed."""
import json
import re

from helpers.data.paths import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "00_computational_graphs.ipynb"
QUESTION = re.compile(r"\*\*Question (\d+)\*\* \(([^)]*)\)")
TASKS = {"CS475": {"task 0", "task 1", "task 2", "task 3", "task 4", "task 5", "task 6"},
         "CS-587 A": {"results", "discussion 1", "discussion 2", "discussion 3", "discussion 4"},
         "NYU": {"1.4 a", "1.4 b", "1.4 c"}}


def markdown_cells():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def test_questions_are_numbered_consecutively_and_each_is_answered_after_it_is_posed():
    text = "\n".join(markdown_cells())
    found = [(int(m.group(1)), m.start()) for m in QUESTION.finditer(text)]
    assert [number for number, _ in found] == list(range(1, len(found) + 1))
    for (number, start), (_, following) in zip(found, found[1:] + [(None, len(text))]):
        assert "**Answer.**" in text[start:following], f"question {number} has no answer before the next question"


def test_every_task_of_the_handouts_has_a_question():
    sources = " ; ".join(m.group(2) for m in QUESTION.finditer("\n".join(markdown_cells())))
    for handout, tasks in TASKS.items():
        for task in tasks:
            assert re.search(rf"{re.escape(handout)}[^;]*\b{re.escape(task)}\b", sources), (handout, task)
    assert len(re.findall(r"CS-587 B", sources)) == 4  # sin(x)/x, ax² + bxy + cy², ln(1 + eˣ), second order


def test_the_closing_table_lists_every_question_once():
    table = next(cell for cell in markdown_cells() if cell.startswith("## Where each question"))
    listed = [int(n) for n in re.findall(r"question (\d+) \|", table)]
    total = len(QUESTION.findall("\n".join(markdown_cells())))
    assert sorted(listed) == list(range(1, total + 1))
