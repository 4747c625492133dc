"""The checks of notebook 02's NYU exercises: 2.5 the ``mlp.py`` task (the MLP's forward and backward composed
from the pieces), 2.6 the backward pass in numerator layout (HW1 1.2 (c)), 2.7 the Jacobians (1.2 (d), 1.3).

2.5 runs the student's ``MLP.forward`` and ``MLP.backward`` with the reference pieces (``linear_backward`` and
the activations' backward passes of :mod:`helpers.backprop_references`) in place of the student's own, so only
the composition is judged. 2.6 gets the reference Jacobians, 2.7's ``jacobians`` the reference derivatives.
The student's code runs in the sandbox (``code``; objects are built there by :mod:`.harness_mlp`); every reference
is computed here.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from helpers import backprop_references as reference
from helpers import mlp, two_layer_theory as theory
from helpers.checks.exercise_outcomes import first_failure, randn, seeded, tensor_outcome
from helpers.checks.toolkit import CheckOutcome
from helpers.gradcheck import FINITE_DIFFERENCE_TOLERANCE, numerical_gradient

NYU_CASES = (("relu", "identity", "mse"), ("tanh", "sigmoid", "bce"), ("sigmoid", "tanh", "mse"))
TORCH_LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}


def _net(f: str, g: str, generator: torch.Generator) -> mlp.MLP:
    return mlp.MLP(3, 5, f, 5, 2, g, dtype=torch.float64, generator=generator)


def _reference_net(f: str, g: str, parameters: dict, x: torch.Tensor) -> mlp.MLP:
    """A trusted ``mlp.MLP`` with these parameters, its cache filled by the reference forward pass."""
    (out1, in1), (out2, in2) = parameters["W1"].shape, parameters["W2"].shape
    net = mlp.MLP(in1, out1, f, in2, out2, g, dtype=parameters["W1"].dtype)
    net.parameters = {name: t.clone() for name, t in parameters.items()}
    net.grads = {f"dJd{name}": torch.zeros_like(t) for name, t in parameters.items()}
    reference.mlp_forward(net, x)
    return net


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


def _run(code, f: str, g: str, parameters: dict, x: torch.Tensor, dJdy_hat: torch.Tensor) -> dict:
    """The student's ``forward(x)`` then ``backward(dJdy_hat)`` in the sandbox (reference pieces inside)."""
    ran = code.call("helpers.checks.harness_mlp:nyu_forward_backward", f, g, parameters, x, dJdy_hat)
    if not isinstance(ran, dict) or not all(isinstance(ran.get(key), dict) for key in ("cache", "grads", "parameters")):
        raise TypeError("the MLP's cache, grads and parameters are not dicts of tensors")
    return ran


def check_nyu_mlp(code) -> list[CheckOutcome]:
    """Exercise 2.5: forward and cache against torch, backward against autograd (three f, g, loss cases), and
    central differences of the MSE case; the student's ``MLP`` runs in the sandbox."""
    generator, outcomes = seeded(25), []
    for f, g, loss in NYU_CASES:
        parameters = dict(_net(f, g, generator).parameters)
        x = randn(generator, 4, 3)
        y = torch.rand(4, 2, dtype=torch.float64, generator=generator)
        net = _reference_net(f, g, parameters, x)
        expected = reference._nyu_forward(net, x, **parameters)
        dJdy_hat = reference.vjp(lambda p: TORCH_LOSSES[loss](p, y), (expected["y_hat"],),
                                 torch.ones((), dtype=torch.float64))[0]
        ran = _run(code, f, g, parameters, x, dJdy_hat)
        swapped = lambda r, net=net, x=x: reference._nyu_forward(  # noqa: E731
            _swapped(net), x, **parameters)["y_hat"]
        outcomes.append(first_failure(f"f={f}, g={g}: forward output and cache against torch", [
            tensor_outcome("y_hat", ran["y_hat"], expected["y_hat"], {
                "f and g are swapped": swapped,
                "g is not applied to the output": lambda r, e=expected: e["z2"]}, what="y_hat"),
            *(tensor_outcome(f"cache['{key}']", ran["cache"].get(key), expected[key], what=f"cache['{key}']")
              for key in ("z1", "h", "z2"))]))
        wanted = _reference_grads(net, dJdy_hat)
        outcomes.append(first_failure(f"f={f}, g={g}, {loss}: grads against autograd", [
            tensor_outcome(name, ran["grads"].get(name), wanted[name], _grad_mistakes(name, net, dJdy_hat), what=name)
            for name in wanted]))
        after = ran["parameters"]
        unchanged = all(isinstance(after.get(name), torch.Tensor) and torch.equal(parameters[name], after[name])
                        for name in parameters)
        outcomes.append(CheckOutcome(f"f={f}, g={g}: backward leaves the parameters alone", unchanged,
                                     "" if unchanged else "backward only fills grads; it takes no step"))
    outcomes.append(_nyu_finite_differences(code, generator))
    return outcomes


def _swapped(net: mlp.MLP):
    twin = mlp.MLP.__new__(mlp.MLP)
    twin.__dict__.update(net.__dict__, f_function=net.g_function, g_function=net.f_function)
    return twin


def _nyu_finite_differences(code, generator: torch.Generator) -> CheckOutcome:
    parameters = dict(_net("tanh", "identity", generator).parameters)
    x, y = randn(generator, 4, 3), randn(generator, 4, 2)
    work = {name: t.clone() for name, t in parameters.items()}
    net = _reference_net("tanh", "identity", parameters, x)
    objective = lambda: F.mse_loss(reference._nyu_forward(net, x, **work)["y_hat"], y)  # noqa: E731
    ran = _run(code, "tanh", "identity", parameters, x, reference.mse_backward(net.cache["y_hat"], y))
    value = objective().item()
    return first_failure("f=tanh, g=identity, mse: grads against central differences", [
        tensor_outcome(f"dJd{name}", ran["grads"].get(f"dJd{name}"), numerical_gradient(objective, parameter), {},
                       FINITE_DIFFERENCE_TOLERANCE, value, f"dJd{name}") for name, parameter in work.items()])


def _fields(table: theory.ForwardTable) -> dict:
    """A forward table as data (the sandbox rebuilds the ``ForwardTable``)."""
    return {field.name: getattr(table, field.name) for field in dataclasses.fields(table)}


THEORY_CASES = (("5relu", "identity", "sse", "real"), ("tanh", "sigmoid", "sse", "binary"),
                ("tanh", "sigmoid", "bce", "binary"))


def check_numerator_layout(code) -> list[CheckOutcome]:
    """Exercise 2.6: the six numerator-layout derivatives against autograd (three cases, the reference
    Jacobians given) and the parameters' against central differences."""
    outcomes = []
    for seed, (f, g, loss, target) in enumerate(THEORY_CASES):
        params, x, y = theory.random_problem(n=3, h=4, k=2, seed=(16, 13, 13)[seed], target=target)
        table = theory.forward_table(params, x, y, f, g, loss)
        jac = theory.jacobians_reference(table, y, f, g, loss)
        student = code.call("helpers.checks.harness_mlp:numerator_layout_gradients", params, _fields(table), jac)
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


def check_jacobians(code) -> list[CheckOutcome]:
    """Exercise 2.7: each activation's derivative, each loss's row gradient, then the assembled Jacobians."""
    generator = seeded(27)
    z = randn(generator, 6, 1)
    z[0, 0] = 0.0  # a ReLU kink: derivative 0
    outcomes = [first_failure("local_derivative of 5relu, relu, tanh, sigmoid, identity against autograd", [
        tensor_outcome(name, code.call("helpers.two_layer_theory:local_derivative", name, z), theory.local_derivative_reference(name, z), {
            "the factor 5 of 5 ReLU is missing": lambda r: r / 5,
            "returned the activation itself, not its derivative": lambda r, n=name: theory.ELEMENTWISE[n](z),
            "sign error": lambda r: -r}, what=f"the derivative of {name}") for name in theory.ELEMENTWISE])]
    y_hat, y = torch.sigmoid(randn(generator, 3, 1)), (randn(generator, 3, 1) > 0).double()
    outcomes.append(first_failure("loss_row_gradient of sse and bce against autograd", [
        tensor_outcome(loss, code.call("helpers.two_layer_theory:loss_row_gradient", loss, y_hat, y), theory.loss_row_gradient_reference(loss, y_hat, y), {
            "a column, not a row: numerator layout makes dl/dy_hat a (1, K) row": lambda r: r.T,
            "the factor 2 of the square is missing": lambda r: r / 2,
            "the 1/K of the BCE mean is missing": lambda r: r * len(y),
            "sign error": lambda r: -r}, what=f"dl/dy_hat ({loss})") for loss in ("sse", "bce")]))
    for f, g, loss, target in THEORY_CASES:
        params, x, target_y = theory.random_problem(n=3, h=4, k=2, seed=70, target=target)
        table = theory.forward_table(params, x, target_y, f, g, loss)
        student = code.call("helpers.checks.harness_mlp:jacobians_on_reference_derivatives", _fields(table),
                            target_y, f, g, loss)
        expected = theory.jacobians_reference(table, target_y, f, g, loss)
        outcomes.append(first_failure(f"jacobians, f={f}, g={g}, {loss}: the three matrices against autograd", [
            tensor_outcome(name, student.get(name) if isinstance(student, dict) else None, want, {
                "an element-wise function's Jacobian kept as a vector: it is a (diagonal) matrix":
                    lambda r: torch.diagonal(r)[:, None],
                "an element-wise function's Jacobian kept as a row vector": lambda r: torch.diagonal(r)[None, :],
                "a column, not a row": lambda r: r.T}, what=name) for name, want in expected.items()]))
    return outcomes
