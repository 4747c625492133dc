"""A hand derivation of a gradient, checked the bundle's way (:mod:`helpers.gradcheck`): against the
backward of the custom autograd Function it belongs to, against autograd of the same function written
with plain torch operations, and against central differences, all in float64.

:func:`check_derivation` takes the derived formula and the functions to differentiate; the CS-587
part B derivations of notebook 00 are checked with it (``CS587_DERIVATIONS`` lists them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from helpers.custom_functions import quadratic_form, sigmoid, sin_over_x, softplus
from helpers.gradcheck import (AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, GradientComparison, compare,
                               numerical_input_gradients)
from helpers.graph_derivations import (logistic_adjoints, quadratic_form_adjoints, sin_over_x_adjoints,
                                       softplus_adjoints)


def _autograd_gradients(function: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor]):
    """∂(Σ function(inputs))/∂input for each input (each of its input's shape): for an element-wise function,
    every element's own derivative."""
    leaves = tuple(t.detach().clone().requires_grad_() for t in inputs)
    return torch.autograd.grad(function(*leaves).sum(), leaves)


def check_derivation(derived: Sequence[torch.Tensor], references: Mapping[str, Callable[..., torch.Tensor]],
                     inputs: Sequence[torch.Tensor], input_names: Sequence[str]) -> list[GradientComparison]:
    """Compare a derived gradient with every reference's autograd gradient and with central differences.

    ``derived``: one tensor per input, the hand-derived ∂f/∂input element by element (shape of the input);
    ``references``: name -> an element-wise function f (tensors of the inputs' shape in, same shape out)
    whose autograd gradient the derivation must match (tolerance 1e-10); the first reference is also
    differentiated by central differences (h = 1e-6, tolerance 1e-6). ``inputs``: float64 tensors, one shape.
    """
    if not references:
        raise ValueError("check_derivation needs at least one reference function")
    if not len(derived) == len(inputs) == len(input_names):
        raise ValueError(f"derived ({len(derived)}), inputs ({len(inputs)}) and input_names ({len(input_names)}) "
                         "must have one entry per input")
    for tensor in inputs:
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float64:
            raise TypeError(f"inputs must be float64 tensors (finite differences need them), got "
                            f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
    rows = []
    for reference_name, function in references.items():
        gradients = _autograd_gradients(function, inputs)
        rows += [compare(f"∂/∂{name} vs {reference_name}", formula, gradient, AUTOGRAD_TOLERANCE)
                 for name, formula, gradient in zip(input_names, derived, gradients)]
    first = next(iter(references.values()))
    copies = tuple(t.detach().clone() for t in inputs)
    numerical = numerical_input_gradients(lambda *t: first(*t).sum(), *copies)
    f_value = first(*copies).sum().item()
    rows += [compare(f"∂/∂{name} vs central differences", formula, gradient, FINITE_DIFFERENCE_TOLERANCE, f_value)
             for name, formula, gradient in zip(input_names, derived, numerical)]
    return rows


# ---- the CS-587 part B derivations -------------------------------------------------------------------

QUADRATIC_COEFFICIENTS = (1.0, 1.5, 2.0)  # a, b, c


def softplus_slope(x: torch.Tensor) -> torch.Tensor:
    """d/dx softplus(x) by the Softplus Function's backward, kept differentiable (create_graph=True), so
    that its gradient is the Function's double backward (x: float64 tensor; same shape out)."""
    leaf = x if x.requires_grad else x.detach().requires_grad_()
    (slope,) = torch.autograd.grad(softplus(leaf).sum(), leaf, create_graph=True)
    return slope


@dataclass(frozen=True)
class Derivation:
    """One hand derivation: its formula (``*_adjoints``), the inputs it is checked at, and the functions
    whose gradients it must equal (the custom Function's backward first, then plain torch operations).
    ``inputs``: float64 tensors of one shape (1-D, a few points), one per name in ``input_names``."""
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    adjoints: Callable[..., dict]
    references: Mapping[str, Callable[..., torch.Tensor]]

    def check(self) -> list[GradientComparison]:
        derived = self.adjoints(*self.inputs)
        return check_derivation([derived[name] for name in self.input_names], self.references, self.inputs,
                                self.input_names)


def _points(*values: float) -> torch.Tensor:
    """The numbers as a 1-D float64 tensor of shape (len(values),)."""
    return torch.tensor(values, dtype=torch.float64)


def cs587_derivations() -> dict[str, Derivation]:
    """The four derivations of CS-587 part B, at points on both sides of every branch of the Functions
    (the Taylor branch of sin(x)/x below |x| = 0.5, both signs for softplus and the logistic); every input
    is a 1-D float64 tensor of 4 or 5 points."""
    a, b, c = QUADRATIC_COEFFICIENTS
    return {
        "sin(x)/x": Derivation((_points(-7.0, -2.0, 0.3, 0.7, 3.0),), ("x",), sin_over_x_adjoints,
                               {"SinOverX.backward": sin_over_x, "autograd of sin(x)/x": lambda x: torch.sin(x) / x}),
        "ax² + bxy + cy²": Derivation(
            (_points(1.0, -0.5, 2.0, 0.0), _points(-2.0, 1.5, 0.25, 3.0)), ("x", "y"),
            lambda x, y: quadratic_form_adjoints(x, y, a, b, c),
            {"QuadraticForm.backward": lambda x, y: quadratic_form(x, y, a, b, c),
             "autograd of ax² + bxy + cy²": lambda x, y: a * x * x + b * x * y + c * y * y}),
        "ln(1 + eˣ)": Derivation((_points(-20.0, -1.0, 0.0, 1.5, 20.0),), ("x",), softplus_adjoints,
                                 {"Softplus.backward": softplus,
                                  "autograd of ln(1 + eˣ)": lambda x: torch.log(1 + torch.exp(x))}),
        "eˣ/(1 + eˣ)": Derivation((_points(-20.0, -1.0, 0.0, 1.5, 20.0),), ("x",), logistic_adjoints,
                                  {"Sigmoid.backward": sigmoid, "Softplus double backward": softplus_slope,
                                   "autograd of eˣ/(1 + eˣ)": lambda x: torch.exp(x) / (1 + torch.exp(x))}),
    }
