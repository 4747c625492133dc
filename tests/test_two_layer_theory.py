"""helpers.two_layer_theory: the NYU §1.2–1.3 formulas in numerator layout, against numbers worked out by
hand, against autograd and central differences, and failing when a factor is planted wrong."""
import pytest
import torch

from helpers import two_layer_theory as theory
from helpers.checks import nb02_mlp as nb02

CASES = [("5relu", "identity", "sse", "real"),  # NYU 1.2
         ("tanh", "sigmoid", "sse", "binary"),  # NYU 1.3 (a)
         ("tanh", "sigmoid", "bce", "binary")]  # NYU 1.3 (b)


def hand_problem():
    """n = 1, h = 2, K = 1, small enough to do on paper (see the test below)."""
    t = lambda rows: torch.tensor(rows, dtype=torch.float64)  # noqa: E731
    params = {"W1": t([[1.0], [-1.0]]), "b1": t([[0.5], [0.5]]), "W2": t([[1.0, 3.0]]), "b2": t([[-1.0]])}
    return params, t([[2.0]]), t([[10.0]])


def test_the_worked_example_matches_the_paper_answer():
    # z1 = (2.5, -1.5), z2 = 5 relu(z1) = (12.5, 0), z3 = 12.5 - 1 = 11.5, loss = (11.5 - 10)^2 = 2.25;
    # dl/dy_hat = 2 * 1.5 = 3 = dl/dz3; dl/dz1 = 3 * (1, 3) diag(5, 0) = (15, 0);
    # dl/dW2 = z2 dl/dz3 = (37.5, 0)^T; dl/dW1 = x dl/dz1 = (30, 0); dl/db1 = (15, 0); dl/db2 = 3.
    params, x, y = hand_problem()
    table = theory.forward_table(params, x, y, "5relu", "identity", "sse")
    assert table.z1.flatten().tolist() == [2.5, -1.5] and table.z2.flatten().tolist() == [12.5, 0.0]
    assert table.y_hat.item() == 11.5 and table.loss.item() == 2.25
    jac = theory.jacobians(table, y, "5relu", "identity", "sse")
    assert jac["dz2/dz1"].tolist() == [[5.0, 0.0], [0.0, 0.0]] and jac["dy_hat/dz3"].tolist() == [[1.0]]
    grads = theory.numerator_layout_gradients(params, table, jac)
    assert grads["dl/dz1"].tolist() == [[15.0, 0.0]]
    assert grads["W2"].tolist() == [[37.5], [0.0]] and grads["b2"].tolist() == [[3.0]]
    assert grads["W1"].tolist() == [[30.0, 0.0]] and grads["b1"].tolist() == [[15.0, 0.0]]


def test_numerator_layout_shapes_are_the_transposes_of_the_parameters():
    params, x, y = theory.random_problem(n=3, h=4, k=2, seed=0)
    table = theory.forward_table(params, x, y, "5relu", "identity", "sse")
    grads = theory.numerator_layout_gradients(params, table, theory.jacobians(table, y, "5relu", "identity", "sse"))
    expected = {"W1": (3, 4), "b1": (1, 4), "W2": (4, 2), "b2": (1, 2), "dl/dz1": (1, 4), "dl/dz3": (1, 2)}
    assert {name: tuple(g.shape) for name, g in grads.items()} == expected
    for name in theory.PARAMETERS:
        assert grads[name].T.shape == params[name].shape


@pytest.mark.parametrize("f, g, loss, target", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_formulas_agree_with_autograd_and_central_differences(f, g, loss, target, seed):
    params, x, y = theory.random_problem(n=3, h=5, k=2, seed=seed, target=target)
    rows = nb02.check_formulas(params, x, y, f, g, loss)
    assert len(rows) == 8 and all(row.passed for row in rows), [row.verdict for row in rows]


def test_the_check_catches_a_missing_factor(monkeypatch):
    # the slope of 5 relu taken as 1 instead of 5: every gradient through f is a fifth of the truth
    right = theory.local_derivative
    monkeypatch.setattr(theory, "local_derivative", lambda name, z: right(name, z) / 5 if name == "5relu" else right(name, z))
    params, x, y = theory.random_problem(n=3, h=5, k=2, seed=0)
    failed = {row.name for row in nb02.check_formulas(params, x, y, "5relu", "identity", "sse") if not row.passed}
    assert failed == {"W1 vs autograd", "b1 vs autograd", "W1 vs central differences", "b1 vs central differences"}


def test_bce_after_a_sigmoid_cancels_the_sigmoid_slope():
    # NYU 1.3 (b): dl/dz3 = (y_hat - y)^T / K, whatever the saturation
    params, x, y = theory.random_problem(n=3, h=5, k=4, seed=2, target="binary")
    table = theory.forward_table(params, x, y, "tanh", "sigmoid", "bce")
    grads = theory.numerator_layout_gradients(params, table, theory.jacobians(table, y, "tanh", "sigmoid", "bce"))
    torch.testing.assert_close(grads["dl/dz3"], (table.y_hat - y).T / 4, rtol=1e-12, atol=1e-15)


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="'sse' or 'bce'"):
        theory.loss_value("hinge", torch.zeros(2, 1), torch.zeros(2, 1))


@pytest.mark.parametrize("change, message", [
    (lambda p, x, y: (p, x[:2], y), r"x: expected shape \(3, 1\)"),
    (lambda p, x, y: (p, x.T, y), r"x: expected shape \(3, 1\)"),
    (lambda p, x, y: (p, x.float(), y), "expected dtype torch.float64"),
    (lambda p, x, y: ({**p, "b1": p["b1"].flatten()}, x, y), r"b1: expected shape \(5, 1\)"),
    (lambda p, x, y: (p, x, torch.full_like(y, float("nan"))), "y: expected finite values"),
    (lambda p, x, y: ({k: v for k, v in p.items() if k != "b2"}, x, y), "exactly the keys"),
])
def test_bad_inputs_get_a_clear_error(change, message):
    params, x, y = change(*theory.random_problem(n=3, h=5, k=2, seed=0))
    with pytest.raises(ValueError, match=message):
        theory.forward_table(params, x, y, "5relu", "identity", "sse")


def test_unknown_activation_is_refused():
    params, x, y = theory.random_problem(n=3, h=5, k=2, seed=0)
    with pytest.raises(ValueError, match="f must be one of"):
        theory.forward_table(params, x, y, "gelu", "identity", "sse")


def test_unknown_activation_derivative_is_refused():
    with pytest.raises(ValueError, match="name must be one of"):
        theory.local_derivative("gelu", torch.zeros(2, 1, dtype=torch.float64))
