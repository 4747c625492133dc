"""Training the hand-written :class:`helpers.layers.MLP` on a regression set, and its autograd twin.

* :func:`train_mlp`: mini-batch SGD (the update happens inside ``backward``), the train and
  validation MSE after every epoch, the best epoch's parameters kept, divergence detected.
* :class:`FitsByLearningRate`: one run per learning rate kept epoch by epoch (notebook 02's live widget).
* :func:`run_epoch` (exercise 2.8): one epoch of the course's loop.
* :func:`search`: a small grid over learning rates; the epoch count is chosen on validation MSE too.
* :func:`select_and_test` (exercise 2.9): the choice on validation data, then one test evaluation.
* :func:`observations`: the notebook's findings, written from its numbers.
* :func:`q2_ytest_text`: the course's deliverable ``q2_ytest.txt``, one test prediction per line.
* :func:`twin_losses`: the same network as ``nn.Sequential`` + autograd + ``torch.optim.SGD``
  (:func:`helpers.models.twins.torch_twin`) with the same initialisation and the same batches, to show
  both compute the same thing.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from helpers.data.rainfall import NOISE_VARIANCE
from helpers.gradcheck import GradientComparison
from helpers.layers import MLP, MSELoss, mse
from helpers.models.twins import torch_twin
from helpers.plots.maps import grid_points, on_grid
from helpers.runtime import edition
from helpers.runtime.progress import progress

HIDDEN = ("*Your findings: write, in the answer cell below, what the curves, the selection and the test error "
          "of your runs show.*")


@dataclass(frozen=True)
class Standardizer:
    """Per-column ``(x - mean) / std`` fitted on training inputs (N, d)."""
    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor) -> "Standardizer":
        return cls(x.mean(0), x.std(0))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """A fresh random order of the ``n`` training examples (one per epoch)."""
    return torch.randperm(n, generator=generator)


def batches(x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch_size: int):
    """Mini-batches ``(x_b, y_b)`` of ``batch_size`` rows in ``order`` (the last one may be smaller)."""
    x, y = x[order.to(x.device)], y[order.to(y.device)]
    for start in range(0, len(order), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size]


def as_column(y: torch.Tensor) -> torch.Tensor:
    """Targets (N,) -> (N, 1), the shape of a one-output network's predictions."""
    return y.reshape(-1, 1)


def predict_values(model: MLP, x: torch.Tensor) -> torch.Tensor:
    """Predictions (N,) in eval mode (nothing kept for backward); the mode is restored."""
    was_eval = model.eval_mode
    model.eval()
    out = model.forward(x)
    if not was_eval:
        model.train()
    return out.reshape(-1)


Q2_DECIMALS = 6  # well below the noise (sd 1.5 inch); the same digits on every run


def q2_ytest_text(y_pred: torch.Tensor) -> str:
    """CSE 849's ``q2_ytest.txt``: the test predictions (N,) in the order of ``x_test``, one number per
    line, fixed-point with :data:`Q2_DECIMALS` decimals, no header (what ``numpy.loadtxt`` reads back as (N,))."""
    if (not isinstance(y_pred, torch.Tensor) or not y_pred.is_floating_point() or y_pred.dim() != 1
            or not y_pred.numel() or not torch.isfinite(y_pred).all()):
        raise ValueError(f"y_pred must be a non-empty 1-D tensor of finite predictions (N,), got "
                         f"{tuple(y_pred.shape) if isinstance(y_pred, torch.Tensor) else type(y_pred).__name__}")
    return "".join(f"{value:.{Q2_DECIMALS}f}\n" for value in y_pred.tolist())


def prediction_map(model: MLP, standardize: Standardizer, lon, lat, inside, device=None) -> np.ndarray:
    """``model``'s prediction at every land point of a :func:`helpers.plots.maps.map_grid` (inputs
    standardised like the training data), back on the grid: NaN over water."""
    dtype = model.layer1.weight.dtype
    points = standardize(grid_points(lon, lat, inside, dtype).to(device or model.layer1.weight.device))
    return on_grid(predict_values(model, points).cpu(), inside)


def evaluate_mse(model: MLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean squared error of ``model`` on ``(x, y)``, y of shape (N,)."""
    return float(mse(predict_values(model, x), y))


@dataclass
class History:
    """What one training run produced (epoch numbers count from 1; epoch 0 = before training)."""
    lr: float
    train_mse: list[float] = field(default_factory=list)
    val_mse: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_val_mse: float = math.inf
    best_parameters: dict[str, torch.Tensor] = field(default_factory=dict)
    diverged: bool = False

    @property
    def epochs_run(self) -> int:
        return len(self.val_mse) - 1


def run_epoch(model: MLP, loss_fn: MSELoss, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor,
              batch_size: int) -> float:
    """Exercise 2.8: one epoch of CSE 849 q2's training loop. x: (N, d_in), y: (N, 1), ``order``: a permutation
    of the N rows (N,). For each mini-batch of ``batch_size`` rows taken in ``order`` (:func:`batches`; the last
    may be smaller): ``model.forward``, ``loss_fn.forward``, ``loss_fn.backward``, ``model.backward`` (the SGD
    step happens inside). Returns the epoch's training MSE: the mini-batch losses averaged over the N examples
    (each weighted by its batch's size), a float."""
    ### BEGIN SOLUTION
    total = 0.0
    for xb, yb in batches(x, y, order, batch_size):
        total += float(loss_fn.forward(model.forward(xb), yb)) * len(xb)
        model.backward(loss_fn.backward())
    return total / len(x)
    ### END SOLUTION


def train_mlp(model: MLP, x_train, y_train, x_val, y_val, epochs: int, batch_size: int,
              seed: int, desc: str | None = None) -> History:
    """Mini-batch SGD for ``epochs`` epochs (lr = the model's); keeps the best-validation parameters.

    x: (N, d_in), y: (N,). ``train_mse`` is the whole training set's MSE before training (epoch 0),
    then the mean of the mini-batch losses met during each epoch (free: no extra pass over the data);
    ``val_mse`` is measured on the whole validation set after every epoch. A non-finite loss stops
    the run with ``diverged=True`` (the best epoch so far is kept).
    """
    for history in training_epochs(model, x_train, y_train, x_val, y_val, epochs, batch_size, seed, desc):
        pass
    return history


def training_epochs(model: MLP, x_train, y_train, x_val, y_val, epochs: int, batch_size: int, seed: int,
                    desc: str | None = None, show_progress: bool = True) -> Iterator[History]:
    """:func:`train_mlp` one epoch at a time: yields its History (one object, growing) after epoch 0 (before
    training), 1, 2, …; the last yield is after epoch ``epochs`` or after the first non-finite loss. Training
    fewer epochs is a prefix of training more: the batches of epoch e never depend on the epochs after it."""
    generator = torch.Generator().manual_seed(seed)
    loss_fn = MSELoss()
    history = History(lr=model.lr)
    y_train_col = as_column(y_train)
    model.train()

    def record(epoch: int, train: float) -> bool:
        val = evaluate_mse(model, x_val, y_val)
        history.train_mse.append(train)
        history.val_mse.append(val)
        if not (math.isfinite(train) and math.isfinite(val)):
            history.diverged = True
            return False
        if val < history.best_val_mse:
            history.best_epoch, history.best_val_mse = epoch, val
            history.best_parameters = model.snapshot()
        return True

    record(0, evaluate_mse(model, x_train, y_train))
    yield history
    quiet = {} if show_progress else {"disable": True}
    for epoch in progress(range(1, epochs + 1), desc=desc or f"lr={model.lr:g}", leave=False, **quiet):
        train = run_epoch(model, loss_fn, x_train, y_train_col, epoch_order(len(x_train), generator), batch_size)
        finite = record(epoch, train)
        yield history
        if not finite:
            break


@dataclass
class _Run:
    """One learning rate's run: its ``model`` trained by ``epochs`` (a :func:`training_epochs`), and per epoch
    e trained so far ``histories[e]`` and ``parameters[e]``."""
    model: MLP
    epochs: Iterator[History]
    histories: list[History] = field(default_factory=list)
    parameters: list[dict[str, torch.Tensor]] = field(default_factory=list)
    finished: bool = False


class FitsByLearningRate:
    """One training run per learning rate, kept epoch by epoch (each epoch's History and parameters), for a
    widget with an epochs slider: fewer epochs slice the run, more epochs train only the epochs not run yet.

    ``make_model(lr)`` makes the same initial model for a learning rate (twice: one to train, one to load an
    epoch's parameters into); the data and ``batch_size``, ``seed`` as for :func:`train_mlp`, which the run
    at epoch e equals (same numbers), ``max_epochs`` the most any request may ask for.
    """

    def __init__(self, make_model, x_train, y_train, x_val, y_val, max_epochs: int, batch_size: int, seed: int):
        self.make_model, self.data = make_model, (x_train, y_train, x_val, y_val)
        self.max_epochs, self.batch_size, self.seed = max_epochs, batch_size, seed
        self.runs: dict[float, _Run] = {}
        self.loaded: dict[float, MLP] = {}

    def trained(self, lr: float) -> int:
        """How many epochs of ``lr``'s run are kept (-1: none yet)."""
        return len(self.runs[lr].histories) - 1 if lr in self.runs else -1

    def fits(self, lr: float, epochs: int, every_s: float = 0.5) -> Iterator[tuple[History, MLP]]:
        """(History, model) after ``epochs`` epochs at ``lr``, or after the epoch where the run diverged.

        Kept already: one yield, at once. Otherwise training continues where it stopped, yielding the newest
        epoch every ``every_s`` seconds (progress to show), then the one asked for. The model is a copy
        loaded with that epoch's parameters: do not train it."""
        if not 0 <= epochs <= self.max_epochs:
            raise ValueError(f"epochs must be in [0, {self.max_epochs}], got {epochs}")
        run = self._run(lr)
        shown = time.monotonic() - every_s  # the first epoch trained is shown at once
        while len(run.histories) <= epochs and self._advance(run):
            if time.monotonic() - shown > every_s and len(run.histories) <= epochs:
                shown = time.monotonic()
                yield self._at(lr, len(run.histories) - 1)
        yield self._at(lr, min(epochs, len(run.histories) - 1))

    def train_ahead(self, lr: float) -> Iterator[None]:
        """Train ``lr``'s run on to ``max_epochs`` (or its divergence), yielding None after each epoch: what a
        widget does while nobody asks for anything, so that the epochs slider then answers from the cache."""
        run = self._run(lr)
        while len(run.histories) <= self.max_epochs and self._advance(run):
            yield None

    def _advance(self, run: _Run) -> bool:
        """Train ``run`` one more epoch and keep it; False if it had nothing more to train (ended or diverged)."""
        history = None if run.finished else next(run.epochs, None)
        if history is None:
            run.finished = True
            return False
        run.histories.append(History(history.lr, list(history.train_mse), list(history.val_mse),
                                     history.best_epoch, history.best_val_mse, {}, history.diverged))
        run.parameters.append(run.model.snapshot())
        run.finished = history.diverged
        return True

    def _run(self, lr: float) -> _Run:
        if lr not in self.runs:
            model = self.make_model(lr)
            self.runs[lr] = _Run(model, training_epochs(model, *self.data, self.max_epochs, self.batch_size,
                                                        self.seed, show_progress=False))
        return self.runs[lr]

    def _at(self, lr: float, epoch: int) -> tuple[History, MLP]:
        if lr not in self.loaded:
            self.loaded[lr] = self.make_model(lr)
        model = self.loaded[lr]
        for name, tensor in model.parameters().items():  # copied as they are, a diverged run's NaN included
            tensor.copy_(self.runs[lr].parameters[epoch][name])
        return self.runs[lr].histories[epoch], model


def diverged_status(history: History, epochs: int) -> str:
    """Words for a widget's status line when ``history`` (asked for ``epochs`` epochs) diverged, else ''."""
    if not history.diverged:
        return ""
    loss = history.train_mse[-1] if not math.isfinite(history.train_mse[-1]) else history.val_mse[-1]
    later = f"; epochs {history.epochs_run + 1}–{epochs} never ran" if epochs > history.epochs_run else ""
    return f"diverged at epoch {history.epochs_run} (loss {loss:g}): lower the learning rate{later}"


def search(lrs, epochs: int, x_train, y_train, x_val, y_val, hid_dim: int = 100, batch_size: int = 32,
           seed: int = 0, device=None) -> dict[float, History]:
    """Train one MLP per learning rate (same initialisation, same batches); returns lr -> History.

    Choose the winner with :func:`select_and_test`: the learning rate and epoch of lowest validation MSE.
    """
    runs = {}
    for lr in lrs:
        model = MLP(x_train.shape[1], 1, hid_dim, lr, device=device, dtype=x_train.dtype,
                    generator=torch.Generator().manual_seed(seed))
        runs[lr] = train_mlp(model, x_train, y_train, x_val, y_val, epochs, batch_size, seed)
    return runs


def select_and_test(runs: dict[float, History], test_mse) -> tuple[History, float]:
    """Exercise 2.9: CSE 849 q2's model selection, then the test set once. ``runs``: lr -> History (:func:`search`);
    ``test_mse(history)``: the test MSE of that run's best-epoch parameters (a float; it opens the test targets).

    Choose, on validation data only, the run whose best epoch has the lowest validation MSE (``best_val_mse``;
    a run with ``best_epoch == 0`` never improved or diverged at once and cannot be chosen: if none is left,
    raise RuntimeError); then evaluate *that* run on the test set, exactly once. Returns (the chosen History,
    its test MSE)."""
    ### BEGIN SOLUTION
    finished = [history for history in runs.values() if history.best_epoch > 0]
    if not finished:
        raise RuntimeError("every run diverged or never improved; try smaller learning rates")
    chosen = min(finished, key=lambda history: history.best_val_mse)
    return chosen, test_mse(chosen)
    ### END SOLUTION


def twin_losses(model: MLP, x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, seed: int):
    """Train ``model`` and its autograd twin side by side on the same batches; per-step losses of each.

    Returns two 1-D float64 tensors (manual, autograd). ``model`` is trained in the process.
    """
    twin = torch_twin(model)
    optimizer = torch.optim.SGD(twin.parameters(), lr=model.lr)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = MSELoss()
    manual, autograd = [], []
    model.train()
    for _ in range(epochs):
        for xb, yb in batches(x, as_column(y), epoch_order(len(x), generator), batch_size):
            manual.append(float(loss_fn.forward(model.forward(xb), yb)))
            model.backward(loss_fn.backward())
            optimizer.zero_grad()
            loss = F.mse_loss(twin(xb), yb)
            loss.backward()
            optimizer.step()
            autograd.append(loss.item())
    return torch.tensor(manual, dtype=torch.float64), torch.tensor(autograd, dtype=torch.float64)


def observations(n_checks: int, checks_passed: bool, twin: GradientComparison, twin_steps: int,
                 runs: dict[float, History], best: History, test_mse: float, oracle_mse: float) -> str:
    """Notebook 02's findings as Markdown bullets, every number taken from its results: the instructor's answer to
    the notebook's question on the runs, so the student edition (``edition.SHOWS_ANSWERS`` False) gets
    :data:`HIDDEN`, a prompt, instead.

    ``twin``: the manual MLP's per-step losses against its autograd twin's (:func:`twin_losses`);
    ``runs``/``best``: :func:`search` and :func:`select_and_test`'s choice; ``oracle_mse``: the true field's test MSE.
    """
    if not edition.SHOWS_ANSWERS:
        return HIDDEN
    diverged = [f"{lr:g}" for lr, history in runs.items() if history.diverged]
    ### BEGIN SOLUTION
    tried = ", ".join(f"{lr:g}" for lr in runs) + (f"; {', '.join(diverged)} diverged in the first epoch"
                                                   if diverged else "")
    return (
        f"- Every hand-written gradient ({n_checks} checks: layers, losses, the MLP, and the NYU API for every "
        f"f/g and both losses) matches autograd to a relative error of at most 1e-10 and central differences to "
        f"at most 1e-6: {'all pass' if checks_passed else 'SOME FAIL'}.\n"
        f"- The manual MLP and its nn.Sequential + autograd + SGD twin produce the same loss at every one of "
        f"{twin_steps} steps (relative difference {twin.verdict}).\n"
        f"- Learning rates tried: {tried}. Selected on validation MSE: lr = {best.lr:g} after "
        f"{best.best_epoch} epochs.\n"
        f"- Test MSE {test_mse:.4g} inch² against the noise floor {NOISE_VARIANCE:.4g} inch² "
        f"(ratio {test_mse / NOISE_VARIANCE:.3f}; the true field itself scores {oracle_mse:.4g} on this test set). "
        f"The data are a synthetic stand-in for the course's rainfall file.\n")
    ### END SOLUTION
