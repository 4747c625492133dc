"""A student's CS475 tables (exercise 0.12) solved by the instructor's code at that student's own point and
written down as literal numbers, the way a student fills a table by hand: the cells such a submission holds.

Copying one student's numbers into another's notebook is then exactly the cheating per-student variants exist
to catch (tests/test_variants.py, and the ``bugs-a`` submission of tests/test_grading.py)."""
from __future__ import annotations

import math

import nbformat

from helpers.checks.nb00_graphs import CS475_TABLES
from helpers.data.paths import PROJECT_ROOT
from helpers.data.question_points import cs475_point
from helpers.runtime.variant import as_student

NOTEBOOK = PROJECT_ROOT / "notebooks" / "00a_chain_rule_by_table.ipynb"


def instructor_tables() -> dict:
    """The instructor's table functions, run from the notebook's solution cells (the code, not the stand-ins)."""
    namespace = {"math": math, "__name__": "__main__"}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type == "code" and any(f"def {name}(" in cell.source for name in CS475_TABLES):
            exec(compile(cell.source, str(NOTEBOOK), "exec"), namespace)
    return {name: namespace[name] for name in CS475_TABLES}


def student_tables(student: str | None) -> dict[str, tuple[dict, dict]]:
    """{function: (``student``'s point, the instructor's table at it)} for each CS475 table of 0.12."""
    functions, tables = instructor_tables(), {}
    with as_student(student):
        for name, (task, _, _) in CS475_TABLES.items():
            point = cs475_point(task)
            tables[name] = point, functions[name](point)
    return tables


def literal_tables(student: str | None) -> dict[str, str]:
    """{function: the source of a solution cell returning ``student``'s table as literal numbers}."""
    return {name: f"def {name}(point):\n    ### BEGIN SOLUTION\n    return {table!r}\n    ### END SOLUTION\n"
            for name, (_, table) in student_tables(student).items()}


def table_entries(student: str | None) -> set[str]:
    """``student``'s 0.12 table entries as a notebook prints numbers (4 significant digits), those that say
    something: three digits or more, and not one of the point's own coordinates (which the notebook shows)."""
    from helpers.scalar_autodiff import format_number
    entries = set()
    for point, table in student_tables(student).values():
        coordinates = {format_number(v).lstrip("-") for v in point.values()}
        for value, local, gradient in table.values():
            for number in (value, gradient, *local.values()):
                text = format_number(number).lstrip("-")
                if sum(c.isdigit() for c in text) >= 3 and text not in coordinates:
                    entries.add(text)
    return entries


def with_literal_tables(notebook: nbformat.NotebookNode, student: str | None) -> nbformat.NotebookNode:
    """``notebook`` (notebook 00) with each table's solution cell replaced by ``student``'s literal numbers."""
    cells = literal_tables(student)
    for cell in notebook.cells:
        for name, source in cells.items():
            if cell.cell_type == "code" and f"def {name}(" in cell.source:
                cell.source = source
    return notebook
