"""Student editions: solution blocks become stubs that say which function, in which file, is not done yet."""
import ast
import subprocess
import sys

import nbformat
import pytest

from helpers.data.paths import PROJECT_ROOT
from helpers.runtime.exercises import ExerciseNotDone
from tools.editions import enclosing_function, strip_solutions, student_files
from tools.workspace import update_workspace

SOURCE = '''def step(x, lr):
    """Docstring stays."""
    ### BEGIN SOLUTION
    grad = 2 * x
    return x - lr * grad
    ### END SOLUTION
'''


def run_student(source: str, call: str):
    """Execute a stripped ``source``, then ``call`` in its namespace; returns the exception raised."""
    namespace = {}
    exec(compile(strip_solutions(source, "lesson.py", "helpers/lesson.py"), "<student>", "exec"), namespace)
    with pytest.raises(ExerciseNotDone) as raised:
        eval(call, namespace)
    return raised.value


def test_strip_solutions_replaces_the_block_by_a_stub_at_the_same_indent():
    student = strip_solutions(SOURCE, "lesson.py", "helpers/lesson.py")
    assert "grad = 2 * x" not in student and "Docstring stays." in student
    assert student.splitlines()[2] == "    # YOUR CODE HERE"
    assert all(line.startswith("    ") for line in student.splitlines()[1:])


def test_a_stub_says_not_done_yet_naming_the_function_and_the_file():
    error = run_student(SOURCE, "step(1.0, 0.1)")
    assert isinstance(error, NotImplementedError)  # code that catches the bare one keeps working
    assert str(error).startswith("not done yet: implement `step` in helpers/lesson.py")
    assert (error.function, error.path, error.exercise) == ("step", "helpers/lesson.py", "lesson.step")


def test_the_exception_names_the_exercise_file_and_function_it_is_given():
    error = ExerciseNotDone("backpropagation", "helpers/mynet.py", exercise="3.2")
    assert str(error).startswith("not done yet: implement `backpropagation` in helpers/mynet.py (exercise 3.2")


METHOD = '''class Linear:
    def backward(
        self,
        grad,
    ):
        def helper():
            ### BEGIN SOLUTION
            return grad
            ### END SOLUTION
        ### BEGIN SOLUTION
        return helper()
        ### END SOLUTION
'''


def test_the_stub_names_the_innermost_enclosing_function_with_its_class():
    assert run_student(METHOD, "Linear().backward(1)").function == "Linear.backward"
    lines = METHOD.splitlines()
    assert enclosing_function(METHOD, lines.index("            ### BEGIN SOLUTION") + 1) == "Linear.backward.helper"
    assert enclosing_function("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\n", 2) is None


def test_a_block_outside_any_function_names_its_line():
    student = strip_solutions("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\n", "cell", "01_spiral.ipynb")
    with pytest.raises(ExerciseNotDone, match="implement `the solution block at line 2` in 01_spiral.ipynb"):
        exec(student, {})


def test_a_notebook_cell_with_magics_still_names_its_function():
    cell = "%matplotlib inline\ndef update(w):\n    ### BEGIN SOLUTION\n    return w\n    ### END SOLUTION\n"
    assert "raise ExerciseNotDone('update', '03_mynet.ipynb')" in strip_solutions(cell, "cell", "03_mynet.ipynb")


@pytest.mark.parametrize("broken, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "nested"),
])
def test_strip_solutions_rejects_unbalanced_markers(broken, message):
    with pytest.raises(ValueError, match=message):
        strip_solutions(broken)


def test_the_student_files_are_valid_python_without_solutions_and_notebooks_without_outputs():
    from tools.editions import INSTRUCTOR_ONLY
    files = student_files(PROJECT_ROOT)
    helpers_files = {name for name in files if name.endswith(".py")}
    source_files = {p.relative_to(PROJECT_ROOT).as_posix() for p in (PROJECT_ROOT / "helpers").rglob("*.py")
                    if "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}
    assert helpers_files == source_files - set(INSTRUCTOR_ONLY)  # sub-packages included, same layout
    assert INSTRUCTOR_ONLY and not set(INSTRUCTOR_ONLY) & set(files)  # complete solutions stay the instructor's
    assert not any(name.startswith("tools/") for name in files)  # the build tooling is not the students'
    for name in helpers_files:
        text = files[name].decode()
        ast.parse(text, filename=name)
        assert not any(line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION") for line in text.splitlines())
    notebooks = sorted(name for name in files if name.endswith(".ipynb"))
    assert notebooks == sorted(p.name for p in (PROJECT_ROOT / "notebooks").glob("*.ipynb"))  # top level
    for name in notebooks:
        notebook = nbformat.reads(files[name].decode(), as_version=4)
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    stripped = files["helpers/spiral.py"].decode()
    assert "raise ExerciseNotDone('spiral_grad', 'helpers/spiral.py')" in stripped and "sin_2u" not in stripped
    assert files["data/rainfall.pt"] == (PROJECT_ROOT / "data" / "rainfall.pt").read_bytes()


def test_every_module_of_the_student_helpers_imports_and_a_stub_says_where_to_work(tmp_path):
    """A student copy is a complete package: stubs raise only when called, never on import."""
    update_workspace(tmp_path / "student", PROJECT_ROOT)
    script = ("import importlib, pkgutil, torch, helpers\n"
              "assert helpers.__file__.startswith(%r), helpers.__file__\n"
              "for module in pkgutil.walk_packages(helpers.__path__, 'helpers.'):\n"
              "    importlib.import_module(module.name)\n"
              "from helpers.mynet import MyNet, backpropagation\n"
              "from helpers.runtime.exercises import student_code_only\n"
              "model = MyNet((3, 4, 2))\n"
              "x = torch.zeros(5, 3)\n"
              "with student_code_only():  # no reference stands in, as in the checks\n"
              "    backpropagation(model, torch.zeros(5, 2), model(x))\n" % str(tmp_path / "student"))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path / "student",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(
        "helpers.runtime.exercises.ExerciseNotDone: not done yet: implement `backpropagation` in helpers/mynet.py")
