"""No solution leaks into the student edition: not in code, Markdown, outputs, docstrings or printed source.

Every solution block (helpers and notebook cells) and every Markdown answer cell of the instructor edition is
normalised (comments dropped, all whitespace removed) and searched for in the whole student edition, each
file normalised the same way (a notebook as its cells' sources and outputs).
"""
import io
import re
import tokenize

import nbformat
import pytest

from helpers.data.paths import PROJECT_ROOT
from tools.editions import ANSWER_TAG, BEGIN, END, student_files

MIN_LENGTH = 8  # a normalised solution shorter than this ("returnx") is too short to call a leak


def without_comments(source: str) -> str:
    """Python source without its comments (tokenize: a ``#`` inside a string stays)."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return re.sub(r"(?m)#.*$", "", source)


def normalised(text: str) -> str:
    return re.sub(r"\s+", "", text)


def solution_blocks(source: str) -> list[str]:
    blocks, current = [], None
    for line in source.splitlines():
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END:
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def instructor_solutions() -> dict[str, str]:
    """Where -> normalised text, for every solution block and Markdown answer cell."""
    found = {}
    for path in sorted((PROJECT_ROOT / "helpers").rglob("*.py")):
        for number, block in enumerate(solution_blocks(path.read_text())):
            found[f"{path.relative_to(PROJECT_ROOT)} block {number}"] = normalised(without_comments(_dedented(block)))
    for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code":
                for number, block in enumerate(solution_blocks(cell.source)):
                    found[f"{path.name} cell {index} block {number}"] = normalised(without_comments(_dedented(block)))
            elif ANSWER_TAG in cell.metadata.get("tags", []):
                found[f"{path.name} answer cell {index}"] = normalised(cell.source)
    return {where: text for where, text in found.items() if len(text) >= MIN_LENGTH}


def _dedented(block: str) -> str:
    import textwrap
    return textwrap.dedent(block)


def student_corpus() -> dict[str, str]:
    """Every file of the student edition, normalised; notebooks as their cells' sources and outputs."""
    corpus = {}
    for name, content in student_files().items():
        if name.endswith(".py"):
            corpus[name] = normalised(without_comments(content.decode())) + "\n" + normalised(content.decode())
        elif name.endswith(".ipynb"):
            notebook = nbformat.reads(content.decode(), as_version=4)
            parts = [cell.source for cell in notebook.cells]
            parts += [str(output) for cell in notebook.cells for output in cell.get("outputs", [])]
            corpus[name] = "\n".join(normalised(part) for part in parts)
        elif name.endswith((".md", ".txt")):
            corpus[name] = normalised(content.decode())
    return corpus


SOLUTIONS = instructor_solutions()


@pytest.fixture(scope="module")
def corpus():
    return student_corpus()


def test_there_are_solutions_to_protect():
    assert len(SOLUTIONS) >= 20


@pytest.mark.parametrize("where", sorted(SOLUTIONS))
def test_a_solution_appears_nowhere_in_the_student_edition(corpus, where):
    leaks = [name for name, text in corpus.items() if SOLUTIONS[where] in text]
    assert not leaks, f"the solution of {where} is in the student edition: {leaks}"


# ---- exercise 0.3's reverse sweep is only in its own solution blocks ----------------------------------------

SWEEP_EXERCISE_FILE = "helpers/scalar_autodiff.py"  # topological_order and Value.backward (exercise 0.3)


def _reverse_sweeps(source: str) -> list[int]:
    """Lines of ``for ... in reversed(...)`` loops that propagate something backwards through the graph: the
    body reads ``.operands`` (pushes to the operands) or stores into a table (``gradient[id(node)] = ...``)."""
    import ast
    found = []
    for loop in ast.walk(ast.parse(source)):
        if not (isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call)
                and getattr(loop.iter.func, "id", None) == "reversed"):
            continue
        body = [node for statement in loop.body for node in ast.walk(statement)]
        pushes = any(isinstance(node, ast.Attribute) and node.attr == "operands" for node in body)
        stores = any(isinstance(node, (ast.Assign, ast.AugAssign)) and any(
            isinstance(target, ast.Subscript) for target in getattr(node, "targets", [getattr(node, "target", None)]))
            for node in body)
        if pushes or stores:
            found.append(loop.lineno)
    return found


def test_no_reverse_sweep_of_the_scalar_graph_outside_exercise_0_3():
    """The walkthrough and the chain-rule table step through the student's own ``Value.backward`` (or its
    labelled stand-in): no other module of the student edition holds a reverse sweep to copy."""
    sweeps = {name: lines for name, content in student_files().items()
              if name.startswith("helpers/") and name.endswith(".py") and name != SWEEP_EXERCISE_FILE
              and "scalar_autodiff" in content.decode()
              and (lines := _reverse_sweeps(content.decode()))}
    assert not sweeps, f"a reverse sweep of the scalar engine's graph in the student edition: {sweeps}"
