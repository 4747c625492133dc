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

from helpers.runtime.validation import check_tensor

# name -> the function, element-wise on a column vector (m, 1); its derivative is exercise 2.7's local_derivative
ELEMENTWISE = {
    "5relu": lambda z: 5 * torch.relu(z),
    "relu": torch.relu,
    "identity": lambda z: z,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}
PARAMETERS = ("W1", "b1", "W2", "b2")


def local_derivative(name: str, z: torch.Tensor) -> torch.Tensor:
    """Exercise 2.7: the derivative of the activation ``name`` (a key of :data:`ELEMENTWISE`) at every entry
    of z (m, 1) -> (m, 1); at a ReLU kink (z = 0) the derivative is taken as 0, as in PyTorch."""
    if name not in ELEMENTWISE:
        raise ValueError(f"name must be one of {sorted(ELEMENTWISE)}, got {name!r}")
    ### BEGIN SOLUTION
    if name in ("5relu", "relu"):
        return (5.0 if name == "5relu" else 1.0) * (z > 0).to(z.dtype)
    if name == "tanh":
        return 1 - torch.tanh(z) ** 2
    if name == "sigmoid":
        probability = torch.sigmoid(z)
        return probability * (1 - probability)
    return torch.ones_like(z)
    ### END SOLUTION


def loss_value(loss: str, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The scalar loss of column vectors ``y_hat``, ``y`` (K, 1): ``"sse"`` or ``"bce"``."""
    if loss == "sse":
        return ((y_hat - y) ** 2).sum()
    if loss == "bce":
        return -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    raise ValueError(f"loss must be 'sse' or 'bce', got {loss!r}")


def loss_row_gradient(loss: str, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exercise 2.7: dl/dy_hat of :func:`loss_value` (``"sse"`` or ``"bce"``) in numerator layout, for column
    vectors y_hat, y (K, 1): a row vector (1, K)."""
    if loss not in ("sse", "bce"):
        raise ValueError(f"loss must be 'sse' or 'bce', got {loss!r}")
    ### BEGIN SOLUTION
    if loss == "sse":
        return 2 * (y_hat - y).T
    return ((y_hat - y) / (y_hat * (1 - y_hat))).T / len(y)
    ### END SOLUTION


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
    z2 = ELEMENTWISE[f](z1)
    z3 = params["W2"] @ z2 + params["b2"]
    y_hat = ELEMENTWISE[g](z3)
    return ForwardTable(x, z1, z2, z3, y_hat, loss_value(loss, y_hat, y))


def jacobians(table: ForwardTable, y: torch.Tensor, f: str, g: str, loss: str) -> dict[str, torch.Tensor]:
    """Exercise 2.7 (NYU 1.2 (d)): ``{"dz2/dz1": (h, h), "dy_hat/dz3": (K, K), "dl/dy_hat": (1, K)}`` as full
    matrices in numerator layout, for the forward ``table`` of one sample and its target y (K, 1)."""
    ### BEGIN SOLUTION
    return {"dz2/dz1": torch.diag(local_derivative(f, table.z1).flatten()),
            "dy_hat/dz3": torch.diag(local_derivative(g, table.z3).flatten()),
            "dl/dy_hat": loss_row_gradient(loss, table.y_hat, y)}
    ### END SOLUTION


def numerator_layout_gradients(params: dict[str, torch.Tensor], table: ForwardTable,
                               jac: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Exercise 2.6 (NYU 1.2 (c)): the backward pass of one sample as matrix products in numerator layout.

    params, table: as :func:`forward_table`'s; jac: :func:`jacobians`' three matrices. Returns
    ``{"dl/dz3": (1, K), "dl/dz1": (1, h), "W2": (h, K), "b2": (1, K), "W1": (n, h), "b1": (1, h)}``
    (each parameter's entry is dl/d(parameter), the transpose of its shape).
    """
    ### BEGIN SOLUTION
    # dl/dz3 = dl/dy_hat · dy_hat/dz3; dl/dz1 = dl/dz3 · W2 · dz2/dz1; a weight's derivative is the outer
    # product of its layer's input (column) and the row dl/d(its output): dl/dW2 = z2 · dl/dz3 (h, K).
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
    """dl/dz3 (1, K) = dl/dy_hat · dy_hat/dz3 when g = sigmoid, for z3, y (K, 1) and a loss "sse" or "bce"."""
    return loss_row_gradient(loss, torch.sigmoid(z3), y) @ torch.diag(local_derivative("sigmoid", z3).flatten())


def format_matrix(matrix: torch.Tensor, digits: int = 4) -> str:
    """A 2-D tensor (r, c) as aligned rows of numbers rounded to ``digits`` significant digits."""
    cells = [[f"{value:.{digits}g}" for value in row] for row in matrix.tolist()]
    width = max(len(cell) for row in cells for cell in row)
    return "\n".join("[" + "  ".join(cell.rjust(width) for cell in row) + "]" for row in cells)
