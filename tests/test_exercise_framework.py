"""The exercise machinery: references while a stub stands, the checks' verdicts and diagnoses, the sandbox the
student's code runs in, the editions' grading metadata, and the nbgrader course folder."""
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

from pathlib import Path

import nbformat
import pytest
import torch

from fresh_python import printed_by_fresh_python
from helpers.checks import exercises as registry
from helpers.checks.exercises import check_exercise, run_checks
from helpers.data.paths import PROJECT_ROOT
from helpers.checks.toolkit import CheckOutcome, Exercise, diagnose, torch_sgd_step
from helpers.checks import stand_ins
from helpers.runtime.exercises import ExerciseNotDone, student_code_only
from tools.editions import ANSWER_BOX, student_notebook
from tools.grading import KERNEL, SKIPPED, ForeignCourseError, GradingCells, make_course


def stub(x):
    raise ExerciseNotDone("double", "helpers/lesson.py")


LESSON = """
from helpers.runtime.exercises import ExerciseNotDone

def double(x):
    ### the stub the student edition writes
    raise ExerciseNotDone("double", "helpers/lesson.py")

def triple(x):
    return 3 * x

class Net:
    def forward(self, x):
        def inner():
            raise ExerciseNotDone("Net.forward", "helpers/lesson.py")
        return inner()
"""


def lesson_namespace(monkeypatch) -> dict:
    """A lesson module's namespace with two stubs, wrapped as the student edition wraps them, and a registry
    whose exercise names their references."""
    namespace = {"__name__": "helpers.lesson"}
    exec(compile(LESSON, "helpers/lesson.py", "exec"), namespace)
    exercise = Exercise("9.1", "doubling", "09_fake", "none", 2, ("helpers/lesson.py",), ("double",), list,
                        stand_ins={"helpers.lesson:double": (lambda x: x + x, "autograd's gradient"),
                                   "helpers.lesson:Net.forward": (lambda net, x: -x, "a reference net")})
    monkeypatch.setattr(registry, "all_exercises", lambda: {"9.1": exercise})
    stand_ins._reference_for.cache_clear()  # looked up once per process; here from this fake registry
    stand_ins._wrap_stubs(namespace, "helpers.lesson")
    return namespace


def test_a_stub_borrows_the_reference_the_registry_names_and_says_so_once(monkeypatch, capsys):
    lesson_module = lesson_namespace(monkeypatch)
    assert lesson_module["triple"](2) == 6 and not hasattr(lesson_module["triple"], "__stand_in_for__")
    assert lesson_module["double"](4) == 8 and lesson_module["double"](5) == 10
    assert lesson_module["Net"]().forward(7) == -7  # a stub inside a method's nested function
    printed = capsys.readouterr().out
    assert printed.count("[not done yet] `double` in helpers/lesson.py") == 1  # once per cell, not per call
    assert "autograd's gradient" in printed and "`Net.forward`" in printed


def test_under_student_code_only_a_stub_raises_instead_of_borrowing(monkeypatch):
    lesson_module = lesson_namespace(monkeypatch)
    with student_code_only(), pytest.raises(ExerciseNotDone):
        lesson_module["double"](1)
    assert lesson_module["double"](1) == 2  # the context ended: the reference is back


def fake_exercise(monkeypatch, check):
    exercise = Exercise("9.1", "doubling", "09_fake", "none", 2, ("helpers/lesson.py",), ("double",), check)
    monkeypatch.setattr(registry, "all_exercises", lambda: {"9.1": exercise})
    return exercise


def lesson(tmp_path, body: str):
    """A workspace whose ``helpers/lesson.py`` holds ``body`` (the student's code)."""
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "lesson.py").write_text(body)
    return tmp_path


def test_run_checks_reports_not_done_a_crash_and_a_pass(monkeypatch, tmp_path):
    fake_exercise(monkeypatch, lambda code: stub(1))
    assert run_checks("9.1").not_done is not None and not run_checks("9.1").passed
    fake_exercise(monkeypatch, lambda code: [1][2])
    crashed = run_checks("9.1")
    assert not crashed.passed and "IndexError" in crashed.outcomes[0].name
    fake_exercise(monkeypatch, lambda code: [CheckOutcome("a", True), CheckOutcome("b", True)])
    assert run_checks("9.1").passed
    with pytest.raises(KeyError, match="no exercise '9.2'; the exercises are 9.1"):
        run_checks("9.2")


def test_check_exercise_prints_in_a_notebook_and_fails_the_cell_only_under_nbgrader(monkeypatch, capsys):
    fake_exercise(monkeypatch, lambda code: [CheckOutcome("dL/dW", False, "the weight gradient is transposed")])
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    check_exercise("9.1")
    printed = capsys.readouterr().out
    assert "0/1 checks passed" in printed and "FAIL  dL/dW" in printed and "transposed" in printed
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match="Exercise 9.1"):
        check_exercise("9.1")


def doubled(code):
    return [CheckOutcome("doubles 21", code.call("helpers.lesson:double", 21) == 42)]


@pytest.mark.parametrize("body, verdict", [
    ("def double(x):\n    return 2 * x\n", "1/1 checks passed"),
    ("def double(x):\n    return x +\n", "SyntaxError at helpers/lesson.py:2"),
    ("import os\nos._exit(0)\n", "exited with status 0"),
    ("def double(x):\n    raise ValueError('mine')\n", "ValueError at helpers/lesson.py:2: mine"),
    ("class ExerciseNotDone(NotImplementedError):\n    function, path = 'double', 'helpers/lesson.py'\n"
     "def double(x):\n    raise ExerciseNotDone()\n", "not done yet: implement `double` in helpers/lesson.py"),
    ("def double(x):\n    while True:\n        pass\n", "no answer within"),
    ("import torch\ndef double(x):\n    return torch.ones(20 * 2**30, dtype=torch.uint8).sum()\n",
     "RuntimeError at helpers/lesson.py:3"),
])
def test_the_student_code_runs_in_the_sandbox_and_its_failures_are_named(monkeypatch, tmp_path, body, verdict):
    monkeypatch.setenv("BACKPROP_LAB_CHECK_SECONDS", "5")
    fake_exercise(monkeypatch, doubled)
    result = run_checks("9.1", lesson(tmp_path, body))
    assert verdict in "\n".join(result.lines()), result.lines()
    assert result.passed == verdict.startswith("1/1")


def test_a_forbidden_tool_is_named_and_fails_the_exercise(monkeypatch, tmp_path):
    body = ("import torch\ndef double(x):\n    t = torch.tensor(float(x), requires_grad=True)\n"
            "    (g,) = torch.autograd.grad(t * t, t)\n    return g.item()\n")
    exercise = Exercise("9.1", "doubling", "09_fake", "none", 2, ("helpers/lesson.py",), ("double",), doubled,
                        forbid=("autograd",))
    monkeypatch.setattr(registry, "all_exercises", lambda: {"9.1": exercise})
    result = run_checks("9.1", lesson(tmp_path, body))
    assert not result.passed and "torch.autograd.grad was called at helpers/lesson.py:4" in result.lines()[1]


def test_an_edit_is_checked_at_once_without_a_restart(monkeypatch, tmp_path):
    fake_exercise(monkeypatch, doubled)
    workspace = lesson(tmp_path, "def double(x):\n    return x\n")
    assert not run_checks("9.1", workspace).passed
    (workspace / "helpers" / "lesson.py").write_text("def double(x):\n    return 2 * x\n")
    assert run_checks("9.1", workspace).passed


def test_the_sandbox_sees_only_the_students_helpers(monkeypatch, tmp_path):
    from helpers.checks.sandbox import isolation, sandbox_for
    if isolation().startswith("plain subprocess"):
        pytest.skip(isolation())
    (tmp_path / "secret.txt").write_text("the gradebook")
    workspace = lesson(tmp_path, "def double(x):\n    return 2 * x\n")
    with sandbox_for(workspace).session() as code:
        assert not code.call("os.path:exists", str(tmp_path / "secret.txt"))
        assert not code.call("os.path:exists", str(registry.Path(registry.__file__).parents[2] / "helpers"))
        assert sorted(code.call("os:listdir", "/sandbox/code/helpers")) == ["__init__.py", "lesson.py"]
        if os.getuid() == 0:
            assert code.call("os:getuid") == 65534


def test_diagnose_names_the_matching_mistake_and_never_the_expected_numbers():
    reference = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    mistakes = {"transposed": lambda g: g.T, "missing 1/N": lambda g: g * 2}
    assert diagnose(reference.T.clone(), reference, mistakes) == "transposed"
    assert diagnose(reference * 2, reference, mistakes) == "missing 1/N"
    other = diagnose(reference + 0.5, reference, mistakes)
    assert "no common mistake" in other and "4.0" not in other
    assert "shape (3,)" in diagnose(torch.zeros(3), reference, mistakes)


SGD_SETTINGS = [dict(lr=0.1), dict(lr=0.1, weight_decay=0.05, maximize=True),
                dict(lr=0.05, momentum=0.8, weight_decay=0.01, dampening=0.3), dict(lr=0.05, momentum=0.9, nesterov=True)]


@pytest.mark.parametrize("settings", SGD_SETTINGS)
def test_the_checks_sgd_step_equals_torch_optim_sgd_bit_for_bit(settings):
    generator = torch.Generator().manual_seed(3)
    start = [torch.randn(4, 3, generator=generator), torch.randn(4, generator=generator)]
    steps = [[torch.randn(p.shape, generator=generator) for p in start] for _ in range(3)]
    ours, buffers = [p.clone() for p in start], [None, None]
    theirs = [p.clone() for p in start]
    optimizer = torch.optim.SGD(theirs, **settings)
    for gradients in steps:
        torch_sgd_step(ours, gradients, buffers, **settings)
        for p, g in zip(theirs, gradients):
            p.grad = g.clone()
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert not torch.equal(ours[0], start[0])


def test_checking_the_optimiser_exercises_leaves_torchs_compiler_unimported():
    """The checking kernel runs 4.3's and 4.4's references without a torch.optim optimiser object, whose first use
    imports torch._dynamo (about 80 MiB beside the sandbox's own on a hub)."""
    script = ("import sys, torch\n"
              "from helpers.checks import nb04_catcar as checks\n"
              "checks._steps(checks.training_step_reference)\n"
              "checks._recipe_run(checks._made_up_data(), checks.RECIPE_SETTINGS)\n"
              "for settings in checks.SETTINGS.values():\n"
              "    checks._sgd_mistakes(settings, checks._flat(checks._run_optim(settings)))\n"
              "p = torch.ones(3, requires_grad=True); p.grad = torch.ones(3); buffers = [None]\n"
              "checks.sgd_step_reference([p], buffers, lr=0.1, momentum=0.9)\n"
              "assert buffers[0] is not None and p.grad is None\n"
              "print(sorted(name for name in sys.modules if name.startswith('torch._dynamo'))[:3])\n")
    assert printed_by_fresh_python(script) == "[]"


def notebook_with(tmp_path, cells):
    path = tmp_path / "09_fake.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_the_student_notebook_carries_nbgrader_metadata_and_hides_answers(tmp_path):
    statement = nbformat.v4.new_markdown_cell("### Exercise 9.1", metadata={"tags": ["exercise:9.1"]})
    solution = nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n")
    check = nbformat.v4.new_code_cell('check_exercise("9.1", f)', metadata={"tags": ["check:9.1"]})
    answer = nbformat.v4.new_markdown_cell("Because the chain rule multiplies.", metadata={"tags": ["answer"]})
    path = notebook_with(tmp_path, [nbformat.v4.new_code_cell("import torch"), statement, solution, check, answer])
    student = student_notebook(path, points={"9.1": 3})
    cells = student.cells
    assert cells[1].metadata.nbgrader["locked"] and not cells[1].metadata.nbgrader["grade"]
    assert cells[2].metadata.nbgrader["solution"] and "return 2 * x" not in cells[2].source
    assert cells[3].metadata.nbgrader == {"grade": True, "grade_id": "check_9_1", "locked": True, "points": 3,
                                          "schema_version": 3, "solution": False}
    assert cells[4].source == ANSWER_BOX
    assert cells[4].metadata.nbgrader == {"grade": True, "grade_id": "answer_09_4", "locked": False, "points": 1,
                                          "schema_version": 3, "solution": True}  # graded by hand
    kept = student_notebook(path, points={"9.1": 3}, keep_solutions=True).cells
    assert "return 2 * x" in kept[2].source and kept[4].source.startswith("Because")
    with pytest.raises(ValueError, match="checks exercise '9.1', which is not registered"):
        student_notebook(path, points={})


def test_grading_runs_only_the_check_cells_and_hands_over_solution_cells_as_strings(tmp_path):
    path = notebook_with(tmp_path, [nbformat.v4.new_code_cell("import torch"), nbformat.v4.new_code_cell("train()"),
                                    nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n"
                                                              "    ### END SOLUTION\n"),
                                    nbformat.v4.new_code_cell('check_exercise("1.1")',
                                                              metadata={"tags": ["check:1.1"]})])
    handed_in = student_notebook(path, points={"1.1": 1}, keep_solutions=True)
    handed_in.cells.append(nbformat.v4.new_code_cell("import os; os.remove('gradebook.db')"))  # a cell the student added
    notebook, _ = GradingCells()(handed_in, {})
    sources = [cell.source for cell in notebook.cells]
    assert sources[0] == sources[1] == sources[4] == SKIPPED and sources[3] == 'check_exercise("1.1")'
    assert sources[2].startswith("from helpers.checks.exercises import submit_cell")
    submitted = {}
    exec(sources[2].replace("from helpers.checks.exercises import submit_cell\n", ""),
         {"submit_cell": lambda text: submitted.setdefault("cell", text)})
    assert submitted["cell"] == "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    forged = student_notebook(path, points={"1.1": 1})
    forged.cells[1].metadata["nbgrader"] = {"grade": True, "grade_id": "my_own", "points": 9}
    notebook, _ = GradingCells()(forged, {})
    assert notebook.cells[1].source == SKIPPED  # only the registered check cells run


def test_the_course_command_refuses_a_foreign_folder_and_writes_a_config(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ForeignCourseError, match="refusing to write into it"):
        make_course(foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    course = tmp_path / "course"
    make_course(course)
    config = (course / "nbgrader_config.py").read_text()
    assert "exclude_overwriting" in config and "'helpers/mynet.py'" in config
    assert (course / "source" / "backprop-lab" / "03_mynet_delta_rule.ipynb").is_file()
    kernel = json.loads((course / "grading_kernel" / "kernels" / KERNEL / "kernel.json").read_text())
    assert kernel["argv"][:2] == [sys.executable, "-I"]  # no file of a submission is importable in the kernel
    assert f"sys.path.insert(0, {str(PROJECT_ROOT)!r})" in kernel["argv"][3]  # but the course's helpers are
    assert kernel["env"]["BACKPROP_LAB_GRADING_SOURCE"] == str(course / "source" / "backprop-lab")
    assert f"c.Execute.kernel_name = {KERNEL!r}" in config and "GradingCells" in config
    make_course(course)  # ours: updated, not refused


def test_the_student_copy_of_the_helpers_does_not_show_answers_and_installs_the_stand_ins():
    from tools.editions import student_files
    files = student_files()
    student = files["helpers/runtime/edition.py"].decode()
    assert "SHOWS_ANSWERS = False" in student and "SHOWS_ANSWERS = True" not in student
    namespace = {}
    exec(compile(files["helpers/__init__.py"].decode(), "helpers/__init__.py", "exec"), namespace)
    from helpers.checks import stand_ins
    assert stand_ins._installed  # the student copy's package import installs them
    assert "install" not in (Path(__file__).parents[1] / "helpers" / "__init__.py").read_text()  # instructor: none


def test_a_grading_copy_takes_only_the_listed_files_and_names_the_rest(tmp_path):
    from helpers.checks.sandbox import grading_copy
    (tmp_path / "source").mkdir()
    source, submission = lesson(tmp_path / "source", "def double(x):\n    raise NotImplementedError\n"), tmp_path / "in"
    (source / "helpers" / "checks").mkdir()
    (source / "helpers" / "checks" / "exercises.py").write_text("TRUSTED = True\n")
    (submission / "helpers" / "checks").mkdir(parents=True)
    (submission / "helpers" / "lesson.py").write_text("def double(x):\n    return 2 * x\n")
    (submission / "helpers" / "__init__.py").write_text("")
    (submission / "helpers" / "checks" / "exercises.py").write_text("TRUSTED = False\n")
    (submission / "sitecustomize.py").write_text("import os\n")
    (submission / "01_lesson.ipynb").write_text("{}")
    for bookkeeping in ("timestamp.txt", "submission_secret.txt"):  # what nbgrader's submit adds
        (submission / bookkeeping).write_text("2026-12-07 13:00:00 UTC")
    (submission / "helpers" / "submission_secret.txt").write_text("a student's file of that name elsewhere")
    copy = grading_copy(source, submission, ["helpers/lesson.py"], tmp_path / "copy")
    assert (copy.root / "helpers" / "lesson.py").read_text().endswith("return 2 * x\n")
    assert (copy.root / "helpers" / "checks" / "exercises.py").read_text() == "TRUSTED = True\n"
    assert copy.ignored == ["helpers/checks/exercises.py", "helpers/submission_secret.txt", "sitecustomize.py"]
    assert not (copy.root / "submission_secret.txt").exists()
    assert oct((copy.root / "helpers" / "lesson.py").stat().st_mode & 0o777) == "0o444"  # and mounted read-only


def course_and_submission(tmp_path, body: str) -> tuple[Path, Path]:
    """A course source whose ``helpers/lesson.py`` is the stub, and a submission whose ``helpers/lesson.py`` is ``body``."""
    folders = tmp_path / "source", tmp_path / "submission"
    for folder, code in zip(folders, ("def double(x):\n    raise NotImplementedError\n", body)):
        folder.mkdir()
        lesson(folder, code)
    return folders


def graded_submission(monkeypatch, tmp_path, body: str) -> Path:
    """:func:`course_and_submission` with the grader's environment set and the submission as the current folder (as
    nbgrader starts the grading kernel)."""
    from helpers.checks import grading_kernel
    from helpers.runtime.variant import GRADING_SOURCE_ENV
    source, submission = course_and_submission(tmp_path, body)
    monkeypatch.setenv(GRADING_SOURCE_ENV, str(source))
    monkeypatch.setenv(grading_kernel.GRADING_FILES_ENV, "helpers/lesson.py")
    monkeypatch.setattr(grading_kernel, "_copy", None)  # one copy per kernel: this test's
    monkeypatch.chdir(submission)
    return submission


def test_the_grading_kernel_starts_the_sandbox_that_its_first_check_then_uses(monkeypatch, tmp_path):
    from helpers.checks import grading_kernel
    from helpers.checks.sandbox import close_all, remove_copy, sandbox_for
    monkeypatch.delenv("BACKPROP_LAB_GRADING_SOURCE", raising=False)
    assert not grading_kernel.start_sandbox_early()  # not grading: nothing to start
    fake_exercise(monkeypatch, doubled)
    graded_submission(monkeypatch, tmp_path, "def double(x):\n    return 2 * x\n")
    close_all()
    try:
        assert grading_kernel.start_sandbox_early()
        copy = grading_kernel.submission_copy()
        server = sandbox_for(copy.root)
        started = server.process.pid
        assert server.alive() and not server.ready  # launched, not waited for
        result = run_checks("9.1")
        assert result.passed and "isolation: " in result.lines()[-1], result.lines()
        assert server.process.pid == started  # the first check used the server started early, on the same copy
    finally:
        close_all()
        if grading_kernel._copy is not None:
            remove_copy(grading_kernel._copy.root.parent)


def test_the_grading_kernels_short_exit_runs_every_exit_handler_first(tmp_path):
    """The grading kernel ends without tearing down the interpreter, after the exit handlers: the sandbox server
    is stopped, the submission's copy removed, what was printed written out, and the status is 0."""
    from helpers.runtime.variant import GRADING_SOURCE_ENV
    source, submission = course_and_submission(tmp_path, "def double(x):\n    return 2 * x\n")
    script = ("import atexit, sys; sys.path.insert(0, sys.argv[1])\n"
              "from helpers.checks import grading_kernel\n"
              "from helpers.checks.sandbox import sandbox_for\n"
              "atexit.register(print, 'an exit handler ran')\n"
              "assert grading_kernel.start_sandbox_early()\n"
              "copy = grading_kernel.submission_copy().root\n"
              "print(copy.parent, sandbox_for(copy).process.pid)  # not flushed: the short exit must write it\n"
              "grading_kernel._end_without_teardown()\n"
              "print('not reached')\n")
    env = {**os.environ, GRADING_SOURCE_ENV: str(source), "BACKPROP_LAB_GRADING_STUDENT_FILES": "helpers/lesson.py"}
    ran = subprocess.run([sys.executable, "-I", "-c", script, str(PROJECT_ROOT)], cwd=submission, env=env,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    first, handler = ran.stdout.strip().splitlines()
    folder, server = first.rsplit(" ", 1)
    assert handler == "an exit handler ran" and "not reached" not in ran.stdout
    assert not Path(folder).exists()  # the copy's removal ran
    with pytest.raises(ProcessLookupError):  # and the server's stop (its process is gone, reaped by the kernel)
        os.kill(int(server), 0)


def test_a_sandbox_that_cannot_start_is_named_and_not_blamed_on_the_students_code(monkeypatch, tmp_path):
    from helpers.checks import sandbox
    workspace = lesson(tmp_path, "def double(x):\n    return 2 * x\n")
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('no python environment here\\n')"]
    monkeypatch.setattr(sandbox.Sandbox, "_command", lambda self: (failing, str(workspace)))
    sandbox.close_all()
    try:
        result = run_checks("0.1", workspace=workspace, notebook_cells=("def fit_line(): pass",))
    finally:
        sandbox.close_all()
    [outcome] = result.outcomes
    assert not outcome.passed and "the sandbox did not start" in outcome.name
    assert "no python environment here" in outcome.name and outcome.diagnosis.startswith("not your code")


def test_a_python_environment_under_tmp_is_visible_in_the_sandbox(monkeypatch, tmp_path):
    """The sandbox's private /tmp must not hide a course environment that lives under /tmp (it did: every check
    then failed with an EOFError that blamed the student's result)."""
    from helpers.checks import sandbox
    if sandbox._bwrap_refusal():
        pytest.skip(f"bubblewrap unavailable here: {sandbox._bwrap_refusal()}")
    environment = Path(tempfile.mkdtemp(prefix="env-", dir="/tmp"))
    try:
        (environment / "marker").write_text("here")
        roots = sandbox._python_roots()
        monkeypatch.setattr(sandbox, "_python_roots", lambda: roots + [str(environment)])
        command = sandbox._bwrap_arguments(tmp_path) + ["/bin/cat", str(environment / "marker")]
        ran = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert (ran.returncode, ran.stdout) == (0, "here"), ran.stderr
    finally:
        shutil.rmtree(environment)


def test_without_bubblewrap_the_checks_run_in_a_plain_subprocess_and_say_so(monkeypatch, tmp_path):
    from helpers.checks.sandbox import close_all, isolation
    monkeypatch.setenv("BACKPROP_LAB_SANDBOX", "subprocess")  # as where namespaces are not allowed
    close_all()
    fake_exercise(monkeypatch, doubled)
    try:
        assert isolation().startswith("plain subprocess with resource limits")
        assert run_checks("9.1", lesson(tmp_path, "def double(x):\n    return 2 * x\n")).passed
        (tmp_path / "again").mkdir()
        assert not run_checks("9.1", lesson(tmp_path / "again", "import os\nos._exit(3)\n")).passed
    finally:
        close_all()


def test_each_exercise_statement_says_what_its_code_must_not_use():
    """The rule the sandbox enforces (``Exercise.forbid``) is stated where the student meets the exercise."""
    for chosen in registry.all_exercises().values():
        notebook = nbformat.read(PROJECT_ROOT / "notebooks" / f"{chosen.notebook}.ipynb", as_version=4)
        (statement,) = [cell.source for cell in notebook.cells
                        if f"exercise:{chosen.id}" in cell.metadata.get("tags", [])]
        assert chosen.forbid and chosen.rule in statement, chosen.id


def test_after_import_runs_its_hook_before_any_importer_sees_the_module(tmp_path, monkeypatch):
    from helpers.runtime import imports
    (tmp_path / "bp_lab_probe.py").write_text("def f():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(imports, "_callbacks", [])
    seen = []

    def wrap(module):
        seen.append(module.__name__)
        module.f = lambda: 2
    imports.after_import(lambda name: name == "bp_lab_probe", wrap)
    try:
        from bp_lab_probe import f
        assert f() == 2 and seen == ["bp_lab_probe"]
        importlib.invalidate_caches()  # the hook's finder on sys.meta_path does not break it
    finally:
        sys.modules.pop("bp_lab_probe", None)
        sys.meta_path.remove(imports._Finder)


def test_on_a_hub_the_sandbox_server_stops_before_a_cell_that_is_not_a_check(monkeypatch, tmp_path):
    """The server's own torch import is ~300 MiB: kept through checks, gone before the notebook trains."""
    from IPython.core.interactiveshell import ExecutionInfo, InteractiveShell

    from helpers.checks.exercises import STOP_BETWEEN_CHECKS_ENV, stop_sandbox_between_checks
    from helpers.checks.sandbox import close_all, sandbox_for
    shell = InteractiveShell()
    assert not stop_sandbox_between_checks(shell)  # off by default: a laptop keeps the server (quick re-checks)
    assert shell.events.callbacks["pre_run_cell"] == []
    monkeypatch.setenv(STOP_BETWEEN_CHECKS_ENV, "1")
    fake_exercise(monkeypatch, doubled)
    workspace = lesson(tmp_path, "def double(x):\n    return 2 * x\n")
    server = sandbox_for(workspace)

    def before(cell: str) -> None:
        shell.events.trigger("pre_run_cell", ExecutionInfo(cell, False, False, False, None))

    try:
        assert stop_sandbox_between_checks(shell) and stop_sandbox_between_checks(shell)
        assert len(shell.events.callbacks["pre_run_cell"]) == 1  # registered once
        assert run_checks("9.1", workspace).passed
        first = server.process.pid
        before('from helpers.checks.exercises import check_exercise\ncheck_exercise("9.1")')
        assert server.alive() and server.process.pid == first  # the next check: the same server
        before("model = train(model, data)")
        assert not server.alive()
        assert run_checks("9.1", workspace).passed  # a later check starts it again
    finally:
        close_all()
