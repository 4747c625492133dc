"""The layer walkthrough in the student edition (helpers.runtime.edition.SHOWS_ANSWERS False): each backward step
shows the model's own δ[l], dL/dW[l] and dL/db[l] with names, shapes and autograd's verdict, but neither the
factors they are formed from nor the rule (exercises 2.1 and 3.1); the student's copy of the module, as
tools.editions writes it, holds none of those formulas either."""
from __future__ import annotations

import sys
import types

import pytest

import helpers.plots.layer_walkthrough_steps as layer_walkthrough
from helpers.data.paths import PROJECT_ROOT
from helpers.runtime import edition
from tests.test_layer_walkthrough import NETWORKS, autograd_twin, forgets_the_slope_in_hidden_layers, mynet, same, shown
from tools.editions import strip_solutions

# Spellings of the answers: the factors' product (either layout), the rule's ⊙ and the sum over the batch.
ANSWER_MARKS = ("⊙", "Σ", "ᵀ", "·", "W[{l + 1}]", "sum over")


@pytest.fixture
def student_edition(monkeypatch):
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)


@pytest.mark.parametrize("name", NETWORKS)
def test_backward_steps_show_only_the_models_results_and_autograds_verdict(name, student_edition):
    model, x, y = NETWORKS[name]()
    walk, twin = layer_walkthrough.build_layer_walkthrough(model, x, y), autograd_twin(model, x, y)
    for step in (s for s in walk.steps if s.phase == "backward"):
        l = step.layer
        assert [p.name for p in step.panels] == [f"δ[{l}]", f"dL/db[{l}]", f"dL/dW[{l}]"]
        assert not [item for row in step.equations for item in row if isinstance(item, str)]  # no operators
        assert not [mark for mark in ANSWER_MARKS if mark in step.formula], step.formula
        for panel in step.panels:
            assert panel.shape_text in step.formula and panel.reference is not None
        assert same(shown(step, f"δ[{l}]"), twin["delta"][l - 1])
        assert same(shown(step, f"dL/dW[{l}]"), twin["dW"][l - 1]) and same(shown(step, f"dL/db[{l}]"), twin["db"][l - 1])
        assert step.agrees


def test_a_wrong_backward_still_shows_at_its_step(student_edition):
    net, x, y = mynet([2, 3, 3, 2], "tanh", 4)
    steps = layer_walkthrough.build_layer_walkthrough(net, x, y, forgets_the_slope_in_hidden_layers).steps
    assert [(s.phase, s.layer) for s in steps if not s.agrees] == [("backward", 2), ("backward", 1)]
    second = next(s for s in steps if s.phase == "backward" and s.layer == 2)
    assert {p.name for p in second.panels if not p.agrees} == {"δ[2]", "dL/dW[2]", "dL/db[2]"}


def test_the_students_copy_of_the_module_has_no_formula_and_walks_the_same(student_edition, monkeypatch):
    path = PROJECT_ROOT / "helpers" / "plots" / "layer_walkthrough_steps.py"
    source = strip_solutions(path.read_text(), str(path))
    assert "student edition:" not in source  # the one mechanism: _with_factors runs only if SHOWS_ANSWERS
    student = types.ModuleType("student_layer_walkthrough")
    monkeypatch.setitem(sys.modules, student.__name__, student)  # dataclasses look their module up
    exec(compile(source, str(path), "exec"), student.__dict__)
    model, x, y = NETWORKS["MyNet [2, 3, 2] tanh, batch 4"]()
    ours, theirs = (module.build_layer_walkthrough(model, x, y).steps for module in (layer_walkthrough, student))
    assert [(s.title, s.formula, [p.name for p in s.panels]) for s in ours] == \
        [(s.title, s.formula, [p.name for p in s.panels]) for s in theirs]


def test_the_instructors_edition_still_draws_the_factors():
    model, x, y = NETWORKS["MyNet [2, 3, 2] tanh, batch 4"]()
    step = next(s for s in layer_walkthrough.build_layer_walkthrough(model, x, y).steps if s.phase == "backward")
    assert "⊙" in step.formula and [p.name for p in step.equations[1] if not isinstance(p, str)][:2] == ["δ[2]ᵀ", "a[1]"]


def test_the_student_figure_draws_the_results_without_operators(student_edition):
    from helpers.plots.layer_walkthrough import LayerWalkthroughFigure
    model, x, y = NETWORKS["layers.MLP, 3 layers, batch 4"]()
    figure = LayerWalkthroughFigure(model, x, y)
    for index, step in enumerate(figure.steps):
        figure.rgba(index)
        labels = [m.label.get_text() for row in figure.matrix_pool for m in row if m.label.get_visible()]
        operators = [t.get_text() for row in figure.operator_pool for t in row if t.get_visible()]
        assert sorted(labels) == sorted(f"{p.name}  {p.shape_text}" for p in step.panels)
        if step.phase == "backward":
            assert operators == [] and figure.caption[1].get_text() == step.formula
            assert "agrees with autograd" in figure.caption[2].get_text()
