"""The extension beyond INF265's recipe: data augmentation and a cosine learning-rate schedule, and an
ablation that measures on validation what each adds to a recipe run.

The ablation trains four runs that share everything (hyperparameters, seed, initial parameters, batch order)
and differ only in the two switches: baseline, + augmentation, + cosine schedule, + both.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from helpers.experiments.catcar_sweep import SGDConfig, SweepRun, accuracy_text, loss_text
from helpers.runtime import edition
from helpers.runtime.exercises import HIDDEN_OBSERVATIONS

ABLATION_NAMES = ("baseline recipe", "+ augmentation", "+ cosine lr", "+ augmentation + cosine lr")


def ablation_configs(base: SGDConfig) -> list[SGDConfig]:
    """[base, base + augmentation, base + cosine schedule, base + both]; ``base`` must follow the recipe."""
    if not isinstance(base, SGDConfig) or not base.follows_recipe:
        raise ValueError(f"the ablation starts from a recipe configuration (augment=False, cosine=False), got {base!r}")
    return [base, replace(base, augment=True), replace(base, cosine=True), replace(base, augment=True, cosine=True)]


def _check_ablation(runs: Sequence[SweepRun]) -> None:
    first = runs[0].config if runs else None
    expected = ablation_configs(first) if isinstance(first, SGDConfig) and first.follows_recipe else None
    if [run.config for run in runs] != expected:
        raise ValueError("expected the four runs of ablation_configs(base), in its order: "
                         f"got {[run.config.label for run in runs]}")


def ablation_table(runs: Sequence[SweepRun]) -> str:
    """Fixed-width table of the four ablation runs (in :func:`ablation_configs`' order): final training loss,
    validation loss and accuracy, and the accuracy change against the baseline, in percentage points."""
    _check_ablation(runs)
    baseline = runs[0]
    width = max(len(name) for name in ABLATION_NAMES)
    lines = [f"{'variant':<{width}}  {'train loss':>10}  {'val loss':>8}  {'val acc':>7}  {'Δ val acc':>9}"]
    for name, run in zip(ABLATION_NAMES, runs):
        if run.diverged or baseline.diverged:
            lines.append(f"{name:<{width}}  {loss_text(run):>10}  {'':>8}  {accuracy_text(run):>7}")
            continue
        change = 100 * (run.final_val_accuracy - baseline.final_val_accuracy)
        lines.append(f"{name:<{width}}  {run.train_losses[-1]:>10.4f}  {run.val_losses[-1]:>8.4f}  "
                     f"{run.final_val_accuracy:>7.2%}  {change:>+7.2f}pp")
    return "\n".join(lines)


def ablation_observations(runs: Sequence[SweepRun], n_val: int) -> str:
    """Markdown bullets: what each switch changed on validation, weighed against the sampling noise of
    ``n_val`` validation images, and the gap validation loss − training loss (large: memorising). In the student
    edition, :data:`helpers.runtime.exercises.HIDDEN_OBSERVATIONS` instead: the student's answer."""
    if not edition.SHOWS_ANSWERS:
        return HIDDEN_OBSERVATIONS
    _check_ablation(runs)
    ### BEGIN SOLUTION
    baseline = runs[0]
    if baseline.diverged:
        return "* the baseline run diverged: nothing to compare against"
    # standard error of the difference of two accuracies near p, each measured on n images: sqrt(2 p (1 - p) / n)
    # (an upper bound here: both runs see the same images, so their errors are partly shared)
    p = baseline.final_val_accuracy
    noise = 100 * (2 * p * (1 - p) / n_val) ** 0.5
    lines = []
    for name, run in zip(ABLATION_NAMES, runs):
        if run.diverged:
            lines.append(f"* {name}: diverged")
            continue
        gap = run.val_losses[-1] - run.train_losses[-1]
        change = 100 * (run.final_val_accuracy - p)
        verdict = "" if run is baseline else (
            f" ({change:+.2f} percentage points, " + ("within" if abs(change) <= noise else "beyond") +
            f" the ±{noise:.2f} points of one standard error of a difference on {n_val:,} images)")
        lines.append(f"* {name}: validation accuracy {run.final_val_accuracy:.2%}{verdict}; validation loss "
                     f"{run.val_losses[-1]:.4f} against training loss {run.train_losses[-1]:.4f} (gap {gap:+.4f})")
    return "\n".join(lines)
    ### END SOLUTION
