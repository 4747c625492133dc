"""The course's chain-rule table (helpers.chain_rule): breakdown, local gradients and expansion of every
primitive, the backward pass summed over consumers, the numeric-gradient column, the comparison with a closed
form and the products each order of the chain rule needs."""
import math

import pytest

from helpers import scalar_autodiff
from helpers.chain_rule import (ChainRuleCosts, chain_rule_costs, chain_rule_table, compare_with_closed_form,
                                expansions, notation)
from helpers.scalar_autodiff import Value, cos, exp, format_number, input_gradients, log, sin
from tests.test_scalar_autodiff import linear_loss


def test_table_rows_breakdown_local_gradients_and_expansion():
    L, (w, x, b, y) = linear_loss()
    table = chain_rule_table(L)
    assert [r.breakdown for r in table.rows] == ["p = w·x", "q = p + b", "r = q - y", "L = r²"]
    assert [r.expansion for r in table.rows] == ["p = wx", "q = wx + b", "r = wx + b - y", "L = (wx + b - y)²"]
    assert [[(g.operand, g.formula) for g in r.local_gradients] for r in table.rows] == [
        [("w", "x"), ("x", "w")], [("p", "1"), ("b", "1")], [("q", "1"), ("y", "-1")], [("r", "2r")]]
    residual = 2.0 * 3.0 + 1.0 - 4.0
    assert [r.value for r in table.rows] == [6.0, 7.0, residual, residual ** 2]
    assert table.rows[0].local_gradients[0].value == x.data  # ∂p/∂w = x
    assert table.rows[3].local_gradients[0].value == 2 * residual  # ∂L/∂r = 2r
    # closed forms: ∂L/∂w = 2(wx + b - y)x, ∂L/∂x = 2(wx + b - y)w, ∂L/∂b = 2(...), ∂L/∂y = -2(...)
    assert table.input_gradients == {"w": 2 * residual * 3.0, "x": 2 * residual * 2.0, "b": 2 * residual,
                                     "y": -2 * residual}
    for name, grad in table.input_gradients.items():
        assert table.numerical[name] == pytest.approx(grad, rel=1e-8)
    text = str(table)
    assert "∂p/∂w = x = 3" in text and "∂L/∂r = 2r = 6" in text
    assert "∂L/∂x = ∂L/∂p·∂p/∂x = 6·2 = 12" in text


def test_backward_pass_reuses_upstream_gradients_and_sums_over_consumers():
    x, y = Value(0.5, "x"), Value(-1.5, "y")
    f = sin(x * y) + x * x  # x feeds two primitives, and one of them twice
    f.label = "f"
    table = chain_rule_table(f)
    step_x = next(s for s in table.backward if s.name == "x")
    assert len(step_x.terms) == 2  # ∂f/∂p·∂p/∂x + ∂f/∂r·∂r/∂x, the x·x slots summed into one term
    assert sum(up * local for _, up, local in step_x.terms) == pytest.approx(step_x.gradient, rel=1e-15)
    assert step_x.gradient == pytest.approx(y.data * math.cos(x.data * y.data) + 2 * x.data, rel=1e-15)
    square = next(r for r in table.rows if r.breakdown.endswith("x·x"))
    assert square.local_gradients[0].formula == "x + x" and square.local_gradients[0].value == 2 * x.data
    assert [s.name for s in table.backward][0] == "f" and table.backward[0].gradient == 1.0


def test_constants_get_no_local_gradient_row():
    x = Value(1.5, "x")
    table = chain_rule_table(2 * x + 1)
    assert [g.operand for r in table.rows for g in r.local_gradients] == ["x", "p"]


def test_expansions_use_minimal_parentheses():
    a, b, c, p = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c"), Value(4.0, "p")
    cases = {
        "(a + b)c": (a + b) * c, "a - (b - c)": a - (b - c), "a/(bc)": a / (b * c), "-(a + b)": -(a + b),
        "(-a)²": (-a) ** 2, "a·2": a * 2, "b·exp(a)": b * exp(a), "1/(1 + exp(-a))": 1 / (1 + exp(-a)),
        "(a/b)c": (a / b) * c, "p^a": p ** a, "2^a + b": 2 ** a + b, "a + (-2)": a + (-2),
    }
    for expected, value in cases.items():
        assert expansions(value)[id(value)] == expected


def test_powers_by_a_number_are_written_with_their_exponent():
    # breakdown and local gradient of f = q^n: integer exponents as superscripts, others as ^n
    expected = {2: ("q²", "2q"), 3: ("q³", "3q²"), -1: ("q⁻¹", "-q⁻²"), -2: ("q⁻²", "-2q⁻³"), 1: ("q¹", "1"),
                0: ("q⁰", "0"), 0.5: ("q^0.5", "0.5q^-0.5"), 1.5: ("q^1.5", "1.5q^0.5")}
    for n, (breakdown, formula) in expected.items():
        q = Value(1.5, "q")
        f = q ** n
        f.label = "f"
        (row,) = chain_rule_table(f).rows
        assert row.breakdown == f"f = {breakdown}" and row.expansion == f"f = {breakdown}"
        assert [g.formula for g in row.local_gradients] == [formula]
        assert row.local_gradients[0].value == pytest.approx(n * 1.5 ** (n - 1), rel=1e-15)


def test_every_primitive_has_a_notation_with_one_local_formula_per_operand():
    primitives = list(scalar_autodiff.PRIMITIVES.values())
    assert {p.name for p in primitives} == {"add", "sub", "mul", "div", "neg", "pow",
                                            "exp", "log", "sin", "cos", "sigmoid", "tanh"}
    for primitive in primitives + [scalar_autodiff.power_by(3.0)]:
        function = getattr(scalar_autodiff, primitive.function)
        n_operands = function.__code__.co_argcount - (primitive.exponent is not None)
        written = notation(primitive)
        assert len(written.local_formulas) == n_operands, primitive.name
        breakdown = written.breakdown.format(*("⟨a⟩", "⟨b⟩")[:n_operands])
        assert all(breakdown.count(o) == 1 for o in ("⟨a⟩", "⟨b⟩")[:n_operands]), primitive.name


def test_chain_rule_costs():
    L, _ = linear_loss()
    # 7 edges; forward mode follows 4 (w), 4 (x), 3 (b), 2 (y) edges; every input has one path of that length
    assert chain_rule_costs(L) == ChainRuleCosts(reverse_mode=7, forward_mode=13, path_by_path=13)
    x = Value(0.3, "x")
    c = sin(x) + cos(x)
    f = sin(c) + cos(c)
    # two diamonds in series: 8 edges, one input, 2 × 2 paths of 4 edges each
    assert chain_rule_costs(f) == ChainRuleCosts(reverse_mode=8, forward_mode=8, path_by_path=16)


def test_compare_with_closed_form():
    L, (w, x, b, y) = linear_loss()
    r = w.data * x.data + b.data - y.data
    right = {"w": 2 * r * x.data, "x": 2 * r * w.data, "b": 2 * r, "y": -2 * r}
    report = compare_with_closed_form(L, right)
    assert report.count("≤ 1e-12: ok") == 4 and "FAIL" not in report
    wrong = compare_with_closed_form(L, {**right, "w": r * x.data})
    assert wrong.count(": FAIL") == 1
    with pytest.raises(KeyError, match="closed_form must give exactly the inputs"):
        compare_with_closed_form(L, {"w": 1.0})
    assert input_gradients(L) == right


def test_the_student_edition_compares_without_showing_the_engines_numbers(monkeypatch):
    """At the student's own point the engine's gradients are entries of the exercise 0.12 tables."""
    from helpers.runtime import edition, exercises
    monkeypatch.setattr(exercises, "_announced", set())  # no reference has stood in (another test's may have)
    L, (w, x, b, y) = linear_loss()
    r = w.data * x.data + b.data - y.data
    mine = {"w": 2 * r * x.data, "x": 2 * r * w.data, "b": 2 * r, "y": r}  # ∂/∂y wrong
    shown = compare_with_closed_form(L, mine)
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)
    hidden = compare_with_closed_form(L, mine)
    engine_y = format_number(input_gradients(L)["y"])
    assert engine_y in shown.splitlines()[-1] and engine_y not in hidden.splitlines()[-1]
    assert [line.split()[-1] for line in hidden.splitlines()[1:]] == ["ok", "ok", "ok", "FAIL"]  # the verdicts stay
    assert all(line.split()[1] == "?" and format_number(mine[line.split()[0][3:]]) in line
               for line in hidden.splitlines()[1:])
    # a reference stood in (for this closed form, or the engine's backward): its numbers are not the student's
    exercises.announce_stand_in(exercises.ExerciseNotDone("line_loss_gradients", "00a.ipynb"), "torch autograd")
    masked = compare_with_closed_form(L, mine)
    rows = masked.splitlines()[1:-1]
    assert [row.split()[1:3] for row in rows] == [["?", "?"]] * 4 and "a reference stands in" in masked
    assert [row.split()[-1] for row in rows] == ["ok", "ok", "ok", "FAIL"]


# ---- the numeric-gradient column near the edge of a domain (issue 12) ---------------------------------

def test_an_input_on_the_edge_itself_gets_no_central_difference_and_the_table_says_so():
    x, y = Value(0.0, "x"), Value(2.0, "y")
    table = chain_rule_table(x ** 1.5 + y * y)  # x - h < 0 for every h: no central difference at x = 0
    assert table.numerical["x"] is None and table.numerical["y"] == pytest.approx(4.0, rel=1e-8)
    assert [line.split()[-1] for line in str(table).splitlines()[-2:]] == ["edge)", "4"]
    assert "n/a (domain edge)" in str(table).splitlines()[-2]
    near = chain_rule_table(log(Value(1e-7, "x")))  # next to the edge: a (shrunk) central difference
    assert near.numerical["x"] == pytest.approx(1e7, rel=1e-6) and "n/a" not in str(near)


# ---- bad input ---------------------------------------------------------------------------

def test_the_table_refuses_what_is_not_a_value():
    with pytest.raises(TypeError, match="expected the Value an expression produced, got float"):
        chain_rule_table(1.0)
