"""The checks of notebook 02's NYU exercises: 2.5 the ``mlp.py`` task (the MLP's forward and backward composed
from the pieces), 2.6 the backward pass in numerator layout (HW1 1.2 (c)), 2.7 the Jacobians (1.2 (d), 1.3).

2.5 runs the student's ``MLP.forward`` and ``MLP.backward`` with the reference pieces (``linear_backward`` and
the activations' backward passes of :mod:`helpers.backprop_references`) in place of the student's own, so only
the composition is judged. 2.6 gets the reference Jacobians, 2.7's ``jacobians`` the reference derivatives.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers import backprop_references as reference
from helpers import functional, mlp, two_layer_theory as theory
from helpers.checks.exercise_outcomes import first_failure, randn, replaced, seeded, tensor_outcome
from helpers.checks.exercises import CheckOutcome
from helpers.gradcheck import FINITE_DIFFERENCE_TOLERANCE, numerical_gradient

NYU_CASES = (("relu", "identity", "mse"), ("tanh", "sigmoid", "bce"), ("sigmoid", "tanh", "mse"))
REFERENCE_PIECES = {name: (function, getattr(reference, f"{name}_backward", lambda g, y: g))
                    for name, (function, _) in functional.ACTIVATIONS.items()}
TORCH_LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}


def _net(f: str, g: str, generator: torch.Generator) -> mlp.MLP:
    return mlp.MLP(3, 5, f, 5, 2, g, dtype=torch.float64, generator=generator)


def _reference_grads(net: mlp.MLP, dJdy_hat: torch.Tensor, f: str | None = None, g: str | None = None) -> dict:
    """The reference gradients of ``net`` at its cached input (optionally with f or g swapped: mistakes)."""
    twin = mlp.MLP.__new__(mlp.MLP)
    twin.__dict__.update(net.__dict__, f_function=f or net.f_function, g_function=g or net.g_function,
                         grads={name: torch.zeros_like(t) for name, t in net.grads.items()}, _record=None)
    reference.mlp_backward(twin, dJdy_hat)
    return twin.grads


def _grad_mistakes(name: str, net: mlp.MLP, dJdy_hat: torch.Tensor) -> dict:
    mistakes = {"the weight gradient is not transposed back to nn.Linear's (out, in) layout": lambda r: r.t(),
                "forgot the local derivative of g (the output activation)":
                    lambda r: _reference_grads(net, dJdy_hat, g="identity")[name],
                "forgot the local derivative of f (the hidden activation)":
                    lambda r: _reference_grads(net, dJdy_hat, f="identity")[name],
                "sign error": lambda r: -r}
    return mistakes


def check_nyu_mlp() -> list[CheckOutcome]:
    """Exercise 2.5: forward and cache against torch, backward against autograd (three f, g, loss cases), and
    central differences of the MSE case."""
    generator, outcomes = seeded(25), []
    with replaced(mlp, linear_backward=reference.linear_backward, ACTIVATIONS=REFERENCE_PIECES):
        for f, g, loss in NYU_CASES:
            net = _net(f, g, generator)
            x = randn(generator, 4, 3)
            y = torch.rand(4, 2, dtype=torch.float64, generator=generator)
            y_hat = net.forward(x)
            expected = reference._nyu_forward(net, x, **net.parameters)
            swapped = lambda r, net=net, x=x: reference._nyu_forward(  # noqa: E731
                _swapped(net), x, **net.parameters)["y_hat"]
            outcomes.append(first_failure(f"f={f}, g={g}: forward output and cache against torch", [
                tensor_outcome("y_hat", y_hat, expected["y_hat"], {
                    "f and g are swapped": swapped,
                    "g is not applied to the output": lambda r, e=expected: e["z2"]}, what="y_hat"),
                *(tensor_outcome(f"cache['{key}']", net.cache.get(key), expected[key], what=f"cache['{key}']")
                  for key in ("z1", "h", "z2"))]))
            dJdy_hat = reference.vjp(lambda p: TORCH_LOSSES[loss](p, y), (expected["y_hat"],),
                                     torch.ones((), dtype=torch.float64))[0]
            before = {name: t.clone() for name, t in net.parameters.items()}
            net.backward(dJdy_hat)
            wanted = _reference_grads(net, dJdy_hat)
            outcomes.append(first_failure(f"f={f}, g={g}, {loss}: grads against autograd", [
                tensor_outcome(name, net.grads[name], wanted[name], _grad_mistakes(name, net, dJdy_hat), what=name)
                for name in wanted]))
            unchanged = all(torch.equal(before[name], t) for name, t in net.parameters.items())
            outcomes.append(CheckOutcome(f"f={f}, g={g}: backward leaves the parameters alone", unchanged,
                                         "" if unchanged else "backward only fills grads; it takes no step"))
        outcomes.append(_nyu_finite_differences(generator))
    return outcomes


def _swapped(net: mlp.MLP):
    twin = mlp.MLP.__new__(mlp.MLP)
    twin.__dict__.update(net.__dict__, f_function=net.g_function, g_function=net.f_function)
    return twin


def _nyu_finite_differences(generator: torch.Generator) -> CheckOutcome:
    net = _net("tanh", "identity", generator)
    x, y = randn(generator, 4, 3), randn(generator, 4, 2)
    objective = lambda: F.mse_loss(reference._nyu_forward(net, x, **net.parameters)["y_hat"], y)  # noqa: E731
    net.forward(x)
    net.backward(reference.mse_backward(net.cache["y_hat"], y))
    value = objective().item()
    return first_failure("f=tanh, g=identity, mse: grads against central differences", [
        tensor_outcome(f"dJd{name}", net.grads[f"dJd{name}"], numerical_gradient(objective, parameter), {},
                       FINITE_DIFFERENCE_TOLERANCE, value, f"dJd{name}") for name, parameter in net.parameters.items()])


THEORY_CASES = (("5relu", "identity", "sse", "real"), ("tanh", "sigmoid", "sse", "binary"),
                ("tanh", "sigmoid", "bce", "binary"))


def check_numerator_layout() -> list[CheckOutcome]:
    """Exercise 2.6: the six numerator-layout derivatives against autograd (three cases, the reference
    Jacobians given) and the parameters' against central differences."""
    outcomes = []
    for seed, (f, g, loss, target) in enumerate(THEORY_CASES):
        params, x, y = theory.random_problem(n=3, h=4, k=2, seed=(16, 13, 13)[seed], target=target)
        table = theory.forward_table(params, x, y, f, g, loss)
        jac = theory.jacobians_reference(table, y, f, g, loss)
        student = theory.numerator_layout_gradients(params, table, jac)
        expected = theory.numerator_layout_gradients_reference(params, table, jac)
        identity = {name: torch.eye(m.shape[0], dtype=m.dtype) for name, m in jac.items() if name != "dl/dy_hat"}

        def without(jacobian, name):
            return lambda r: theory.numerator_layout_gradients_reference(params, table, {**jac, jacobian: identity[jacobian]})[name]
        checks = [tensor_outcome(name, student.get(name) if isinstance(student, dict) else None, want, {
            "not in numerator layout: this is the transpose (PyTorch's .grad layout)": lambda r: r.T,
            "the Jacobian dy_hat/dz3 of g is missing from the chain": without("dy_hat/dz3", name),
            "the Jacobian dz2/dz1 of f is missing from the chain": without("dz2/dz1", name),
            "sign error": lambda r: -r}, what=name) for name, want in expected.items()]
        outcomes.append(first_failure(f"f={f}, g={g}, {loss}: all six against autograd", checks))
        if seed == 0 and isinstance(student, dict):
            work = {name: p.clone() for name, p in params.items()}
            value = lambda: theory.forward_table(work, x, y, f, g, loss).loss  # noqa: E731
            outcomes.append(first_failure(f"f={f}, g={g}, {loss}: parameters against central differences", [
                tensor_outcome(name, student.get(name), numerical_gradient(value, work[name]).T,
                               {"not in numerator layout: this is the transpose": lambda r: r.T},
                               FINITE_DIFFERENCE_TOLERANCE, value().item(), name) for name in theory.PARAMETERS]))
    return outcomes


def check_jacobians() -> list[CheckOutcome]:
    """Exercise 2.7: each activation's derivative, each loss's row gradient, then the assembled Jacobians."""
    generator = seeded(27)
    z = randn(generator, 6, 1)
    z[0, 0] = 0.0  # a ReLU kink: derivative 0
    outcomes = [first_failure("local_derivative of 5relu, relu, tanh, sigmoid, identity against autograd", [
        tensor_outcome(name, theory.local_derivative(name, z), theory.local_derivative_reference(name, z), {
            "the factor 5 of 5 ReLU is missing": lambda r: r / 5,
            "returned the activation itself, not its derivative": lambda r, n=name: theory.ELEMENTWISE[n](z),
            "sign error": lambda r: -r}, what=f"the derivative of {name}") for name in theory.ELEMENTWISE])]
    y_hat, y = torch.sigmoid(randn(generator, 3, 1)), (randn(generator, 3, 1) > 0).double()
    outcomes.append(first_failure("loss_row_gradient of sse and bce against autograd", [
        tensor_outcome(loss, theory.loss_row_gradient(loss, y_hat, y), theory.loss_row_gradient_reference(loss, y_hat, y), {
            "a column, not a row: numerator layout makes dl/dy_hat a (1, K) row": lambda r: r.T,
            "the factor 2 of the square is missing": lambda r: r / 2,
            "the 1/K of the BCE mean is missing": lambda r: r * len(y),
            "sign error": lambda r: -r}, what=f"dl/dy_hat ({loss})") for loss in ("sse", "bce")]))
    with replaced(theory, local_derivative=theory.local_derivative_reference,
                  loss_row_gradient=theory.loss_row_gradient_reference):
        for f, g, loss, target in THEORY_CASES:
            params, x, target_y = theory.random_problem(n=3, h=4, k=2, seed=70, target=target)
            table = theory.forward_table(params, x, target_y, f, g, loss)
            student = theory.jacobians(table, target_y, f, g, loss)
            expected = theory.jacobians_reference(table, target_y, f, g, loss)
            outcomes.append(first_failure(f"jacobians, f={f}, g={g}, {loss}: the three matrices against autograd", [
                tensor_outcome(name, student.get(name) if isinstance(student, dict) else None, want, {
                    "an element-wise function's Jacobian kept as a vector: it is a (diagonal) matrix":
                        lambda r: torch.diagonal(r)[:, None],
                    "an element-wise function's Jacobian kept as a row vector": lambda r: torch.diagonal(r)[None, :],
                    "a column, not a row": lambda r: r.T}, what=name) for name, want in expected.items()]))
    return outcomes
