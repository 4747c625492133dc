"""The step-size experiment of notebook 01: runs, the results table, observations and figures."""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.ticker import LogFormatterMathtext

from helpers.runtime import edition, variant
from helpers.spiral import START_BOX, DescentResult, gradient_descent, random_start, spiral, steps_to_reach

LEARNING_RATES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
DEFAULT_SEEDS = (0, 1, 2)


def notebook_seeds(count: int = len(DEFAULT_SEEDS)) -> tuple[int, ...]:
    """The seeds whose starts (:func:`helpers.spiral.random_start`) notebook 01 runs from: :data:`DEFAULT_SEEDS` in
    the default variant (the instructor edition), else ``count`` seeds in [0, 10000) drawn for the student
    (:mod:`helpers.runtime.variant`), so each student describes runs from their own start points."""
    if variant.student_id() is None:
        return DEFAULT_SEEDS[:count]
    drawn = torch.randperm(10_000, generator=variant.generator("spiral-seeds", 0))[:count]
    return tuple(int(seed) for seed in drawn)


SEEDS = notebook_seeds()  # this kernel's student's (fixed when the module is imported)
N_STEPS = 1000
TOLERANCE = 1e-3  # "within tolerance of the minimum": y(x_t) ≤ 1e-3 (y = 0 at the origin)
# Below this, printed values of y are only "< 1e-20": the digits of a y of 1e-175 come from round-off in
# the last iterations and differ between CPUs (vectorised sin/cos), so stored outputs must not show them.
DISPLAY_FLOOR = 1e-20


@dataclass(frozen=True)
class Run:
    seed: int
    lr: float
    result: DescentResult

    @property
    def steps_to_tolerance(self) -> int | None:
        return steps_to_reach(self.result, TOLERANCE)

    @property
    def steps_run(self) -> int:
        """Steps attempted: the kept ones, plus the step that diverged (not stored) when it did."""
        return self.result.steps + int(self.result.diverged)

    @property
    def outcome(self) -> str:
        """``'diverged at step 2'``, ``'y = 1e-15'`` or ``'y < 1e-20'``: the title line of its trajectory plot."""
        if self.result.diverged:
            return f"diverged at step {self.steps_run}"
        final = format_y(float(self.result.losses[-1]), 2)
        return f"y {final}" if final.startswith("<") else f"y = {final}"


def sweep(seeds=SEEDS, learning_rates=LEARNING_RATES, n_steps=N_STEPS) -> list[tuple[int, float, DescentResult]]:
    """Exercise 1.3: CSE 849 q1's runs, one gradient descent (:func:`helpers.spiral.gradient_descent`) per seed and
    step size, ``n_steps`` steps each, from the start :func:`helpers.spiral.random_start` draws for the seed (the
    same start for every step size of a seed). Seeds outer, step sizes inner.

    Returns ``len(seeds) * len(learning_rates)`` triples ``(seed, lr, result)``; each result holds a trajectory
    (T+1, 2), gradients (T, 2) and losses (T+1,) (:class:`helpers.spiral.DescentResult`)."""
    ### BEGIN SOLUTION
    runs = []
    for seed in seeds:
        start = random_start(seed)  # fixed by the seed: every step size starts here
        for lr in learning_rates:
            runs.append((seed, lr, gradient_descent(start, lr, n_steps)))
    return runs
    ### END SOLUTION


def run_grid(seeds=SEEDS, learning_rates=LEARNING_RATES, n_steps=N_STEPS) -> list[Run]:
    """:func:`sweep`'s runs as :class:`Run` records (seed, lr, result), in the same order."""
    return [Run(seed, lr, result) for seed, lr, result in sweep(seeds, learning_rates, n_steps)]


def format_y(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, or ``'< 1e-20'`` below :data:`DISPLAY_FLOOR`."""
    return f"< {DISPLAY_FLOOR:.0e}" if 0 <= value < DISPLAY_FLOOR else f"{value:.{digits}g}"


def _at_most(bound: float) -> str:
    text = format_y(bound, 2)
    return text if text.startswith("<") else f"≤ {text}"


def results_table(runs: list[Run]) -> str:
    """Fixed-width table: seed, λ, start, steps run (a diverged run counts the step that diverged),
    final y, steps to y ≤ tol, diverged."""
    header = f"{'seed':>4}  {'λ':>6}  {'x0':>16}  {'steps':>5}  {'final y':>10}  {'steps to y≤1e-3':>15}  diverged"
    lines = [header, "-" * len(header)]
    for run in runs:
        r = run.result
        x0 = f"({r.trajectory[0, 0]:.2f}, {r.trajectory[0, 1]:.2f})"
        reached = run.steps_to_tolerance
        lines.append(f"{run.seed:>4}  {run.lr:>6g}  {x0:>16}  {run.steps_run:>5}  {format_y(float(r.losses[-1])):>10}  "
                     f"{'-' if reached is None else reached:>15}  {'yes' if r.diverged else 'no'}")
    return "\n".join(lines)


HIDDEN = ("*Your observations: describe, in the answer cell below, what each step size does in the runs above "
          "(the table and the plots).*")


def observation(lr: float, runs: list[Run]) -> str:
    """One Markdown bullet about step size ``lr``, built from the runs' numbers (instructor edition)."""
    mine = [run for run in runs if run.lr == lr]
    diverged = [run for run in mine if run.result.diverged]
    reached = [run.steps_to_tolerance for run in mine if run.steps_to_tolerance is not None]
    ### BEGIN SOLUTION
    if diverged:
        steps = sorted({run.steps_run for run in diverged})
        return (f"- **λ = {lr:g}**: diverged in {len(diverged)} of {len(mine)} runs, thrown out of the "
                f"box at step {' or '.join(map(str, steps))}; the run is stopped and flagged.")
    if len(reached) == len(mine):
        return (f"- **λ = {lr:g}**: every run reached y ≤ {TOLERANCE:g}, in {min(reached)}–{max(reached)} steps; "
                f"final y {_at_most(max(float(run.result.losses[-1]) for run in mine))}.")
    progress = [1 - float(run.result.losses[-1] / run.result.losses[0]) for run in mine]
    finals = [float(run.result.losses[-1]) for run in mine]
    return (f"- **λ = {lr:g}**: stable but slow: after {mine[0].result.steps} steps y fell by "
            f"{100 * min(progress):.0f}–{100 * max(progress):.0f}% "
            f"(final y {format_y(min(finals))}–{format_y(max(finals))}), "
            f"{len(reached)} of {len(mine)} runs reached y ≤ {TOLERANCE:g}: the iterates creep along the "
            "spiral valley.")
    ### END SOLUTION


def observations(runs: list[Run]) -> str:
    """The step sizes' behaviour as Markdown bullets from ``runs``: an answer of CSE 849 q1's "describe what you
    observe", so the student edition (``edition.SHOWS_ANSWERS`` False) gets :data:`HIDDEN`, a prompt, instead."""
    if not edition.SHOWS_ANSWERS:
        return HIDDEN
    return "\n".join(observation(lr, runs) for lr in sorted({run.lr for run in runs}))


def landscape(n: int = 401, half_width: float = START_BOX):
    """Grid (X1, X2, Y) of the spiral over [-w, w]^2, for contour plots (NumPy arrays)."""
    axis = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    x1, x2 = torch.meshgrid(axis, axis, indexing="xy")
    y = spiral(torch.stack((x1, x2), dim=-1))
    return x1.numpy(), x2.numpy(), y.numpy()


def plot_landscape(ax, grid, colorbar: bool = False):
    """Exercise 1.4 (first half): the landscape ``grid`` (X1, X2, Y, each (n, n), from :func:`landscape`) as a
    filled contour plot (``contourf``) on ``ax``, on a log colour scale so that the ridges of sin²(6θ + 2r) stay
    visible near the origin. Returns the contour set (for a colour bar)."""
    x1, x2, y = grid
    ### BEGIN SOLUTION
    levels = np.geomspace(1e-2, y.max(), 30)
    filled = ax.contourf(x1, x2, np.maximum(y, 1e-2), levels=levels, norm=LogNorm(), cmap="viridis")
    ### END SOLUTION
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    if colorbar:
        decades = [10.0**k for k in range(-2, int(np.log10(y.max())) + 1)]
        plt.colorbar(filled, ax=ax, label="y (log scale)", ticks=decades, format=LogFormatterMathtext())
    return filled


def plot_trajectory(ax, result: DescentResult, color: str = "#D55E00", max_arrows: int = 25):
    """Exercise 1.4 (second half): the run ``result`` (its trajectory (T+1, 2)) on ``ax``: the iterates as a line,
    with arrows along the steps x_t -> x_(t+1) = x_t - λ∇y(x_t), at most ``max_arrows``, spaced evenly in path
    length; start and end (or the point where it diverged) marked."""
    path = result.trajectory.numpy()
    ### BEGIN SOLUTION
    ax.plot(path[:, 0], path[:, 1], color=color, lw=1, alpha=0.8)
    if len(path) > 1:
        step_lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)
        arc = np.concatenate(([0.0], np.cumsum(step_lengths)))
        marks = np.linspace(0, arc[-1], max_arrows, endpoint=False)
        for i in sorted(set(np.searchsorted(arc, marks, side="right") - 1)):
            ax.annotate("", xy=path[i + 1], xytext=path[i], annotation_clip=True,
                        arrowprops=dict(arrowstyle="-|>", color=color, lw=1.2, mutation_scale=11,
                                        shrinkA=0, shrinkB=0))
    ### END SOLUTION
    ax.plot(*path[0], "o", color="white", mec="black", ms=6, label="start")
    ax.plot(*path[-1], "X" if result.diverged else "*", color="red" if result.diverged else "gold",
            mec="black", ms=9, label="diverged" if result.diverged else "end")
    ax.set_xlim(-START_BOX, START_BOX)
    ax.set_ylim(-START_BOX, START_BOX)


# -- why each step size behaves as it does (the question after the observations) ---------------------------------

NEAR_ORIGIN_START = (0.01, 0.02)  # a start where y is tiny: a step size that diverges from here fails everywhere
HESSIAN_POINT = (0.007, 0.007)


def radius_factor(lr: float, u: torch.Tensor, r: float | torch.Tensor = 0.0) -> torch.Tensor:
    """How much one gradient step of size ``lr`` multiplies the distance to the origin, at phase
    u = 6θ + 2r and radius r (r → 0: near the origin). Shapes: ``u`` and ``r`` broadcast; the result too.

    With s = sin²u + 1 and ∇y = 2(s + r sin 2u) x + 6 sin 2u (−x₂, x₁), the step
    x − λ∇y has a radial part (1 − 2λ(s + r sin 2u)) x and a perpendicular part −6λ sin 2u (−x₂, x₁), so
    |x'| / |x| = √((1 − 2λ(s + r sin 2u))² + (6λ sin 2u)²)."""
    s, twice = torch.sin(u) ** 2 + 1, torch.sin(2 * u)
    return torch.sqrt((1 - 2 * lr * (s + r * twice)) ** 2 + (6 * lr * twice) ** 2)


def stability_evidence(learning_rates=LEARNING_RATES) -> str:
    """The numbers behind the step sizes' behaviour, as printed lines: near the origin, the least and largest
    factor by which one step multiplies |x| (over every phase u), for each step size; where a run of λ = 1
    from :data:`NEAR_ORIGIN_START` leaves the box; the Hessian's eigenvalues at :data:`HESSIAN_POINT`."""
    u = torch.linspace(0, 2 * torch.pi, 3601, dtype=torch.float64)
    lines = ["near the origin, one step multiplies |x| by:"]
    for lr in learning_rates:
        factor = radius_factor(lr, u)
        lines.append(f"  λ = {lr:<6g} {float(factor.min()):.4f} to {float(factor.max()):.4f}")
    run = gradient_descent(torch.tensor(NEAR_ORIGIN_START, dtype=torch.float64), 1.0, 100)
    outcome = f"diverged at step {run.steps + 1}" if run.diverged else f"did not diverge in {run.steps} steps"
    lines.append(f"λ = 1 from {NEAR_ORIGIN_START} (y = {float(run.losses[0]):.1e}): {outcome}")
    hessian = torch.autograd.functional.hessian(spiral, torch.tensor(HESSIAN_POINT, dtype=torch.float64))
    eigenvalues = ", ".join(f"{float(v):.1f}" for v in torch.linalg.eigvalsh(hessian))
    lines.append(f"Hessian eigenvalues at {HESSIAN_POINT}: {eigenvalues}")
    return "\n".join(lines)

