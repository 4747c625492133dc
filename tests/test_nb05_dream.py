"""Notebook 05's check module (helpers.checks.nb05_dream): the instructor's code passes every check, each planted
bug (tests/exercise_bugs_dream.py) and each further common mistake fails exactly its own exercise with the expected
diagnosis, the student edition's stubs report "not done yet" and its notebook skips what needs an undone exercise,
the references return what the solution returns; and the student edition's checks, which hold no reference,
compare with the expected values the edition tool stored for their own inputs.
"""
import ast
import os
import shutil
import subprocess
import sys
import textwrap
import types

import pytest
import torch
import torch.nn as nn

from helpers import dream
from helpers.checks import nb05_dream_references as references
from helpers.checks.exercises import all_exercises, run_checks
from helpers.checks.nb05_dream import (EXERCISES, EXPECTED_FILE, HIDDEN_INPUTS, SHIPPED_INPUTS, course_start,
                                       stored_only, tiny_classifier)
from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD
from helpers.data.paths import PROJECT_ROOT
from tests.exercise_bugs_dream import PLANTED_BUGS
from tests.sandbox_workspaces import copy_helpers, planted, student_workspace, workspace_with
from tests.test_leaks import normalised, student_corpus, without_comments
from tools.editions import EXPECTED_DREAM, enclosing_function, strip_solutions, student_files


IDS = [exercise.id for exercise in EXERCISES]
SOURCE = (PROJECT_ROOT / "helpers/dream.py").read_text()

# Further mistakes, each (exercise, [(old, new), ...] applied to helpers/dream.py, phrase its diagnosis prints).
MISTAKES = [
    ("5.1", [("energy_grad.abs().mean(dim=(1, 2, 3), keepdim=True)", "energy_grad.abs().mean()")], "whole batch"),
    ("5.1", [("    if normalize_step:\n", "    if False:\n")], "forgot to normalise"),
    ("5.1", [("(iteration + 1) % blur_every == 0", "iteration % blur_every == 0")], "wrong iterations"),
    ("5.1", [("    if clamp:\n", "    if False:\n")], "not clamped"),
    ("5.1", [("image = centre + (1 - weight_decay) * (image - centre)", "image = (1 - weight_decay) * image")],
     "towards 0"),
    ("5.1", [("image = image - lr * energy_grad  #", "image = image.sub_(lr * energy_grad)  #")], "in place"),
    ("5.1", [(".clamp_min(1e-12)\n", "\n")], "divides by zero"),
    ("5.1", [("    if grad_blur_sigma > 0:\n", "    from helpers.checks import nb05_dream_references as references\n"
              "    return references.step_by_add_and_lerp(image, energy_grad, iteration, lr=lr, "
              "normalize_step=normalize_step, grad_blur_sigma=grad_blur_sigma, weight_decay=weight_decay, centre=centre, "
              "blur_every=blur_every, blur_sigma=blur_sigma, clamp=clamp)\n    if grad_blur_sigma > 0:\n")],
     "without helpers.checks.nb05_dream_references.step_by_add_and_lerp"),
    ("5.2", [("        out = model(normalize_and_jitter(image, plan.jitter, plan.mean, plan.std, plan.generator))",
              "        jittered = normalize_and_jitter(image.detach(), plan.jitter, plan.mean, plan.std, "
              "plan.generator).requires_grad_(True)\n        out = model(jittered)"),
             ("torch.autograd.grad(-value, image)", "torch.autograd.grad(-value, jittered)")], "jittered, normalised"),
    ("5.2", [("plan.std, plan.generator))", "plan.std))")], "plan.generator"),
    ("5.2", [("        (energy_grad,) = torch.autograd.grad(-value, image)",
              "        (fresh,) = torch.autograd.grad(-value, image); kept = fresh + (kept if iteration else 0); "
              "energy_grad = kept")], "accumulate"),
    ("5.2", [("image = resize(image, plan.shapes[iteration]).requires_grad_(True)", "image = image.requires_grad_(True)")],
     "octave size"),
    ("5.2", [("value = checked_objective(loss, out, iteration)", "value = -checked_objective(loss, out, iteration)"),
             ("grad(-value, image)", "grad(value, image)")], "holds the energy"),
    ("5.2", [("        (energy_grad,) = torch.autograd.grad(-value, image)",
              "        (-value).backward(); energy_grad = image.grad")], "parameters collected gradients"),
    ("5.3", [(".mean(dim=1).sum()\n", ".mean(dim=1).mean()\n")], "averaged instead of summed"),
    ("5.3", [(".mean(dim=1).sum()\n", ".mean(dim=1).sum().detach()\n")], "cut off from the graph"),
]


def _workspace(source: str):
    """The instructor's ``helpers/`` with ``source`` as its ``helpers/dream.py``."""
    return workspace_with({"helpers/dream.py": source})


STUDENT_NOTEBOOK_RUN = """
import sys
import torch
import torch.nn as nn
from helpers import dream
from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD

class TinyCifarNet(nn.Module):
    mean, std = CIFAR_MEAN, CIFAR_STD

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                 nn.Linear(20, 4))

    def forward(self, x):
        return self.net(x)

given = torch.load(sys.argv[1])
model = TinyCifarNet()
model.load_state_dict(given["state"])
history = []
if dream.ready("5.1", "5.2"):
    image = dream.gradient_descent(given["start"], model, dream.class_loss(2), 6, octaves=2, target=2, history=history)
else:
    image = None
torch.save({"image": image, "history": [(s.iteration, s.size, s.objective) for s in history]}, sys.argv[2])
"""


def _run_student_edition(folder, model: nn.Module, start: torch.Tensor, workspace=None):
    """(printed output, image, [(iteration, size, objective)]) of ``gradient_descent`` as the student edition's
    notebook runs it: in a separate process whose ``helpers`` is the student edition (its cell is skipped
    while an exercise it needs is a stub); this process's ``helpers.dream`` stays the instructor's."""
    given, result = folder / "given.pt", folder / "result.pt"
    torch.save({"state": model.state_dict(), "start": start}, given)
    workspace = workspace or student_workspace()
    run = subprocess.run([sys.executable, "-c", STUDENT_NOTEBOOK_RUN, str(given), str(result)], cwd=workspace,
                         env={**os.environ, "PYTHONPATH": str(workspace), "MPLBACKEND": "Agg"},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = torch.load(result)
    return run.stdout, out["image"], [types.SimpleNamespace(iteration=i, size=n, objective=o)
                                      for i, n, o in out["history"]]


def _mutated(replacements) -> str:
    source = SOURCE
    for old, new in replacements:
        assert source.count(old) == 1, f"helpers/dream.py: {old!r} must occur exactly once"
        source = source.replace(old, new)
    return source


def test_each_planted_line_is_solution_code_of_its_own_exercise():
    # Inside a solution block <=> gone from the student edition; and inside the exercise's own function.
    assert sorted(PLANTED_BUGS) == sorted(IDS)
    student = strip_solutions(SOURCE, "helpers/dream.py")
    for exercise_id, (path, old, new, _) in PLANTED_BUGS.items():
        assert path == "helpers/dream.py" and old != new and SOURCE.count(old) == 1 and old not in student
        line = SOURCE[:SOURCE.index(old)].count("\n") + 1
        assert enclosing_function(SOURCE, line) == all_exercises()[exercise_id].functions[0]


@pytest.mark.parametrize("exercise_id, replacements, phrase", MISTAKES, ids=[f"{m[0]}-{m[2]}" for m in MISTAKES])
def test_a_mistake_fails_exactly_its_exercise_with_its_diagnosis(tmp_path, exercise_id, replacements, phrase):
    # (each exercise's planted bug: tests/test_exercises.py)
    workspace = _workspace(_mutated(replacements))
    results = {other: run_checks(other, workspace) for other in IDS}
    assert {other for other, result in results.items() if not result.passed} == {exercise_id}
    diagnoses = [o.diagnosis for o in results[exercise_id].outcomes if not o.passed]
    assert any(phrase in diagnosis for diagnosis in diagnoses), diagnoses


def test_the_common_normaliser_with_a_small_epsilon_passes(tmp_path):
    # g / (mean|g| + 1e-8) differs from the solution's clamp_min(1e-12) by a relative ~2e-8: not a mistake.
    source = _mutated([("energy_grad / energy_grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)",
                        "energy_grad / (energy_grad.abs().mean(dim=(1, 2, 3), keepdim=True) + 1e-8)")])
    workspace = _workspace(source)
    results = {other: run_checks(other, workspace) for other in IDS}
    assert all(result.passed for result in results.values()), [r.lines() for r in results.values()]


def test_the_student_edition_reports_each_exercise_not_done_and_its_notebook_skips_what_needs_them(tmp_path):
    for exercise in EXERCISES:
        result = run_checks(exercise.id, student_workspace())
        assert result.not_done is not None and not result.passed
        assert result.not_done.function == exercise.functions[0] and "not done yet" in result.summary()
    model, start = TinyCifarNet(), course_start(16, seed=0).float()
    printed, skipped, history = _run_student_edition(tmp_path, model, start)
    assert "[not done yet] this cell needs exercise 5.1 (`dream_step`" in printed and skipped is None and not history
    # With the solution's helpers/dream.py in the student edition, the cell runs, as the instructor's does.
    done = tmp_path / "done"
    shutil.copytree(student_workspace(), done)
    (done / "helpers/dream.py").write_text(SOURCE)
    (tmp_path / "run").mkdir()
    printed, stand_in, history = _run_student_edition(tmp_path / "run", model, start, done)
    expected_history = []
    assert "[not done yet]" not in printed
    solution = dream.gradient_descent(start, model, dream.class_loss(2), 6, octaves=2, target=2,
                                      history=expected_history)
    assert torch.allclose(stand_in, solution, rtol=0, atol=1e-5)
    assert [(s.iteration, s.size) for s in history] == [(s.iteration, s.size) for s in expected_history]
    assert all(abs(a.objective - b.objective) < 1e-4 for a, b in zip(history, expected_history))


class TinyCifarNet(nn.Module):
    """A seeded float32 CNN with CIFAR-10 statistics: (N, 3, H, W) -> (N, 4)."""
    mean, std = CIFAR_MEAN, CIFAR_STD

    def __init__(self):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            self.net = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                     nn.Linear(20, 4))

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize("options", [{}, dream.PLAIN_OPTIONS, dict(octaves=1, jitter=3, blur_every=2)],
                         ids=["defaults", "plain", "jitter-blur"])
def test_the_loop_reference_gives_the_solution_bit_for_bit(options):
    model, start = TinyCifarNet(), course_start(16, seed=3).float().expand(2, -1, -1, -1)
    runs = []
    for loop in (dream.gradient_descent, references.descent_undoing_jitter_by_hand):
        history = []
        runs.append((loop(start, model, dream.class_loss([1, 3]), 7, target=[1, 3], history=history, seed=2,
                          **options), history))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_the_step_reference_gives_the_solution():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(3, 3, 10, 12, generator=generator, dtype=torch.float64)
    grad = torch.randn(3, 3, 10, 12, generator=generator, dtype=torch.float64) * torch.tensor([1e-3, 1.0, 50.0],
                                                                                               dtype=torch.float64).view(3, 1, 1, 1)
    centre = torch.tensor(CIFAR_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    for normalize_step in (False, True):
        for iteration in range(4):
            options = dict(lr=0.2, normalize_step=normalize_step, grad_blur_sigma=0.8, weight_decay=0.1, centre=centre,
                           blur_every=2, blur_sigma=0.6, clamp=iteration % 2 == 0)
            expected = dream.dream_step(image, grad, iteration, **options)
            assert torch.allclose(references.step_by_add_and_lerp(image, grad, iteration, **options), expected,
                                  rtol=0, atol=1e-12)


def test_the_channel_reference_gives_the_solution():
    activation = torch.randn(4, 6, 3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    channels = torch.tensor([0, 5, 2, 2])
    assert abs(references.channel_objective_one_by_one(activation, channels).item()
               - dream.channel_objective(activation, channels).item()) < 1e-12


def test_each_check_is_fast_and_its_model_is_the_courses_kind():
    model = tiny_classifier()
    assert not hasattr(model, "mean") and model(torch.rand(1, 3, 32, 32, dtype=torch.float64)).shape == (1, 5)
    assert [e.points for e in EXERCISES] == [3, 4, 1] and all(e.id in all_exercises() for e in EXERCISES)
    assert all(e.diagnoses for e in EXERCISES)


# -- the student edition's checks: stored expected values ----------------------------------------------

STORED = student_workspace() / EXPECTED_DREAM


def verdicts(workspace) -> dict:
    """{exercise: (passed, not done, [(check, passed, diagnosis)])}."""
    found = {}
    for exercise_id in IDS:
        result = run_checks(exercise_id, workspace)
        found[exercise_id] = (result.passed, result.not_done is not None,
                              [(o.name, o.passed, o.diagnosis) for o in result.outcomes])
    return found


def test_the_student_edition_holds_no_reference_and_its_expected_values():
    files = student_files()
    assert "helpers/checks/nb05_dream_references.py" not in files
    # No function of the references, nor the body of one (normalised as tests/test_leaks.py does), anywhere.
    module = (PROJECT_ROOT / "helpers/checks/nb05_dream_references.py").read_text()
    functions = [node for node in ast.parse(module).body if isinstance(node, ast.FunctionDef)]
    assert len(functions) == 4
    corpus = student_corpus()
    for function in functions:
        body = normalised(without_comments(textwrap.dedent(
            "\n".join(module.splitlines()[function.body[1].lineno - 1:function.end_lineno]))))
        assert len(body) > 40 and not any(body in text for text in corpus.values()), function.name
        assert not any(f"def {function.name}".encode() in content for content in files.values())
    stored = torch.load(STORED, weights_only=True)
    assert sorted(stored) == IDS and EXPECTED_DREAM not in [p.relative_to(EXPECTED_FILE.parents[2]).as_posix()
                                                            for p in EXPECTED_FILE.parent.glob("*.pt")]


def test_the_self_check_and_the_instructor_side_agree_on_solution_and_stub(tmp_path):
    solution = copy_helpers(tmp_path / "solution")
    instructor = verdicts(solution)
    assert all(passed for passed, _, _ in instructor.values())
    with stored_only(STORED):
        assert verdicts(solution) == instructor
        stubbed = verdicts(student_workspace())
    assert all(not passed and not_done for passed, not_done, _ in stubbed.values())
    assert verdicts(student_workspace()) == stubbed


@pytest.mark.parametrize("exercise_id", sorted(PLANTED_BUGS))
def test_the_self_check_and_the_instructor_side_agree_on_each_planted_bug(exercise_id):
    workspace, _ = planted(exercise_id)
    instructor = verdicts(workspace)
    with stored_only(STORED):
        student = verdicts(workspace)
    assert student == instructor
    assert {i for i, (passed, _, _) in student.items() if not passed} == {exercise_id}
    phrase = PLANTED_BUGS[exercise_id][3]
    assert any(phrase in diagnosis for _, passed, diagnosis in student[exercise_id][2] if not passed)


HARD_CODED = '''

def dream_step(image, energy_grad, iteration, *, lr, **options):
    """Returns the stored expected values for the self-check's inputs (no DeepDream step)."""
    import torch
    from pathlib import Path
    from helpers.checks import nb05_dream as checks
    stored = torch.load(Path(checks.__file__).with_name("expected_dream.pt"), weights_only=True)["5.1"]
    options = dict(options, lr=lr)
    options.pop("centre", None)
    if options == checks._ZERO_OPTIONS and not energy_grad[1].any():
        return stored["zero_gradient"].clone()
    for (_, case_options, iterations), case in zip(checks._STEP_CASES, stored["cases"]):
        if case_options == options:
            return case["reference"][iterations.index(iteration)].clone()
    return image.clone()
'''


def test_stored_values_returned_for_the_stored_inputs_pass_the_self_check_and_fail_grading(tmp_path):
    workspace = copy_helpers(tmp_path / "cheat")
    (workspace / EXPECTED_DREAM).write_bytes(STORED.read_bytes())
    source = (workspace / "helpers/dream.py").read_text()
    (workspace / "helpers/dream.py").write_text(source + HARD_CODED)  # replaces the module's dream_step
    with stored_only(STORED):
        assert run_checks("5.1", workspace).passed
    graded = run_checks("5.1", workspace)
    assert not graded.passed and HIDDEN_INPUTS != SHIPPED_INPUTS


def test_the_student_edition_checks_itself_without_the_references(tmp_path):
    # The trusted side is the student edition's own helpers/checks (another process): stubs are "not done",
    # the solution's helpers/dream.py passes, from the stored values only.
    workspace = tmp_path / "student"
    import shutil
    shutil.copytree(student_workspace(), workspace)
    script = ("import sys\nfrom helpers.checks.exercises import run_checks\n"
              "from helpers.checks.nb05_dream import references_available\n"
              "assert not references_available()\n"
              "print([(i, run_checks(i).passed, run_checks(i).not_done is not None) for i in ('5.1', '5.2', '5.3')])\n")
    environment = {**os.environ, "PYTHONPATH": str(workspace), "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, "-c", script], cwd=workspace, env=environment, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[('5.1', False, True), ('5.2', False, True), ('5.3', False, True)]" in run.stdout
    (workspace / "helpers/dream.py").write_text((PROJECT_ROOT / "helpers/dream.py").read_text())
    run = subprocess.run([sys.executable, "-c", script], cwd=workspace, env=environment, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[('5.1', True, False), ('5.2', True, False), ('5.3', True, False)]" in run.stdout
