"""NYU HW1 §1.2–1.3 on paper, as code: the two-layer net for ONE sample in numerator layout.

The net is ``Linear_1 -> f -> Linear_2 -> g`` with ``Linear_i(x) = W_i x + b_i`` (column vectors):

    x (n, 1) -> z1 = W1 x + b1 (h, 1) -> z2 = f(z1) (h, 1) -> z3 = W2 z2 + b2 (K, 1) -> y_hat = g(z3) (K, 1)

and a loss ``l(y_hat, y)``: ``"sse"`` (||y_hat - y||², the handout's "MSE") or ``"bce"`` (the mean over the
K outputs of the binary cross-entropy). Numerator layout: the derivative of a scalar by a column vector
is a ROW vector (1, m), by an (a, b) matrix a (b, a) matrix; autograd's ``.grad`` is its transpose,
shaped like the variable. Every formula here is a matrix product with its transposes written out; the
elementwise Jacobians are built as explicit diagonal matrices, so each step reads like the paper answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, GradientComparison, compare,
                               numerical_gradient)
from helpers.runtime.validation import check_tensor

# name -> (function, its derivative), both element-wise on a column vector (m, 1)
ELEMENTWISE = {
    "5relu": (lambda z: 5 * torch.relu(z), lambda z: 5 * (z > 0).to(z.dtype)),  # 0 at the kink, as autograd
    "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
    "identity": (lambda z: z, torch.ones_like),
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
}
PARAMETERS = ("W1", "b1", "W2", "b2")


def loss_value(loss: str, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The scalar loss of column vectors ``y_hat``, ``y`` (K, 1): ``"sse"`` or ``"bce"``."""
    if loss == "sse":
        return ((y_hat - y) ** 2).sum()
    if loss == "bce":
        return -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    raise ValueError(f"loss must be 'sse' or 'bce', got {loss!r}")


def loss_row_gradient(loss: str, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dl/dy_hat in numerator layout: a row vector (1, K). sse: 2 (y_hat - y)^T;
    bce: (1/K) ((y_hat - y) / (y_hat (1 - y_hat)))^T."""
    if loss == "sse":
        return 2 * (y_hat - y).T
    if loss == "bce":
        return ((y_hat - y) / (y_hat * (1 - y_hat))).T / len(y)
    raise ValueError(f"loss must be 'sse' or 'bce', got {loss!r}")


@dataclass(frozen=True)
class ForwardTable:
    """One sample's forward pass: every module's input and output (column vectors) and the loss."""
    x: torch.Tensor  # (n, 1)
    z1: torch.Tensor  # (h, 1) = W1 x + b1
    z2: torch.Tensor  # (h, 1) = f(z1)
    z3: torch.Tensor  # (K, 1) = W2 z2 + b2
    y_hat: torch.Tensor  # (K, 1) = g(z3)
    loss: torch.Tensor  # () = l(y_hat, y)

    def rows(self) -> list[tuple[str, str, str]]:
        """(module, input, output) rows of the forward table, shapes included."""
        def shape(t):
            return "x".join(map(str, t.shape)) if t.dim() else "scalar"
        return [("Linear_1", f"x {shape(self.x)}", f"z1 = W1 x + b1  {shape(self.z1)}"),
                ("f", f"z1 {shape(self.z1)}", f"z2 = f(z1)  {shape(self.z2)}"),
                ("Linear_2", f"z2 {shape(self.z2)}", f"z3 = W2 z2 + b2  {shape(self.z3)}"),
                ("g", f"z3 {shape(self.z3)}", f"y_hat = g(z3)  {shape(self.y_hat)}"),
                ("loss", f"y_hat, y {shape(self.y_hat)}", f"l(y_hat, y)  {shape(self.loss)}")]


def _check_problem(params, x, y, f: str, g: str) -> None:
    """Clear errors for the inputs of :func:`forward_table` (names, shapes, one float dtype, finite values)."""
    for role, name in (("f", f), ("g", g)):
        if name not in ELEMENTWISE:
            raise ValueError(f"{role} must be one of {sorted(ELEMENTWISE)}, got {name!r}")
    if not isinstance(params, dict) or set(params) != set(PARAMETERS):
        raise ValueError(f"params must be a dict with exactly the keys {PARAMETERS}")
    check_tensor("W1", params["W1"], (None, None), finite=True)
    (h, n), dtype = params["W1"].shape, params["W1"].dtype
    check_tensor("W2", params["W2"], (None, h), dtype, finite=True)
    k = params["W2"].shape[0]
    for name, value, shape in (("b1", params["b1"], (h, 1)), ("b2", params["b2"], (k, 1)), ("x", x, (n, 1)),
                               ("y", y, (k, 1))):
        check_tensor(name, value, shape, dtype, finite=True)


def forward_table(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                  f: str, g: str, loss: str) -> ForwardTable:
    """Forward pass of one sample: ``params`` W1 (h, n), b1 (h, 1), W2 (K, h), b2 (K, 1); x (n, 1), y (K, 1)."""
    _check_problem(params, x, y, f, g)
    z1 = params["W1"] @ x + params["b1"]
    z2 = ELEMENTWISE[f][0](z1)
    z3 = params["W2"] @ z2 + params["b2"]
    y_hat = ELEMENTWISE[g][0](z3)
    return ForwardTable(x, z1, z2, z3, y_hat, loss_value(loss, y_hat, y))


def jacobians(table: ForwardTable, y: torch.Tensor, f: str, g: str, loss: str) -> dict[str, torch.Tensor]:
    """NYU 1.2 (d): dz2/dz1 (h, h) and dy_hat/dz3 (K, K), diagonal because f and g act element by
    element, and dl/dy_hat (1, K)."""
    return {"dz2/dz1": torch.diag(ELEMENTWISE[f][1](table.z1).flatten()),
            "dy_hat/dz3": torch.diag(ELEMENTWISE[g][1](table.z3).flatten()),
            "dl/dy_hat": loss_row_gradient(loss, table.y_hat, y)}


def numerator_layout_gradients(params: dict[str, torch.Tensor], table: ForwardTable,
                               jac: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """NYU 1.2 (c), every product written out (numerator layout, shapes in brackets):

    dl/dz3 = dl/dy_hat · dy_hat/dz3                       (1, K)
    dl/dz1 = dl/dz3 · W2 · dz2/dz1                        (1, K)(K, h)(h, h) = (1, h)
    dl/dW2 = z2 · dl/dz3  [= (dl/dz3^T z2^T)^T]           (h, 1)(1, K) = (h, K)
    dl/db2 = dl/dz3                                       (1, K)
    dl/dW1 = x · dl/dz1   [= (dl/dz1^T x^T)^T]            (n, 1)(1, h) = (n, h)
    dl/db1 = dl/dz1                                       (1, h)
    """
    ### BEGIN SOLUTION
    dl_dz3 = jac["dl/dy_hat"] @ jac["dy_hat/dz3"]
    dl_dz1 = dl_dz3 @ params["W2"] @ jac["dz2/dz1"]
    return {"dl/dz3": dl_dz3, "dl/dz1": dl_dz1,
            "W2": table.z2 @ dl_dz3, "b2": dl_dz3, "W1": table.x @ dl_dz1, "b1": dl_dz1}
    ### END SOLUTION


def as_autograd_layout(gradients: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Numerator-layout parameter derivatives transposed into the shape of each parameter (``.grad``)."""
    return {name: gradients[name].T for name in PARAMETERS}


def random_problem(n: int, h: int, k: int, seed: int, target: str = "real") -> tuple[dict, torch.Tensor, torch.Tensor]:
    """A concrete float64 instance: params W1 (h, n), b1 (h, 1), W2 (k, h), b2 (k, 1); x (n, 1); y (k, 1)
    (``target`` "real": N(0, 1) entries; "binary": 0/1 labels for BCE)."""
    generator = torch.Generator().manual_seed(seed)
    def draw(*shape):
        return torch.randn(*shape, dtype=torch.float64, generator=generator)
    params = {"W1": draw(h, n), "b1": draw(h, 1), "W2": draw(k, h), "b2": draw(k, 1)}
    x = draw(n, 1)
    y = (draw(k, 1) > 0).to(torch.float64) if target == "binary" else draw(k, 1)
    return params, x, y


def check_formulas(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                   f: str, g: str, loss: str) -> list[GradientComparison]:
    """The hand formulas (transposed to ``.grad``'s layout: W1 (h, n), b1 (h, 1), W2 (K, h), b2 (K, 1)) against
    autograd and central differences under the bundle's gradient-check policy; float64 inputs shaped as for
    :func:`forward_table`. Returns 8 comparisons: 4 against autograd, then 4 against central differences."""
    table = forward_table(params, x, y, f, g, loss)
    ours = as_autograd_layout(numerator_layout_gradients(params, table, jacobians(table, y, f, g, loss)))
    leaves = {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}
    autograd = dict(zip(PARAMETERS, torch.autograd.grad(forward_table(leaves, x, y, f, g, loss).loss,
                                                        [leaves[name] for name in PARAMETERS])))
    work = {name: p.detach().clone() for name, p in params.items()}
    def current_loss():
        return forward_table(work, x, y, f, g, loss).loss
    value = current_loss().item()
    rows = [compare(f"{name} vs autograd", ours[name], autograd[name], AUTOGRAD_TOLERANCE) for name in PARAMETERS]
    rows += [compare(f"{name} vs central differences", ours[name], numerical_gradient(current_loss, work[name]),
                     FINITE_DIFFERENCE_TOLERANCE, f_value=value) for name in PARAMETERS]
    return rows


def check_jacobians(table: ForwardTable, y: torch.Tensor, f: str, g: str, loss: str) -> list[GradientComparison]:
    """The three Jacobians of :func:`jacobians` against ``torch.autograd.functional.jacobian`` of f at z1,
    g at z3 and the loss at y_hat (flattened to vectors, so the Jacobians are plain matrices)."""
    ours = jacobians(table, y, f, g, loss)
    jacobian = torch.autograd.functional.jacobian
    reference = {
        "dz2/dz1": jacobian(lambda z: ELEMENTWISE[f][0](z), table.z1.flatten()),
        "dy_hat/dz3": jacobian(lambda z: ELEMENTWISE[g][0](z), table.z3.flatten()),
        "dl/dy_hat": jacobian(lambda v: loss_value(loss, v[:, None], y), table.y_hat.flatten())[None, :],
    }
    return [compare(f"{name} vs autograd", ours[name], reference[name], AUTOGRAD_TOLERANCE) for name in ours]


class FiveReLU(nn.Module):
    """f(z) = 5 relu(z), the NYU 1.2 activation, as a module (any shape)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 5 * torch.relu(z)


def two_layer_module(params: dict[str, torch.Tensor]) -> nn.Sequential:
    """``nn.Sequential(Linear_1, FiveReLU, Linear_2)`` (g = identity) holding copies of ``params`` (W1 (h, n),
    b1 (h, 1), W2 (K, h), b2 (K, 1)); it maps rows (N, n) -> (N, K)."""
    (h, n), k = params["W1"].shape, params["W2"].shape[0]
    module = nn.Sequential(nn.Linear(n, h), FiveReLU(), nn.Linear(h, k)).to(params["W1"].dtype)
    with torch.no_grad():
        for linear, weight, bias in ((module[0], "W1", "b1"), (module[2], "W2", "b2")):
            linear.weight.copy_(params[weight])
            linear.bias.copy_(params[bias].flatten())
    return module


def sigmoid_output_gradient(loss: str, z3: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dl/dz3 (1, K) = dl/dy_hat · dy_hat/dz3 when g = sigmoid, for z3, y (K, 1): with "bce" the sigmoid's
    slope cancels to (y_hat - y)^T / K; with "sse" it multiplies the error and vanishes when saturated."""
    y_hat = torch.sigmoid(z3)
    return loss_row_gradient(loss, y_hat, y) @ torch.diag((y_hat * (1 - y_hat)).flatten())


def format_matrix(matrix: torch.Tensor, digits: int = 4) -> str:
    """A 2-D tensor (r, c) as aligned rows of numbers rounded to ``digits`` significant digits."""
    cells = [[f"{value:.{digits}g}" for value in row] for row in matrix.tolist()]
    width = max(len(cell) for row in cells for cell in row)
    return "\n".join("[" + "  ".join(cell.rjust(width) for cell in row) + "]" for row in cells)
