"""The report's headline numbers against the notebooks they come from, without running them.

A cell tagged ``report-metrics:<name>`` has a report build call the function ``<name>`` of
``tools/report/headline_numbers/<notebook>.py`` on the notebook's variables right after that cell
(``tools/report/execute.py``). These checks catch the drift a notebook edit can cause before a report build
meets it: a tag without its function, a function no cell names, a parameter naming a variable the
notebook has not defined by the tagged cell (a renamed or moved variable).
"""
import ast
import inspect
import runpy

import nbformat
import pytest

from helpers.data.paths import PROJECT_ROOT
from tools.report.build import NOTEBOOK_GLOB
from tools.report.execute import HEADLINE_NUMBERS_DIR, metrics_tags

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob(NOTEBOOK_GLOB))
_NEW_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
               ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class _GlobalNames(ast.NodeVisitor):
    """The names a cell binds in the notebook's namespace: assignments, loop and ``with`` targets, imports,
    ``def`` and ``class`` names, including inside ``if``/``for``/``try`` blocks but not in inner scopes."""

    def __init__(self):
        self.names = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_alias(self, node):
        self.names.add((node.asname or node.name).split(".")[0])

    def generic_visit(self, node):
        if isinstance(node, _NEW_SCOPES):
            if not isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                self.names.add(node.name)
            return
        super().generic_visit(node)


def bound_names(source: str) -> set[str]:
    visitor = _GlobalNames()
    visitor.visit(ast.parse(source))
    return visitor.names


def headline_functions(notebook) -> dict:
    path = HEADLINE_NUMBERS_DIR / f"{notebook.stem}.py"
    if not path.exists():
        return {}
    return {name: f for name, f in runpy.run_path(str(path)).items()
            if inspect.isfunction(f) and f.__module__ == "<run_path>"}


def test_every_headline_numbers_file_belongs_to_a_notebook():
    files = {p.stem for p in HEADLINE_NUMBERS_DIR.glob("*.py")}
    assert files <= {nb.stem for nb in NOTEBOOKS}, files - {nb.stem for nb in NOTEBOOKS}
    assert files, "no headline numbers at all: the report would show none"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_tag_has_its_function_and_each_function_its_one_tag(notebook):
    cells = nbformat.read(notebook, as_version=4).cells
    tags = [name for cell in cells for name in metrics_tags(cell)]
    assert len(tags) == len(set(tags)), f"a report-metrics name used twice: {tags}"
    assert set(tags) == set(headline_functions(notebook)), \
        f"tags without a function: {set(tags) - set(headline_functions(notebook))}; functions no cell tags: " \
        f"{set(headline_functions(notebook)) - set(tags)}"
    assert not any(name.startswith("report-hooks") for cell in cells for name in cell.metadata.get("tags", []))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_variables_each_function_takes_exist_by_its_tagged_cell(notebook):
    functions = headline_functions(notebook)
    defined = set()
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        defined |= bound_names(cell.source)
        for name in metrics_tags(cell):
            needed = [p.name for p in inspect.signature(functions[name]).parameters.values()
                      if p.default is p.empty]
            assert set(needed) <= defined, f"cell {index} (report-metrics:{name}) needs {set(needed) - defined}"


def test_the_notebook_reading_sees_what_a_cell_binds_and_not_its_inner_scopes():
    source = ("from a.b import c as d\nimport e.f\nx, (y, z) = 1, (2, 3)\nfor i in range(2):\n    w = i\n"
              "def g(p):\n    q = p\n    return q\nif True:\n    with open('f') as h:\n        pass\n"
              "squares = [k * k for k in range(3)]\nclass K:\n    member = 1\n")
    assert bound_names(source) == {"d", "e", "x", "y", "z", "i", "w", "g", "h", "squares", "K"}
