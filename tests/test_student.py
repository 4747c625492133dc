import ast
import subprocess
import sys

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
    source_files = [p for p in (PROJECT_ROOT / "helpers").rglob("*.py") if "__pycache__" not in p.parts]
    assert sorted(p.relative_to(tmp_path / "student") for p in helpers_files) == sorted(
        p.relative_to(PROJECT_ROOT) for p in source_files)  # sub-packages included, same layout
    assert (tmp_path / "student" / "helpers" / "runtime" / "report_hooks.py").is_file()
    assert not (tmp_path / "student" / "tools").exists()  # the build tooling is not the students'
    for path in helpers_files:
        text = path.read_text()
        ast.parse(text, filename=str(path))
        assert not any(line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION") for line in text.splitlines())
    for path in (p for p in written if p.suffix == ".ipynb"):
        notebook = nbformat.read(path, as_version=4)
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    stripped = (tmp_path / "student" / "helpers" / "spiral.py").read_text()
    assert "raise NotImplementedError()" in stripped and "sin_2u" not in stripped


def test_every_module_of_the_student_helpers_imports(tmp_path):
    """A student copy is a complete package: stubs raise only when called, never on import."""
    build(tmp_path / "student")
    script = ("import importlib, pkgutil, helpers\n"
              "assert helpers.__file__.startswith(%r), helpers.__file__\n"
              "for module in pkgutil.walk_packages(helpers.__path__, 'helpers.'):\n"
              "    importlib.import_module(module.name)\n" % str(tmp_path / "student"))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path / "student",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_folder_holding_someone_elses_files_is_refused_and_left_alone(tmp_path):
    from tools.editions import ForeignFolderError
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(ForeignFolderError, match="not a student edition"):
        build(foreign)
    assert [p.name for p in foreign.iterdir()] == ["mine.txt"] and (foreign / "mine.txt").read_text() == "keep me"
    edition = tmp_path / "edition"
    first = build(edition)
    assert build(edition) == first  # its own edition is replaced
    (tmp_path / "empty").mkdir()
    assert build(tmp_path / "empty")
