"""Sandbox side of notebook 02's checks (:mod:`helpers.checks.nb02_mlp`): runs in the sandbox, builds the student's objects from data, runs the
exercise's code inside :func:`student_running` with the references in place of the other exercises' functions,
and returns data only (tensors, numbers, dicts)."""
from __future__ import annotations

from helpers.checks.sandbox_worker import resolve, stand_in, student_running


def linear_backward_and_step(weight, bias, lr: float, x, grad_out):
    """Exercise 2.4: a ``Linear`` with these parameters (clones), the student's ``forward`` and ``backward``
    (whose ``sgd_step`` is the exercise) with the reference ``linear_backward`` in place of the student's.

    Returns ``{"weight", "bias"}`` after the step, ``grad_x`` (what backward returned) and, per parameter,
    whether the layer still holds the same tensor object on the same storage (an in-place update)."""
    import torch

    from helpers import layers
    from helpers.checks.nb02_mlp import linear_backward_reference
    layers.linear_backward = stand_in(linear_backward_reference)
    d_in, d_out = weight.shape
    layer = layers.Linear(d_in, d_out, lr=lr, dtype=weight.dtype, generator=torch.Generator().manual_seed(0))
    layer.weight, layer.bias = weight.clone(), bias.clone()
    held = {"weight": (layer.weight, layer.weight.data_ptr()), "bias": (layer.bias, layer.bias.data_ptr())}
    layer.forward(x)
    with student_running():
        grad_x = layer.backward(grad_out)
    kept = {name: getattr(layer, name) is tensor and isinstance(getattr(layer, name), torch.Tensor)
            and getattr(layer, name).data_ptr() == pointer for name, (tensor, pointer) in held.items()}
    return {"weight": layer.weight, "bias": layer.bias, "grad_x": grad_x,
            "weight_kept": kept["weight"], "bias_kept": kept["bias"]}


def nyu_forward_backward(f: str, g: str, parameters: dict, x, dJdy_hat):
    """Exercise 2.5: an ``mlp.MLP`` with activations ``f``, ``g`` and these parameters (clones), the student's
    ``forward(x)`` then ``backward(dJdy_hat)``, with the reference ``linear_backward`` and activations' backward
    passes in place of the student's (exercises 2.1, 2.2), so only the composition is judged.

    Returns ``y_hat``, the ``cache``, the ``grads`` and the ``parameters`` after backward."""
    from helpers import layers, mlp
    from helpers.checks.nb02_mlp import BACKWARD_REFERENCES, linear_backward_reference
    pieces = {name: (function, stand_in(BACKWARD_REFERENCES[name]) if name != "identity" else (lambda grad, y: grad))
              for name, (function, _) in layers.ACTIVATIONS.items()}
    mlp.linear_backward, mlp.ACTIVATIONS = stand_in(linear_backward_reference), pieces
    (out1, in1), (out2, in2) = parameters["W1"].shape, parameters["W2"].shape
    net = mlp.MLP(in1, out1, f, in2, out2, g, dtype=parameters["W1"].dtype)
    net.parameters = {name: tensor.clone() for name, tensor in parameters.items()}
    net.grads = {f"dJd{name}": tensor.new_zeros(tensor.shape) for name, tensor in parameters.items()}
    with student_running():
        y_hat = net.forward(x)
    cache = dict(net.cache) if isinstance(net.cache, dict) else {}
    with student_running():
        net.backward(dJdy_hat)
    return {"y_hat": y_hat, "cache": cache, "grads": dict(net.grads), "parameters": dict(net.parameters)}


def _table(fields: dict):
    from helpers import two_layer_theory as theory
    return theory.ForwardTable(**fields)


def numerator_layout_gradients(parameters: dict, table: dict, jac: dict):
    """Exercise 2.6: the student's ``numerator_layout_gradients`` on a ``ForwardTable`` built from ``table``'s
    fields (x, z1, z2, z3, y_hat, loss) and the given Jacobians."""
    from helpers import two_layer_theory as theory
    forward = _table(table)
    with student_running():
        return theory.numerator_layout_gradients(parameters, forward, jac)


def jacobians_on_reference_derivatives(table: dict, y, f: str, g: str, loss: str):
    """Exercise 2.7's ``jacobians`` alone: the reference ``local_derivative`` and ``loss_row_gradient`` in place of
    the student's (checked on their own), on a ``ForwardTable`` built from ``table``'s fields."""
    from helpers import two_layer_theory as theory
    from helpers.checks.nb02_mlp import local_derivative_reference, loss_row_gradient_reference
    theory.local_derivative = stand_in(local_derivative_reference)
    theory.loss_row_gradient = stand_in(loss_row_gradient_reference)
    forward = _table(table)
    with student_running():
        return theory.jacobians(forward, y, f, g, loss)


def training_curves_on_reference_layers(x, y, x_val, y_val, rows: int, val_rows: int, hid_dim: int, lr: float,
                                        epochs: int, batch_size: int, seed: int) -> dict:
    """Exercise 2.8 alone: ``rainfall_fit.train_mlp`` (which calls the student's ``run_epoch``) on x (N, 2), y (N,),
    x_val, y_val, with the reference backward passes and SGD step in place of the student's (2.1-2.4). ``rows`` and
    ``val_rows`` are the sizes the data has. Returns the History's ``train_mse`` and ``val_mse`` lists."""
    import torch

    from helpers import layers
    from helpers.checks.nb02_mlp import (linear_backward_reference, mse_backward_reference, relu_backward_reference,
                                         sgd_step_reference)
    layers.linear_backward, layers.relu_backward = stand_in(linear_backward_reference), stand_in(relu_backward_reference)
    layers.mse_backward, layers.Linear.sgd_step = stand_in(mse_backward_reference), stand_in(sgd_step_reference)
    train_mlp = resolve("helpers.experiments.rainfall_fit:train_mlp", [])
    model = layers.MLP(x.shape[1], 1, hid_dim, lr, dtype=x.dtype, generator=torch.Generator().manual_seed(seed))
    with student_running():
        history = train_mlp(model, x, y, x_val, y_val, epochs, batch_size, seed)
    return {"train_mse": [float(v) for v in history.train_mse], "val_mse": [float(v) for v in history.val_mse]}


def select_and_test_counted(runs: list, test_scores: list) -> dict:
    """Exercise 2.9: the student's ``select_and_test`` on ``runs`` (dicts of ``History`` fields) with a test evaluator
    that records every run it is asked about and returns that run's entry of ``test_scores``. Returns the chosen
    run's ``lr`` (None if what came back is not a run), the returned score and the evaluated runs' lrs, in order."""
    history_type = resolve("helpers.experiments.rainfall_fit:History", [])
    select_and_test = resolve("helpers.experiments.rainfall_fit:select_and_test", [])
    histories = {fields["lr"]: history_type(**fields) for fields in runs}
    scores = dict(zip(histories, test_scores))
    calls = []

    def test_mse(history) -> float:
        calls.append(getattr(history, "lr", None))
        return scores.get(getattr(history, "lr", None), float("nan"))
    with student_running():
        chosen, score = select_and_test(histories, test_mse)
    return {"chosen_lr": getattr(chosen, "lr", None), "score": score, "calls": calls}
