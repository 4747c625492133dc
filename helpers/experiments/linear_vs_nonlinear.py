"""NYU HW1 1.4 (e): the kinds of linear map of the plane, and what the non-linear layers add.

* :data:`LINEAR_MAPS`: four kinds of linear map as 2×2 matrices (a map ``v -> A v`` of
  column vectors (2, 1), or ``points @ A.T`` for points stored as rows (N, 2)).
* :func:`collapse`: a stack of linear layers with no activation in between is ONE linear map.
* :func:`best_affine_fit`: the least-squares affine model, the best any such stack can do.
* :func:`xor_relu_net`: two ReLU units that represent XOR exactly, which no affine map can.
"""
from __future__ import annotations

import math

import torch

from helpers.runtime import edition
from helpers.runtime.validation import check_tensor

ANGLE = math.pi / 6
# What the maps are called: what each one is is the written answer of NYU 1.4 (e), so the student's copy
# (helpers.runtime.edition.SHOWS_ANSWERS False) names them "map A" ... instead
NEUTRAL_NAMES = ("map A", "map B", "map C", "map D")
_KIND_NAMES = ("reflection (across the y-axis)", "rotation (30°)", "scaling (1.5 in x, 0.5 in y)", "shear (x += 0.8 y)")
_MATRICES = (torch.tensor([[-1.0, 0.0], [0.0, 1.0]], dtype=torch.float64),
             torch.tensor([[math.cos(ANGLE), -math.sin(ANGLE)], [math.sin(ANGLE), math.cos(ANGLE)]], dtype=torch.float64),
             torch.tensor([[1.5, 0.0], [0.0, 0.5]], dtype=torch.float64),
             torch.tensor([[1.0, 0.8], [0.0, 1.0]], dtype=torch.float64))
LINEAR_MAPS = dict(zip(_KIND_NAMES if edition.SHOWS_ANSWERS else NEUTRAL_NAMES, _MATRICES))
"""name -> A (2, 2), four linear maps of the plane with det A = -1, 1, 0.75 and 1."""

XOR_INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
XOR_TARGETS = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)


def collapse(weights: list[torch.Tensor]) -> torch.Tensor:
    """``W_L ... W_2 W_1`` for weights W_i (d_i, d_{i-1}): the single matrix the stack equals."""
    if not weights:
        raise ValueError("collapse needs at least one weight matrix")
    check_tensor("weights[0]", weights[0], (None, None))
    product = weights[0]
    for index, weight in enumerate(weights[1:], start=1):
        check_tensor(f"weights[{index}]", weight, (None, product.shape[0]), product.dtype)  # d_i x d_(i-1)
        product = weight @ product
    return product


def best_affine_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Least-squares ``y ≈ x w + c`` for x (N, d), y (N,): returns ((d + 1,) coefficients [w, c], its MSE)."""
    check_tensor("x", x, (None, None), finite=True)
    check_tensor("y", y, (len(x),), x.dtype, finite=True)
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    coefficients = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    return coefficients, torch.mean((design @ coefficients - y) ** 2).item()


def xor_relu_net(x: torch.Tensor) -> torch.Tensor:
    """``relu(x1 + x2) - 2 relu(x1 + x2 - 1)`` for x (N, 2) -> (N,): XOR on {0, 1}², by hand-set weights."""
    hidden = torch.relu(x @ torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=x.dtype)
                        + torch.tensor([0.0, -1.0], dtype=x.dtype))
    return hidden @ torch.tensor([1.0, -2.0], dtype=x.dtype)
