import ast

import nbformat
import pytest

from helpers.data.paths import PROJECT_ROOT
from tools.editions import build, strip_solutions

SOURCE = '''def step(x, lr):
    """Docstring stays."""
    ### BEGIN SOLUTION
    grad = 2 * x
    return x - lr * grad
    ### END SOLUTION
'''


def test_strip_solutions_replaces_the_block_by_a_stub_at_the_same_indent():
    student = strip_solutions(SOURCE)
    assert "grad = 2 * x" not in student and "Docstring stays." in student
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()\n" in student
    namespace = {}
    exec(compile(student, "<student>", "exec"), namespace)
    with pytest.raises(NotImplementedError):
        namespace["step"](1.0, 0.1)


@pytest.mark.parametrize("broken, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "nested"),
])
def test_strip_solutions_rejects_unbalanced_markers(broken, message):
    with pytest.raises(ValueError, match=message):
        strip_solutions(broken)


def test_student_version_of_the_project_is_valid_python_without_solutions(tmp_path):
    written = build(tmp_path / "student")
    helpers_files = [p for p in written if p.suffix == ".py"]
    assert len(helpers_files) == len(list((PROJECT_ROOT / "helpers").glob("*.py")))
    for path in helpers_files:
        text = path.read_text()
        ast.parse(text, filename=str(path))
        assert not any(line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION") for line in text.splitlines())
    for path in (p for p in written if p.suffix == ".ipynb"):
        notebook = nbformat.read(path, as_version=4)
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    stripped = (tmp_path / "student" / "helpers" / "spiral.py").read_text()
    assert "raise NotImplementedError()" in stripped and "sin_2u" not in stripped
