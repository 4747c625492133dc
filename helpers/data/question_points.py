"""Notebook 00's numbers, per student: the CS-587 regression data, the points of the CS475 tables, the NYU point.

Each function returns the default variant's numbers (the handouts' own or the ones the bundle has always used)
in the instructor edition, and the student's own draw otherwise (:mod:`helpers.runtime.variant`): the notebook
builds its examples from them, and the checks of exercises 0.1, 0.4-0.7, 0.11 and 0.12 check the student at them.
Every draw has one decimal (two for λ), inside ranges where the expression is defined and not degenerate.
Example: ``cs475_point("task1")`` → ``{"w": 0.5, "x": 2.0, "b": -0.3, "y": 1.2}``.
"""
from __future__ import annotations

import torch

from helpers.runtime import variant

# task: (default, ranges, valid draw); the defaults are the numbers notebook 00 has always shown
CS475 = {
    "task1": ({"w": 0.5, "x": 2.0, "b": -0.3, "y": 1.2},
              {"w": (0.2, 1.5), "x": (0.5, 2.5), "b": (-1.0, -0.1), "y": (0.2, 2.0)},
              lambda p: abs(p["w"] * p["x"] + p["b"] - p["y"]) >= 0.2),  # a residual that is not ~0
    "task2": ({"x": 0.5, "b": 0.3, "w": 1.5},
              {"x": (0.2, 2.0), "b": (0.1, 0.9), "w": (0.3, 2.0)},
              lambda p: abs(p["w"] * p["x"] - 1) >= 0.05),  # ln(wx) not ~0
    "task3": ({"x": 0.7}, {"x": (-2.0, 2.0)}, lambda p: abs(p["x"]) >= 0.2),
    "task4": ({"w": 0.8, "x": 1.5, "b": -0.4, "y": 1.0},
              {"w": (0.2, 1.5), "x": (0.5, 2.0), "b": (-1.0, -0.1), "y": (0.0, 1.0)}, None),
    "task5": ({"y": 1.0, "w₁": 0.5, "x": 1.2, "b₁": -0.3, "w₂": 0.8, "b₂": 0.1, "λ": 0.01},
              {"y": (0.0, 1.0), "w₁": (0.2, 1.5), "x": (0.5, 2.0), "b₁": (-1.0, -0.1), "w₂": (0.2, 1.5),
               "b₂": (-0.5, 0.5), "λ": (0.01, 0.1)}, None),
}
NYU_DEFAULT = {"x": 1.0, "y": 2.0, "z": -1.5, "o": 0.5}
NYU_RANGES = {"x": (0.5, 2.0), "y": (0.5, 2.5), "z": (-2.0, -0.5), "o": (0.2, 1.5)}
REGRESSION_DEFAULT = {"slope": -1.0, "intercept": 1.0}  # CS-587 A: four points on y = 1 - x
REGRESSION_RANGES = {"slope": (-1.5, -0.5), "intercept": (0.5, 1.5)}


def cs475_point(task: str) -> dict[str, float]:
    """The point of CS475 ``task`` ("task1" ... "task5"): floats by input name (task 5's names w₁, b₁, λ ...)."""
    if task not in CS475:
        raise KeyError(f"no CS475 table {task!r}; the tables are {', '.join(CS475)}")
    default, ranges, valid = CS475[task]
    return variant.numbers(f"cs475-{task}", default, ranges, {name: 2 if name == "λ" else 1 for name in default},
                           valid)


def nyu_point() -> dict[str, float]:
    """NYU 1.4 (b)'s point for the graph a = x + y, b = z·o, c = a·b, w = c + z: floats x, y, z, o."""
    return variant.numbers("nyu-1.4b", NYU_DEFAULT, NYU_RANGES, valid=lambda p: p["x"] + p["y"] != 0)


def regression_line() -> dict[str, float]:
    """The line the CS-587 A data lie on: ``{"slope": m, "intercept": c}`` (default y = 1 - x)."""
    return variant.numbers("cs587-regression", REGRESSION_DEFAULT, REGRESSION_RANGES)


def regression_data(device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """CS-587 A's data: x = 1, 2, 3, 4 and y on the student's line (float32 vectors of shape (4,))."""
    line = regression_line()
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], device=device)
    return x, line["intercept"] + line["slope"] * x
