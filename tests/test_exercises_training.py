"""Exercises 3.1–3.2 and 4.1–4.4 (helpers.checks.exercises_training): the instructor's code passes every
check; each planted bug (tests/exercise_bugs_training.py, applied to a copy of the file in a workspace the
sandbox reads) fails exactly its own exercise with the diagnosis naming the mistake; the student edition's stubs
report "not done yet"; a forbidden tool is named; the references the notebooks use meanwhile give the
solution's results; the report answers are hidden."""
import importlib
import sys
import types
from pathlib import Path

import pytest
import torch

from helpers.checks.exercises import all_exercises, run_checks
from helpers.checks.nb03_delta_rule import EXERCISES as NB03_EXERCISES
from helpers.checks.nb04_catcar import EXERCISES as NB04_EXERCISES
EXERCISES = NB03_EXERCISES + NB04_EXERCISES
from helpers.checks.inf265_procedure import mnist_standin_cell
from helpers.data import catcar
from helpers.mynet import MyNet, backpropagation, manual_sgd_step
from helpers.training_references import (backpropagation_by_autograd, gradient_step_by_torch_optim,
                                       mlp_forward_by_functional, sgd_step_by_torch_optim,
                                       training_step_by_autograd_grad)
from helpers.runtime.exercises import ExerciseNotDone
from helpers.training import MyMLP, sgd_step, training_step
from tests.exercise_bugs_training import PLANTED_BUGS
from tests.sandbox_workspaces import copy_helpers, planted, student_workspace
from tools.editions import strip_solutions

ROOT = Path(__file__).resolve().parents[1]
IDS = [exercise.id for exercise in EXERCISES]
# exercise -> (module, the attribute that a mutated copy of the module replaces)
TARGETS = {"3.1": ("helpers.mynet", "backpropagation"), "3.2": ("helpers.mynet", "manual_sgd_step"),
           "4.1": ("helpers.data.catcar", "stratified_split"), "4.2": ("helpers.training", "MyMLP"),
           "4.3": ("helpers.training", "training_step"), "4.4": ("helpers.training", "sgd_step")}


def _module_from(source: str, name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules["_exercise_copy"] = module  # dataclasses and the like look their module up
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    finally:
        del sys.modules["_exercise_copy"]
    return module


def _workspace_with(folder: Path, exercise_id: str, source_change) -> Path:
    """A workspace (``folder``) holding the instructor's helpers, the exercise's file after ``source_change``."""
    workspace = copy_helpers(folder)
    target = workspace / (TARGETS[exercise_id][0].replace(".", "/") + ".py")
    target.write_text(source_change(target.read_text(encoding="utf-8")), encoding="utf-8")
    return workspace


def test_the_exercises_are_registered_in_notebook_order_with_points_and_diagnoses():
    registered = all_exercises()
    assert IDS == ["3.1", "3.2", "4.1", "4.2", "4.3", "4.4"]
    for exercise in EXERCISES:
        assert registered[exercise.id] is exercise
        assert 1 <= exercise.points <= 4 and exercise.diagnoses and exercise.handout.startswith("INF265")
        for file in exercise.files:
            assert (ROOT / file).is_file()


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_instructor_solution_passes_every_check(exercise_id):
    result = run_checks(exercise_id)
    assert result.passed, "\n".join(result.lines())
    assert len(result.outcomes) >= 3


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_planted_bug_fails_exactly_its_exercise_and_is_diagnosed(exercise_id, tmp_path):
    path, line, mutated, phrase = PLANTED_BUGS[exercise_id]
    assert path == TARGETS[exercise_id][0].replace(".", "/") + ".py"
    assert (ROOT / path).read_text(encoding="utf-8").count(line + "\n") == 1
    workspace, _ = planted(tmp_path, exercise_id)
    assert (workspace / path).read_text(encoding="utf-8").count(mutated + "\n") == 1
    results = {other: run_checks(other, workspace) for other in IDS}
    assert not results[exercise_id].passed
    assert phrase in "\n".join(results[exercise_id].lines()), "\n".join(results[exercise_id].lines())
    assert "not done yet" not in results[exercise_id].summary()
    for other in IDS:
        if other != exercise_id:
            assert results[other].passed, (other, "\n".join(results[other].lines()))


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_student_stub_reports_not_done_yet(exercise_id):
    result = run_checks(exercise_id, student_workspace())
    assert result.not_done is not None and not result.passed
    assert "not done yet" in result.summary()


def test_forbid_is_set_per_exercise():
    forbid = {exercise.id: exercise.forbid for exercise in EXERCISES}
    assert forbid == {"3.1": ("autograd", "references"), "3.2": ("torch.optim", "references"),
                      "4.1": ("references",), "4.2": ("references",), "4.3": ("references",),
                      "4.4": ("torch.optim", "references")}


def test_a_manual_step_written_with_torch_optim_fails_naming_the_forbidden_tool(tmp_path):
    line = "layer.weight.add_(model.dL_dw[l], alpha=-lr)"
    workspace = _workspace_with(tmp_path, "3.2", lambda text: text.replace(
        line, "torch.optim.SGD([layer.weight], lr=lr).step()"))
    result = run_checks("3.2", workspace)
    text = "\n".join(result.lines())
    assert not result.passed and result.not_done is None, text
    assert "torch.optim" in text and "allowed" in text, text


def test_a_stubbed_backpropagation_gives_the_labelled_reference_outside_the_checks(capsys):
    path = ROOT / "helpers/mynet.py"
    student = _module_from(strip_solutions(path.read_text(encoding="utf-8")), "helpers.mynet", path)
    torch.manual_seed(0)
    model = MyNet([3, 4, 2]).double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    deltas = student.backpropagation(model, y, model(x))
    assert set(deltas) == {1, 2} and model.dL_dw[1].shape == (4, 3)
    assert "[not done yet]" in capsys.readouterr().out
    with pytest.raises(ExerciseNotDone):
        student.backpropagation.exercise_function(model, y, model(x))


# --- the references equal the solutions ---------------------------------------------------------------

@pytest.mark.parametrize("n_l, activations, target_dtype", [([3, 4, 2], "tanh", torch.float64),
                                                            ([2, 5, 4, 3], ["sigmoid", "relu", "identity"],
                                                             torch.float32)])
def test_the_autograd_reference_equals_the_delta_rule(n_l, activations, target_dtype):
    torch.manual_seed(1)
    model = MyNet(n_l, activations).double()
    x, y = torch.randn(6, n_l[0], dtype=torch.float64), torch.randn(6, n_l[-1]).to(target_dtype)
    y_pred = model(x)
    solution = backpropagation.exercise_function(model, y, y_pred)
    solved = {l: (model.dL_dw[l].clone(), model.dL_db[l].clone()) for l in solution}
    reference = backpropagation_by_autograd(model, y, y_pred)
    for l, (weight, bias) in solved.items():
        for ours, theirs in ((solution[l], reference[l]), (weight, model.dL_dw[l]), (bias, model.dL_db[l])):
            assert ours.shape == theirs.shape and torch.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    assert all(p.grad is None for p in model.parameters())


def test_the_autograd_reference_takes_the_course_mnist_targets():
    model, samples = mnist_standin_cell(n_samples=1, seed=0)
    x, y = samples[0]
    y_pred = model(x)
    solution = backpropagation.exercise_function(model, y, y_pred)
    reference = backpropagation_by_autograd(model, y, y_pred)
    assert all(torch.allclose(solution[l], reference[l], rtol=1e-12, atol=1e-12) for l in solution)


def test_the_torch_optim_reference_equals_the_manual_gradient_step_bit_for_bit():
    torch.manual_seed(2)
    ours, theirs = MyNet([3, 4, 2]).double(), MyNet([3, 4, 2]).double()
    theirs.load_state_dict(ours.state_dict())
    for net in (ours, theirs):
        for l in (1, 2):
            net.dL_dw[l] = torch.full_like(net.fc[str(l)].weight, 0.3) * l
            net.dL_db[l] = torch.full_like(net.fc[str(l)].bias, -0.7)
    manual_sgd_step.exercise_function(ours, 0.13)
    gradient_step_by_torch_optim(theirs, 0.13)
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))
    assert all(p.grad is None for p in theirs.parameters())


@pytest.mark.parametrize("settings", [dict(lr=0.1), dict(lr=0.05, momentum=0.9, weight_decay=0.01, dampening=0.2),
                                      dict(lr=0.05, momentum=0.8, nesterov=True)])
def test_the_torch_optim_reference_equals_sgd_step_bit_for_bit_buffers_included(settings):
    generator = torch.Generator().manual_seed(3)
    start = [torch.randn(4, 3, generator=generator, dtype=torch.float64), torch.randn(4, generator=generator,
                                                                                      dtype=torch.float64)]
    runs = []
    for step in (sgd_step.exercise_function, sgd_step_by_torch_optim):
        params, buffers = [p.clone() for p in start], [None, None]
        gradients = torch.Generator().manual_seed(4)
        for _ in range(4):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gradients, dtype=torch.float64)
            step(params, buffers, **settings)
            assert all(p.grad is None for p in params)
        runs.append((params, buffers))
    (ours, our_buffers), (theirs, their_buffers) = runs
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(our_buffers, their_buffers))


def test_the_functional_reference_equals_mymlp_forward_bit_for_bit():
    torch.manual_seed(5)
    model = MyMLP().double()
    x = torch.randn(9, 3, 16, 16, dtype=torch.float64)
    assert torch.equal(MyMLP.forward.exercise_function(model, x), mlp_forward_by_functional(model, x))


def test_the_autograd_grad_reference_equals_training_step_bit_for_bit():
    results = []
    for step in (training_step.exercise_function, training_step_by_autograd_grad):
        torch.manual_seed(6)
        model = MyMLP(n_inputs=12, n_hidden=(5, 4)).double()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
        generator = torch.Generator().manual_seed(7)
        losses = [step(model, torch.nn.functional.cross_entropy, optimizer,
                       torch.randn(5, 12, generator=generator, dtype=torch.float64),
                       torch.randint(0, 2, (5,), generator=generator)).item() for _ in range(3)]
        assert all(p.grad is None or not p.grad.any() for p in model.parameters())
        results.append((losses, [p.detach().clone() for p in model.parameters()]))
    assert results[0][0] == results[1][0]
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))


def test_the_grouping_reference_gives_the_same_split():
    labels = torch.randint(0, 4, (257,), generator=torch.Generator().manual_seed(8))
    for fraction, seed in ((0.2, 265), (0.35, 1)):
        solution = catcar.stratified_split.exercise_function(labels, fraction, seed)
        reference = catcar._split_by_grouping(labels, fraction, seed)
        assert all(torch.equal(a, b) for a, b in zip(solution, reference))


def test_the_student_edition_hides_the_report_answers_but_poses_the_questions():
    path = ROOT / "helpers/experiments/catcar_answers.py"
    instructor = importlib.import_module("helpers.experiments.catcar_answers")
    student = _module_from(strip_solutions(path.read_text(encoding="utf-8")), instructor.__name__, path)
    for letter, hidden, full in (("a", student.answer_a(), instructor.answer_a()),
                                 ("c", student.answer_c(), instructor.answer_c()),
                                 ("b", student.answer_b(["x ok"]), instructor.answer_b(["x ok"]))):
        assert hidden.startswith(f"**({letter}) ") and hidden.endswith(student.HIDDEN)
        assert full.split("\n\n")[0] == hidden.split("\n\n")[0] and student.HIDDEN not in full
    assert "loss.backward()" not in student.answer_a() and "optimizer.step()" not in student.answer_c()


# --- further typical mistakes, each planted in the instructor's file and named by its exercise's check ---

FURTHER_MISTAKES = [  # (exercise, line, the line with the mistake, phrase of the diagnosis)
    ("3.1", "upstream = (2 * (y_pred.to(common) - y_true.to(common))).to(y_pred.dtype)",
     "upstream = ((y_pred.to(common) - y_true.to(common))).to(y_pred.dtype)", "missing the factor 2"),
    ("3.1", "upstream = (2 * (y_pred.to(common) - y_true.to(common))).to(y_pred.dtype)",
     "upstream = (2 * (y_true.to(common) - y_pred.to(common))).to(y_pred.dtype)", "sign error"),
    ("3.1", "model.dL_db[l] = delta.sum(dim=0)", "model.dL_db[l] = delta", "not summed over the batch"),
    ("3.1", "model.dL_dw[l] = delta.T @ model.a[l - 1]", "model.dL_dw[l] = delta.T @ model.a[l - 1] / len(delta)",
     "an extra 1/N"),
    ("3.1", "delta = upstream * model.df[l](model.z[l])", "delta = upstream", "forgot the local derivative"),
    ("3.1", "delta = upstream * model.df[l](model.z[l])", "delta = upstream * model.df[l](model.a[l])",
     "wrong activation derivative"),
    ("3.2", "layer.bias.add_(model.dL_db[l], alpha=-lr)", "pass", "biases not updated"),
    ("3.2", "layer.weight.add_(model.dL_dw[l], alpha=-lr)", "layer.weight.add_(model.dL_dw[l], alpha=-1)",
     "learning rate not applied"),
    ("4.1", "members = members[torch.randperm(len(members), generator=generator)]", "members = members",
     "not random"),
    ("4.1", "members = members[torch.randperm(len(members), generator=generator)]",
     "members = members[torch.randperm(len(members))]", "the seed is ignored"),
    ("4.2", "hidden = torch.relu(self.fc2(torch.relu(self.fc1(x))))", "hidden = torch.relu(self.fc2(self.fc1(x)))",
     "first hidden layer"),
    ("4.2", "scores = self.fc3(hidden)", "scores = torch.softmax(self.fc3(hidden), dim=1)", "softmax"),
    ("4.3", "loss.backward()      # fills p.grad of every parameter", "pass", "did not move"),
    ("4.4", "grad = grad.add(p, alpha=weight_decay)", "grad = grad.add(p, alpha=-weight_decay)", "wrong sign"),
    ("4.4", "momentum_buffers[i].mul_(momentum).add_(grad, alpha=1 - dampening)",
     "momentum_buffers[i].mul_(momentum).add_(grad)", "dampening left out"),
    ("4.4", "p.add_(grad, alpha=-lr)", "p.add_(grad, alpha=lr)", "wrong direction"),
    ("4.4", "grad = grad.add(buf, alpha=momentum) if nesterov else buf", "grad = buf", "Nesterov"),
    ("4.4", "p.grad = None  # what optimizer.zero_grad() does", "pass  #", "p.grad = None"),
]


@pytest.mark.parametrize("exercise_id, line, mistaken, phrase", FURTHER_MISTAKES,
                         ids=[f"{m[0]}-{m[3]}" for m in FURTHER_MISTAKES])
def test_a_further_mistake_fails_its_exercise_with_its_diagnosis(exercise_id, line, mistaken, phrase, tmp_path):
    source = (ROOT / (TARGETS[exercise_id][0].replace(".", "/") + ".py")).read_text(encoding="utf-8")
    assert source.count(line) == 1, line
    workspace = _workspace_with(tmp_path, exercise_id, lambda text: text.replace(line, mistaken))
    result = run_checks(exercise_id, workspace)
    assert not result.passed and phrase in "\n".join(result.lines()), "\n".join(result.lines())


# --- fairness: rounding passes and is never taken for a mistake; deltas returned; inputs left alone ----------

def _replacing(*pairs):
    def change(text):
        for old, new in pairs:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        return text
    return change


FAIR_SOLUTIONS = [  # (exercise, changes, a diagnosis that must not be shown)
    ("4.4", _replacing(("grad = grad.add(p, alpha=weight_decay)", "grad = grad + weight_decay * p"),
                       ("p.add_(grad, alpha=-lr)", "p.sub_(lr * grad)")), "weight decay"),
    ("4.4", _replacing(("p.add_(grad, alpha=-lr)", "p.sub_(grad / (1 / lr))")), "started from zeros"),
    ("3.2", _replacing(("layer.weight.add_(model.dL_dw[l], alpha=-lr)",
                        "layer.weight.sub_(model.dL_dw[l] / (1 / lr))")), "biases not updated"),
]


@pytest.mark.parametrize("exercise_id, change, wrong_diagnosis", FAIR_SOLUTIONS,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(FAIR_SOLUTIONS)])
def test_an_update_right_up_to_rounding_passes_and_is_not_taken_for_a_mistake(exercise_id, change, wrong_diagnosis,
                                                                               tmp_path):
    result = run_checks(exercise_id, _workspace_with(tmp_path, exercise_id, change))
    text = "\n".join(result.lines())
    assert result.passed, text
    assert wrong_diagnosis not in "\n".join(o.diagnosis for o in result.outcomes), text


def test_a_sgd_step_that_differs_by_rounding_is_named_as_such(tmp_path):
    workspace = _workspace_with(tmp_path, "4.4", _replacing(("p.add_(grad, alpha=-lr)", "p.sub_(grad / (1 / lr))")))
    result = run_checks("4.4", workspace)
    assert result.passed and any("ulp" in o.name for o in result.outcomes), result.lines()


def test_a_backpropagation_that_never_fills_the_returned_deltas_fails(tmp_path):
    workspace = _workspace_with(tmp_path, "3.1", _replacing(("deltas[l] = delta", "pass")))
    result = run_checks("3.1", workspace)
    assert not result.passed and "δ[" in "\n".join(result.lines()), result.lines()


IN_PLACE = [  # (exercise, line, the line also modifying an input in place, the right results kept)
    ("3.1", "model.dL_db[l] = delta.sum(dim=0)", "model.dL_db[l] = delta.sum(dim=0); model.z[l].zero_()"),
    ("4.1", "return torch.sort(torch.cat(train_parts)).values, torch.sort(torch.cat(val_parts)).values",
     "labels.zero_(); return torch.sort(torch.cat(train_parts)).values, torch.sort(torch.cat(val_parts)).values"),
    ("4.2", "scores = self.fc3(hidden)", "scores = self.fc3(hidden); x.zero_()"),
    ("4.3", "optimizer.step()\n", "optimizer.step(); x.zero_()\n"),
]


@pytest.mark.parametrize("exercise_id, line, changed", IN_PLACE, ids=[m[0] for m in IN_PLACE])
def test_modifying_an_input_in_place_fails(exercise_id, line, changed, tmp_path):
    result = run_checks(exercise_id, _workspace_with(tmp_path, exercise_id, _replacing((line, changed))))
    assert not result.passed and "in place" in "\n".join(result.lines()), result.lines()


def test_training_step_passes_while_the_forward_pass_is_not_done(tmp_path):
    solution = "        hidden = torch.relu(self.fc2(torch.relu(self.fc1(x))))\n        scores = self.fc3(hidden)\n"
    stub = ("        from helpers.runtime.exercises import ExerciseNotDone\n"
            "        raise ExerciseNotDone('MyMLP.forward', '<source>')\n")
    workspace = _workspace_with(tmp_path, "4.2", _replacing((solution, stub)))
    assert run_checks("4.2", workspace).not_done is not None
    result = run_checks("4.3", workspace)
    assert result.passed, result.lines()
