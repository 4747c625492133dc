"""Notebook 00's exercises: the instructor's code passes every check; each planted bug (tests/exercise_bugs_scalar.py,
applied as a text mutation of a copy of the instructor's file or notebook cell, like a student's edit; the checks
run it in the sandbox, tests/sandbox_workspaces.py) fails exactly its exercise with the diagnosis naming the
mistake; a stubbed exercise (the student edition's text) reports "not done yet"; the references that stand in
meanwhile give the solution's results.

Notebook 00's own text, in its three sessions (00a CS475, 00b CS-587 A and B, 00c NYU 1.4): together they pose
every question of CS-587 and CS475 (and NYU 1.4 a-c) as a numbered question followed by its answer, and each
session's closing table says where each of its questions is."""
from __future__ import annotations

import json
import math
import re
import types

import pytest
import torch

from helpers import custom_functions, graph_derivations, scalar_autodiff
from helpers.checks import nb00_graphs
from helpers.checks.exercises import all_exercises, run_checks
from helpers.checks.nb00_graphs import EXERCISES, check_derivation, cs587_derivations
from helpers.checks.stand_ins import _wrap_stubs
from helpers.data.paths import PROJECT_ROOT
from helpers.runtime import exercises as exercises_runtime
from helpers.scalar_autodiff import Value
from tests.exercise_bugs_scalar import PLANTED_BUGS
from tests.sandbox_workspaces import cells_for
from tools.editions import strip_solutions

IDS = [e.id for e in EXERCISES]
SESSIONS = (nb00_graphs.CHAIN_RULE_NOTEBOOK, nb00_graphs.AUTOGRAD_NOTEBOOK, nb00_graphs.GRAPH_NOTEBOOK)
NOTEBOOK_FUNCTIONS = {"0.1": "fit_line", "0.4": "line_loss_gradients", "0.5": "exp_log_gradients",
                      "0.7": "two_neuron_gradients"}
# what each helper exercise replaces in the real modules (for the references' test): module, attribute paths
PATCHED = {"0.2": (scalar_autodiff, ("ADD", "SUB", "MUL", "DIV", "NEG", "EXP", "LOG", "SIN", "COS", "SIGMOID",
                                     "TANH", "POW", "POWER")),
           "0.3": (scalar_autodiff, ("Value.backward", "topological_order")),
           "0.6": (graph_derivations, ("sigmoid_neuron_gradients",)),
           "0.8": (custom_functions, ("sin_over_x_derivative", "SinOverX.backward")),
           "0.9": (custom_functions, ("QuadraticForm.backward",)),
           "0.10": (custom_functions, ("Sigmoid.backward", "Softplus.backward")),
           "0.11": (graph_derivations, ("nyu_adjoints",))}


def notebook_of(name: str) -> str:
    """The notebook file (``notebooks/…``) whose solution cell defines ``name``, as the registry says."""
    (file,) = [e.files[0] for e in EXERCISES if name in e.functions]
    return f"notebooks/{file}"


def solution_cell(name: str) -> str:
    cells = json.loads((PROJECT_ROOT / notebook_of(name)).read_text(encoding="utf-8"))["cells"]
    (source,) = ["".join(c["source"]) for c in cells if c["cell_type"] == "code" and f"def {name}(" in "".join(c["source"])]
    return source


def notebook_function(name: str, source: str | None = None):
    """The function a solution cell defines, run with what the notebook's first cell imports."""
    namespace = {"torch": torch, "math": math, "__name__": "__main__"}
    exec(compile(source or solution_cell(name), notebook_of(name), "exec"), namespace)
    _wrap_stubs(namespace, "__main__")  # as in the student's notebook: a stub gets its stand-in
    return namespace[name]


def load_variant(monkeypatch, exercise_id: str, source: str):
    """Put the attributes of exercise ``exercise_id`` from ``source`` (a variant of its module's text, its stubs
    wrapped with their stand-ins as in the student edition) in place (only for the references' test below: the
    checks never run this process's code)."""
    module, attributes = PATCHED[exercise_id]
    variant = types.ModuleType(module.__name__)  # the module's name: the stand-ins are registered under it
    variant.__file__ = module.__file__
    exec(compile(source, module.__file__, "exec"), variant.__dict__)
    _wrap_stubs(variant.__dict__, module.__name__)
    owners = set()
    for path in attributes:
        owner_name, _, attribute = path.rpartition(".")
        if owner_name:  # a method: the real class gets the variant's (a staticmethod stays one)
            monkeypatch.setattr(getattr(module, owner_name), attribute, variant.__dict__[owner_name].__dict__[attribute])
            owners.add(owner_name)
        else:
            monkeypatch.setattr(module, attribute, getattr(variant, attribute))
    for owner_name in owners:  # the variant's methods refer to the real class from now on
        variant.__dict__[owner_name] = getattr(module, owner_name)


def test_the_registry_lists_the_checks_own_diagnoses_once_each():
    for exercise in EXERCISES:
        assert len(exercise.diagnoses) == len(set(exercise.diagnoses)) >= 2, exercise.id
        assert PLANTED_BUGS[exercise.id][3] in " ".join(exercise.diagnoses), exercise.id
    assert EXERCISES[1].diagnoses[:2] == (nb00_graphs.LOCAL_SIGN, nb00_graphs.NO_MINUS)  # the primitives' table's keys
    assert set(nb00_graphs.NYU_PATHS) == set(next(e for e in EXERCISES if e.id == "0.11").diagnoses)


def _nyu_expression():
    x, y, z, o = Value(1.0, "x"), Value(2.0, "y"), Value(-1.5, "z"), Value(0.5, "o")
    w = (x + y) * (z * o) + z
    return w, [x, y, z, o]


def _engine_probe():
    w, leaves = _nyu_expression()
    u = Value(0.7, "u")
    t = (u * u * Value(-1.2, "v") + u.exp()).tanh() + u ** 3 - u / (u + 2) + u.sigmoid().log() - (-u).cos() + 2 ** u
    order = [node.data for node in scalar_autodiff.topological_order(t)]
    w.backward()
    t.backward()
    return torch.tensor([*order, *[leaf.grad for leaf in leaves], u.grad, t.data], dtype=torch.float64)


def _functions_probe():
    x = torch.tensor([-800.0, -7.0, -0.3, 0.0, 1e-3, 0.6, 2.0, 50.0], dtype=torch.float64, requires_grad=True)
    y = torch.linspace(-1, 1, 8, dtype=torch.float64, requires_grad=True)
    bounded = x.clamp(-20, 20)
    total = (custom_functions.sin_over_x(bounded) + custom_functions.quadratic_form(bounded, y, 1.0, 1.5, 2.0)
             + custom_functions.softplus(x) + custom_functions.sigmoid(x)).sum()
    first = torch.autograd.grad(total, (x, y), create_graph=True)
    second = torch.autograd.grad(first[0].sum() + first[1].sum(), (x, y))
    return torch.cat([*first, *second, custom_functions.sin_over_x_derivative(bounded.detach())]).detach()


def _derivations_probe():
    points = torch.tensor([-1.5, 0.4, 2.0], dtype=torch.float64)
    results = [graph_derivations.sin_over_x_adjoints(points), graph_derivations.softplus_adjoints(points),
               graph_derivations.logistic_adjoints(points),
               graph_derivations.quadratic_form_adjoints(points, points.flip(0), 1.0, -0.5, 2.0),
               graph_derivations.nyu_adjoints(points, 1.0, points.flip(0), 0.5),
               graph_derivations.sigmoid_neuron_gradients(points, 0.7, points.flip(0), 1.0)]
    return torch.cat([torch.as_tensor(v).reshape(-1) for result in results for v in result.values()])


def _primitives_probe():
    cases = nb00_graphs.PRIMITIVE_CASES + tuple(nb00_graphs.power_cases())
    return torch.tensor([value for attribute, _, points, _ in cases for point in points
                         for value in _flat(_primitive_named(attribute)(*point))], dtype=torch.float64)


def _primitive_named(attribute: str):
    if attribute.startswith("power_by("):
        return scalar_autodiff.power_by(float(attribute[9:-1])).compute
    return getattr(scalar_autodiff, attribute)


def _flat(result):
    value, local = result
    return [value, *local]


def _engine_with_primitives_probe():
    return torch.cat([_primitives_probe(), _engine_probe()])


PROBES = {scalar_autodiff: _engine_with_primitives_probe, custom_functions: _functions_probe,
          graph_derivations: _derivations_probe}


@pytest.mark.parametrize("module", [scalar_autodiff, custom_functions, graph_derivations], ids=lambda m: m.__name__)
def test_the_references_give_the_solutions_results(module, monkeypatch, capsys):
    """The stand-ins the registry names (wrapped around the student edition's stubs) give the solution's results."""
    probe = PROBES[module]
    solution = probe()
    for exercise_id, (patched_module, _) in PATCHED.items():
        if patched_module is module:
            load_variant(monkeypatch, exercise_id, strip_solutions(open(module.__file__).read(), module.__file__))
    monkeypatch.setattr(exercises_runtime, "_announced", set())
    with_references = probe()
    assert "[not done yet]" in capsys.readouterr().out  # the stand-in says so
    # to round-off; absolutely where two terms of 1e-22 cancel (σ'' + softplus'' at x = 50)
    assert torch.allclose(with_references, solution, rtol=1e-12, atol=1e-30)


@pytest.mark.parametrize("exercise_id", sorted(NOTEBOOK_FUNCTIONS))
def test_the_notebook_references_give_the_solutions_results(exercise_id, capsys):
    name = NOTEBOOK_FUNCTIONS[exercise_id]
    solution = notebook_function(name)
    reference = notebook_function(name, strip_solutions(solution_cell(name), notebook_of(name)))
    if exercise_id == "0.1":  # torch.optim.SGD rounds its update in another order: float32 round-off, not bits
        x = torch.tensor([1.0, 2.0, 3.0, 4.0])
        for zero_grad in (True, False):
            mine, theirs = solution(x, 1 - x, 30, 0.01, zero_grad), reference(x, 1 - x, 30, 0.01, zero_grad)
            assert torch.allclose(torch.stack(mine[:2]), torch.stack(theirs[:2]), rtol=1e-5)
            assert theirs[0].is_leaf and theirs[0].requires_grad and len(theirs[2]) == 30
        return
    point = {"0.4": (0.5, 2.0, -0.3, 1.2), "0.5": (0.5, 0.3, 1.5),
             "0.7": ({"y": 1.0, "w₁": 0.5, "x": 1.2, "b₁": -0.3, "w₂": 0.8, "b₂": 0.1, "λ": 0.01},)}[exercise_id]
    mine, theirs = solution(*point), reference(*point)
    assert mine.keys() == theirs.keys()
    assert all(math.isclose(mine[k], theirs[k], rel_tol=1e-12) for k in mine)


def _stand_in_source(exercise_id: str) -> str:
    """The source of the stand-in the registry names for a notebook exercise, with the helpers it calls."""
    import inspect

    (reference, _), = all_exercises()[exercise_id].stand_ins.values()
    helpers = [nb00_graphs.autograd_floats, nb00_graphs.line_loss, nb00_graphs.exp_log, nb00_graphs.two_neurons]
    names = "TWO_NEURON_NAMES = " + repr(nb00_graphs.TWO_NEURON_NAMES) + "\n\n"
    return names + "\n\n".join(inspect.getsource(f) for f in [*helpers, reference])


STAND_INS = {"0.1": "fit_line_reference", "0.4": "line_loss_reference", "0.5": "exp_log_reference",
             "0.7": "two_neuron_reference"}


@pytest.mark.parametrize("exercise_id", sorted(STAND_INS))
def test_a_stand_in_the_student_can_read_is_no_answer(exercise_id):
    """A stand-in uses the library tool its exercise replaces (torch.optim.SGD for fit_line, autograd for the
    derivations by hand): the stand-in's code, pasted into the solution cell, fails the exercise's check."""
    name = NOTEBOOK_FUNCTIONS[exercise_id]
    pasted = _stand_in_source(exercise_id) + f"\n\n{name} = {STAND_INS[exercise_id]}\n"
    cells = tuple(pasted if f"def {name}(" in cell else cell for cell in cells_for(exercise_id))
    assert pasted in cells
    result = run_checks(exercise_id, notebook_cells=cells)
    assert not result.passed and "allowed tools" in "\n".join(result.lines()), "\n".join(result.lines())


# ---- the CS-587 part B derivations as the notebook reports them (check_derivation) ------------------------------

@pytest.mark.parametrize("name", ["sin(x)/x", "ax² + bxy + cy²", "ln(1 + eˣ)", "eˣ/(1 + eˣ)"])
def test_every_cs587_derivation_passes_all_its_checks(name):
    rows = cs587_derivations()[name].check()
    assert len(rows) >= 3 and all(row.passed for row in rows), [(r.name, r.verdict) for r in rows]


def test_a_wrong_derivation_fails_against_every_reference():
    x = torch.tensor([0.3, 0.7, 3.0], dtype=torch.float64)
    wrong = (x * torch.cos(x) + torch.sin(x)) / x ** 2  # sign slip in the product rule
    rows = check_derivation([wrong], {"autograd": lambda t: torch.sin(t) / t}, [x], ["x"])
    assert [row.passed for row in rows] == [False, False]


def test_check_derivation_refuses_bad_arguments_with_what_was_expected():
    with pytest.raises(TypeError, match="float64"):
        check_derivation([torch.zeros(2)], {"f": torch.sin}, [torch.zeros(2)], ["x"])
    with pytest.raises(ValueError, match="one entry per input"):
        check_derivation([], {"f": torch.sin}, [torch.zeros(2, dtype=torch.float64)], ["x"])


# ---- the notebook's questions: numbered, each answered, each listed ---------------------------------------------

QUESTION = re.compile(r"\*\*Question (\d+)\*\* \(([^)]*)\)")
TASKS = {"CS475": {"task 0", "task 1", "task 2", "task 3", "task 4", "task 5", "task 6"},
         "CS-587 A": {"results", "discussion 1", "discussion 2", "discussion 3", "discussion 4"},
         "NYU": {"1.4 a", "1.4 b", "1.4 c"}}


def markdown_cells(session: str) -> list[str]:
    cells = json.loads((PROJECT_ROOT / "notebooks" / f"{session}.ipynb").read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


@pytest.mark.parametrize("session", SESSIONS)
def test_questions_are_numbered_consecutively_and_each_is_answered_after_it_is_posed(session):
    text = "\n".join(markdown_cells(session))
    found = [(int(m.group(1)), m.start()) for m in QUESTION.finditer(text)]
    assert [number for number, _ in found] == list(range(1, len(found) + 1))
    for (number, start), (_, following) in zip(found, found[1:] + [(None, len(text))]):
        assert "**Answer.**" in text[start:following], f"question {number} has no answer before the next question"


@pytest.mark.parametrize("session, handout", list(zip(SESSIONS, ("CS475", "CS-587", "NYU"))))
def test_each_session_poses_the_questions_of_its_own_handout_only(session, handout):
    handouts = {m.group(2).split(",")[0].split(" ")[0] for m in QUESTION.finditer("\n".join(markdown_cells(session)))}
    assert handouts == {handout}, handouts


def test_every_task_of_the_handouts_has_a_question():
    sources = " ; ".join(m.group(2) for session in SESSIONS
                         for m in QUESTION.finditer("\n".join(markdown_cells(session))))
    for handout, tasks in TASKS.items():
        for task in tasks:
            assert re.search(rf"{re.escape(handout)}[^;]*\b{re.escape(task)}\b", sources), (handout, task)
    assert len(re.findall(r"CS-587 B", sources)) == 4  # sin(x)/x, ax² + bxy + cy², ln(1 + eˣ), second order


@pytest.mark.parametrize("session", SESSIONS)
def test_the_closing_table_lists_every_question_once(session):
    table = next(cell for cell in markdown_cells(session) if cell.startswith("## Where each question"))
    listed = [int(n) for n in re.findall(r"question (\d+) \|", table)]
    total = len(QUESTION.findall("\n".join(markdown_cells(session))))
    assert sorted(listed) == list(range(1, total + 1))
