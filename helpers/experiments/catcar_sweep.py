"""A small hyperparameter sweep for MyMLP on cat vs car, and model selection on validation accuracy.

Every configuration starts from the same initial parameters and sees the same batches (same seed
for the model and the loader), so the differences between runs come from the hyperparameters alone.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from helpers.data.catcar import BatchLoader, CatCarData
from helpers.runtime.device import get_device
from helpers.runtime.progress import progress
from helpers.training import MyMLP, cosine_schedule, logits, train_manual_update

@dataclass(frozen=True)
class SGDConfig:
    """Hyperparameters of one run: learning rate, momentum, weight decay (L2), and the data recipe."""
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    augment: bool = True
    cosine: bool = True

    @property
    def label(self) -> str:
        changes = [text for kept, text in ((self.augment, "no augmentation"), (self.cosine, "constant lr"))
                   if not kept]
        recipe = f" [{', '.join(changes)}]" if changes else ""
        return f"lr={self.lr:g}, m={self.momentum:g}, wd={self.weight_decay:g}{recipe}"


def grid(lrs: Sequence[float], momenta: Sequence[float], weight_decays: Sequence[float]) -> list[SGDConfig]:
    """Every combination, learning rate varying slowest."""
    return [SGDConfig(lr, m, wd) for lr, m, wd in itertools.product(lrs, momenta, weight_decays)]


@dataclass
class SweepRun:
    """One trained configuration: its curves (one value per epoch) and the model at the end."""
    config: SGDConfig
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    val_accuracies: list[float] = field(default_factory=list)
    weight_norm: float = math.nan   # ‖θ‖₂ over all parameters after training
    model: nn.Module | None = None
    diverged: bool = False

    @property
    def final_val_accuracy(self) -> float:
        return self.val_accuracies[-1] if self.val_accuracies and not self.diverged else math.nan


def train_config(config: SGDConfig, data: CatCarData, n_epochs: int, batch_size: int = 64,
                 seed: int = 0, max_shift: int = 1) -> SweepRun:
    """Train a fresh MyMLP (float32) with ``train_manual_update``; validation measured after each epoch.

    Augmentation (when ``config.augment``): random horizontal flips and shifts of up to ``max_shift``
    pixels; schedule (when ``config.cosine``): lr × ½(1 + cos(π·epoch/n_epochs)). A run whose loss
    becomes NaN/inf is returned with ``diverged=True`` instead of raising.
    """
    train_x, train_y = data.inputs("train")
    val_x, val_y = data.inputs("val")
    run = SweepRun(config)

    def after_epoch(epoch, model, mean_loss):
        run.train_losses.append(mean_loss)
        val_logits = logits(model, val_x)
        run.val_losses.append(nn.functional.cross_entropy(val_logits, val_y).item())
        run.val_accuracies.append((val_logits.argmax(dim=1) == val_y).double().mean().item())

    torch.manual_seed(seed)
    model = MyMLP().to(get_device())
    loader = BatchLoader(train_x, train_y, batch_size, augment=config.augment, max_shift=max_shift, seed=seed)
    try:
        train_manual_update(n_epochs, config.lr, model, nn.CrossEntropyLoss(), loader, config.momentum,
                            config.weight_decay, lr_schedule=cosine_schedule(n_epochs) if config.cosine else None,
                            callback=after_epoch)
    except FloatingPointError:
        run.diverged = True
    run.model = model
    run.weight_norm = torch.cat([p.detach().flatten() for p in model.parameters()]).norm().item()
    return run


def run_sweep(configs: Sequence[SGDConfig], data: CatCarData, n_epochs: int, **kwargs) -> list[SweepRun]:
    """:func:`train_config` for each configuration, with a progress bar; ``kwargs`` go to it."""
    return [train_config(config, data, n_epochs, **kwargs) for config in progress(configs, desc="sweep")]


def select_best(runs: Sequence[SweepRun]) -> SweepRun:
    """The run with the highest final validation accuracy (the first one on a tie); never looks at test."""
    candidates = [run for run in runs if not run.diverged]
    if not candidates:
        raise ValueError("every run diverged: lower the learning rates")
    return max(candidates, key=lambda run: run.final_val_accuracy)


def sweep_table(runs: Sequence[SweepRun]) -> str:
    """Fixed-width summary: configuration, final train loss, val loss, val accuracy, weight norm."""
    width = max(len(run.config.label) for run in runs)
    lines = [f"{'configuration':<{width}}  {'train loss':>10}  {'val loss':>8}  {'val acc':>7}  {'‖θ‖':>6}"]
    for run in runs:
        if run.diverged:
            lines.append(f"{run.config.label:<{width}}  diverged")
            continue
        lines.append(f"{run.config.label:<{width}}  {run.train_losses[-1]:>10.4f}  {run.val_losses[-1]:>8.4f}"
                     f"  {run.final_val_accuracy:>7.2%}  {run.weight_norm:>6.2f}")
    return "\n".join(lines)


def observations(runs: Sequence[SweepRun]) -> str:
    """The sweep's findings as Markdown bullets: what momentum and weight decay each changed (same learning
    rate, everything else equal), and the plain recipe (the last run: no augmentation, constant lr)."""
    grid_runs = {(r.config.lr, r.config.momentum, r.config.weight_decay): r for r in runs if r.config.augment}
    lrs, momenta, decays = (sorted({key[k] for key in grid_runs}) for k in range(3))
    lines = []
    for lr, wd in itertools.product(lrs, decays):
        without, with_ = grid_runs[lr, momenta[0], wd], grid_runs[lr, momenta[-1], wd]
        lines.append(f"* momentum, lr={lr:g}, wd={wd:g}: validation accuracy {without.final_val_accuracy:.2%} "
                     f"without → {with_.final_val_accuracy:.2%} with μ = {momenta[-1]:g}")
    for lr, m in itertools.product(lrs, momenta):
        free, decayed = grid_runs[lr, m, decays[0]], grid_runs[lr, m, decays[-1]]
        lines.append(f"* weight decay, lr={lr:g}, m={m:g}: ‖θ‖ {free.weight_norm:.2f} → {decayed.weight_norm:.2f}, "
                     f"validation accuracy {free.final_val_accuracy:.2%} → {decayed.final_val_accuracy:.2%}")
    plain = runs[-1]
    lines.append(f"* plain recipe (no augmentation, constant lr): final training loss {plain.train_losses[-1]:.4f} "
                 f"but validation loss {plain.val_losses[-1]:.4f}, validation accuracy "
                 f"{plain.final_val_accuracy:.2%}")
    return "\n".join(lines)
