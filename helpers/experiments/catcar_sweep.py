"""INF265 §3's required experiment for MyMLP on cat vs car: several SGD settings, selection on validation, one test.

The course's reproducibility recipe is built in, so runs differ only where their settings differ: float64
parameters and inputs, one fixed seed set right before each model is built (the same initial parameters for
every run), batches in the data's own order (no shuffling). A run trains with :func:`helpers.training.train`
and ``torch.optim.SGD``, or, as its check, with :func:`helpers.training.train_manual_update`: the two give the
same bits. Data augmentation and a cosine learning-rate schedule are an *extension* outside the recipe, off by
default and switched on per configuration (see :mod:`helpers.experiments.catcar_extension`).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from helpers.data.catcar import BatchLoader, CatCarData
from helpers.runtime import edition
from helpers.runtime.device import get_device
from helpers.runtime.exercises import HIDDEN_OBSERVATIONS
from helpers.runtime.progress import progress
from helpers.runtime.torch_settings import default_dtype
from helpers.training import MyMLP, cosine_schedule, logits, predict, train, train_manual_update

RECIPE_SEED = 42           # the course's seed, set right before every model is built
RECIPE_DTYPE = torch.float64
TRAINERS = ("torch", "manual")


@dataclass(frozen=True)
class SGDConfig:
    """One run's settings: learning rate, momentum, weight decay (L2); the two extension switches, off by default."""
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    augment: bool = False   # extension: random flips and 1-pixel shifts of the training images, every epoch
    cosine: bool = False    # extension: lr × ½(1 + cos(π·epoch/n_epochs)) instead of a constant lr

    @property
    def label(self) -> str:
        extras = [text for on, text in ((self.augment, "+ augmentation"), (self.cosine, "+ cosine lr")) if on]
        return " ".join([f"lr={self.lr:g}, m={self.momentum:g}, wd={self.weight_decay:g}", *extras])

    @property
    def follows_recipe(self) -> bool:
        """True for the required experiment's settings: neither extension switched on."""
        return not (self.augment or self.cosine)


def grid(lrs: Sequence[float], momenta: Sequence[float], weight_decays: Sequence[float]) -> list[SGDConfig]:
    """Every combination (the recipe: no extension), learning rate varying slowest."""
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
    trainer: str = "torch"

    @property
    def final_val_accuracy(self) -> float:
        return self.val_accuracies[-1] if self.val_accuracies and not self.diverged else math.nan


def fit(trainer: str, config: SGDConfig, model: nn.Module, loader: BatchLoader, n_epochs: int, after_epoch) -> None:
    """Exercise 4.5: train ``model`` for ``n_epochs`` on ``loader``'s batches with cross-entropy, either with
    ``train`` and ``torch.optim.SGD`` (trainer 'torch') or with ``train_manual_update`` ('manual'), both with
    ``config``'s learning rate, momentum and weight decay (and ``lr_schedule``: ``schedule``);
    ``after_epoch(epoch, model, mean_loss)`` runs after each epoch. The 'torch' branch names its optimizer
    ``optimizer``: the given lines step the schedule with it and call ``train``. Raises ``FloatingPointError``
    when the loss turns NaN or infinite."""
    schedule = cosine_schedule(n_epochs) if config.cosine else None  # the extension's lr factor (None: constant)
    ### BEGIN SOLUTION
    if trainer == "manual":
        train_manual_update(n_epochs, config.lr, model, nn.CrossEntropyLoss(), loader, config.momentum,
                            config.weight_decay, lr_schedule=schedule, callback=after_epoch)
        return
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    ### END SOLUTION
    # LambdaLR sets lr = base lr × schedule(epoch), the very product train_manual_update computes
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule) if schedule else None

    def after_epoch_then_schedule(epoch, trained, mean_loss):
        after_epoch(epoch, trained, mean_loss)
        if scheduler is not None:
            scheduler.step()

    train(n_epochs, optimizer, model, nn.CrossEntropyLoss(), loader, callback=after_epoch_then_schedule)


def fixed_order(n: int, seed: int = RECIPE_SEED) -> torch.Tensor:
    """A permutation (n,) int64 of the training images drawn once from ``seed``: the order of every epoch of every run.

    Why not the data's own order: a copy of CIFAR-10 may list its images class by class (the offline JPEG
    archive does), and an unshuffled pass over 4,000 cars then 4,000 cats teaches the network only the class
    of the current block. One fixed mixed order keeps what the course's ``shuffle=False`` is for (every run,
    and both trainers, see the same batches) with the mixing the course's own copy of CIFAR-10 already has.
    """
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def recipe_instance(train_images: torch.Tensor, train_labels: torch.Tensor, batch_size: int, *,
                    seed: int = RECIPE_SEED, augment: bool = False, max_shift: int = 1) -> tuple[nn.Module, BatchLoader]:
    """Exercise 4.5: one fresh instance under the course's reproducibility recipe, and the batches it trains on.

    train_images (N, 3, 16, 16), train_labels (N,): the training split, already in the run's fixed order.
    Returns a ``MyMLP`` with float64 parameters, built right after ``torch.manual_seed(seed)`` (every instance
    starts from the same parameters), on :func:`helpers.runtime.device.get_device`, and a
    :class:`BatchLoader` of ``batch_size`` that gives the images in the order given, every epoch (no shuffling;
    ``augment``/``max_shift``/``seed`` passed on for the extension).
    """
    ### BEGIN SOLUTION
    with default_dtype(RECIPE_DTYPE):
        torch.manual_seed(seed)  # right before the model: the same initial parameters for every run
        model = MyMLP().to(get_device())
        loader = BatchLoader(train_images, train_labels, batch_size, shuffle=False, augment=augment,
                             max_shift=max_shift, seed=seed)
    return model, loader
    ### END SOLUTION


def train_config(config: SGDConfig, data: CatCarData, n_epochs: int, batch_size: int = 64, *,
                 seed: int = RECIPE_SEED, trainer: str = "torch", max_shift: int = 1) -> SweepRun:
    """Train a fresh MyMLP on ``data.train`` with the course's recipe; validation measured after each epoch.

    Recipe: parameters and inputs in float64, ``torch.manual_seed(seed)`` right before the model is built,
    batches of ``batch_size`` in one fixed order, the same every epoch (no shuffling; see :func:`fixed_order`). ``trainer``: 'torch' (``train`` with
    ``torch.optim.SGD``, the required experiment) or 'manual' (``train_manual_update``, its bit-for-bit check).
    Extensions, when the config asks: flips and shifts of up to ``max_shift`` pixels drawn anew each epoch
    (order still fixed); the cosine lr factor. A run whose loss becomes NaN/inf comes back ``diverged``.
    """
    if trainer not in TRAINERS:
        raise ValueError(f"trainer must be one of {TRAINERS}, got {trainer!r}")
    train_x, train_y = data.inputs("train")
    val_x, val_y = data.inputs("val")
    run = SweepRun(config, trainer=trainer)

    def after_epoch(epoch, model, mean_loss):
        run.train_losses.append(mean_loss)
        val_logits = logits(model, val_x)
        run.val_losses.append(nn.functional.cross_entropy(val_logits, val_y).item())
        run.val_accuracies.append((val_logits.argmax(dim=1) == val_y).double().mean().item())

    order = fixed_order(len(train_y), seed)
    model, loader = recipe_instance(train_x[order], train_y[order], batch_size, seed=seed, augment=config.augment,
                                    max_shift=max_shift)
    try:
        with default_dtype(RECIPE_DTYPE):
            fit(trainer, config, model, loader, n_epochs, after_epoch)
    except FloatingPointError:
        run.diverged = True
    run.model = model
    run.weight_norm = torch.cat([p.detach().flatten() for p in model.parameters()]).norm().item()
    return run


def run_sweep(configs: Sequence[SGDConfig], data: CatCarData, n_epochs: int, *,
              trained: Sequence[SweepRun] = (), **kwargs) -> list[SweepRun]:
    """:func:`train_config` for each configuration, with a progress bar; ``kwargs`` go to it.

    ``trained``: runs already made with the same settings (same ``n_epochs`` and ``kwargs``); a configuration
    found among them is taken from there instead of being trained again.
    """
    done = {run.config: run for run in trained if len(run.train_losses) == n_epochs or run.diverged}
    return [done[config] if config in done else train_config(config, data, n_epochs, **kwargs)
            for config in progress(configs, desc="sweep")]


def select_best(runs: Sequence[SweepRun]) -> SweepRun:
    """Exercise 4.6: the run with the highest *final* validation accuracy (the first one on a tie), leaving out
    the runs that diverged; never looks at test. Raises ``ValueError`` if every run diverged."""
    ### BEGIN SOLUTION
    candidates = [run for run in runs if not run.diverged]
    if not candidates:
        raise ValueError("every run diverged: lower the learning rates")
    return max(candidates, key=lambda run: run.final_val_accuracy)
    ### END SOLUTION


@dataclass(frozen=True)
class SelectedAndTested:
    """The selected run and its one evaluation on the test set: predictions (N_test,) int64 and accuracy."""
    run: SweepRun
    predictions: torch.Tensor
    accuracy: float


def select_and_test(runs: Sequence[SweepRun], test_images: torch.Tensor, test_labels: torch.Tensor) -> SelectedAndTested:
    """Exercise 4.6: select on validation accuracy (:func:`select_best`), then evaluate that one model, once, on
    the test set: its predictions (N,) int64 and its accuracy.

    test_images: (N, 3, 16, 16) normalised; test_labels: (N,). No other model ever sees a test image.
    """
    ### BEGIN SOLUTION
    best = select_best(runs)
    predictions = predict(best.model, test_images)
    return SelectedAndTested(best, predictions, (predictions == test_labels.cpu()).double().mean().item())
    ### END SOLUTION


def max_parameter_difference(a: nn.Module, b: nn.Module) -> float:
    """Largest |a − b| over every parameter of two models of the same architecture (0.0: identical bits)."""
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


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
    """The grid's findings as Markdown bullets: what momentum and weight decay each changed, every other
    setting equal. ``runs``: a full lr × momentum × weight-decay grid of recipe runs (as from :func:`grid`).
    In the student edition, :data:`helpers.runtime.exercises.HIDDEN_OBSERVATIONS` instead: the student's answer."""
    if not edition.SHOWS_ANSWERS:
        return HIDDEN_OBSERVATIONS
    ### BEGIN SOLUTION
    grid_runs = {(r.config.lr, r.config.momentum, r.config.weight_decay): r for r in runs}
    lrs, momenta, decays = (sorted({key[k] for key in grid_runs}) for k in range(3))
    lines = []
    for lr, wd in itertools.product(lrs, decays):
        without, with_ = grid_runs[lr, momenta[0], wd], grid_runs[lr, momenta[-1], wd]
        lines.append(f"* momentum, lr={lr:g}, wd={wd:g}: final training loss {loss_text(without)} → "
                     f"{loss_text(with_)}, validation accuracy {accuracy_text(without)} → {accuracy_text(with_)} "
                     f"with μ = {momenta[-1]:g}")
    for lr, m in itertools.product(lrs, momenta):
        free, decayed = grid_runs[lr, m, decays[0]], grid_runs[lr, m, decays[-1]]
        lines.append(f"* weight decay, lr={lr:g}, m={m:g}: ‖θ‖ {free.weight_norm:.2f} → {decayed.weight_norm:.2f}, "
                     f"validation accuracy {accuracy_text(free)} → {accuracy_text(decayed)}")
    return "\n".join(lines)
    ### END SOLUTION


def loss_text(run: SweepRun) -> str:
    """The final training loss to 4 decimals, or 'diverged'."""
    return "diverged" if run.diverged else f"{run.train_losses[-1]:.4f}"


def accuracy_text(run: SweepRun) -> str:
    """The final validation accuracy as a percentage, or 'diverged'."""
    return "diverged" if run.diverged else f"{run.final_val_accuracy:.2%}"
