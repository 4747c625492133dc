"""An MLP for 16×16 RGB images and two training loops: with ``torch.optim.SGD`` and with SGD by hand.

:func:`train_manual_update` follows the update rule documented for ``torch.optim.SGD`` (learning rate,
momentum, weight decay, dampening, Nesterov) with the very same tensor operations, in the same order, so
with the same seed, initialisation and batches both loops give bit-for-bit identical parameters and
losses (float64 and float32, on the CPU).

Exercises of notebook 04: ``MyMLP.forward`` (4.2), :func:`training_step`, the batch step of :func:`train`
(4.3), and :func:`sgd_step`, the manual update (4.4). Then the trained model's outputs (:func:`logits`,
:func:`predict`, :func:`accuracy`), and at the end, not part of the exercises, what the two loops refuse:
the settings are checked once, where :func:`train` and :func:`train_manual_update` are called.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from helpers.runtime.progress import progress
from helpers.runtime.torch_settings import default_dtype, torch_threads  # noqa: F401 - public here too

EpochCallback = Callable[[int, nn.Module, float], None]


class MyMLP(nn.Module):
    """768 → 128 → 32 → 2, ReLU after each hidden layer, raw scores (logits) out.

    forward: x (N, 3, 16, 16) or (N, 768) -> logits (N, 2); use with ``nn.CrossEntropyLoss``.
    """

    def __init__(self, n_inputs: int = 768, n_hidden: Sequence[int] = (128, 32), n_classes: int = 2):
        super().__init__()
        sizes = [n_inputs, *n_hidden]
        self.n_inputs = n_inputs
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.fc3 = nn.Linear(sizes[2], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 3, 16, 16) or (N, n_inputs) -> logits (N, n_classes), through fc1, fc2 and fc3."""
        dtype = self.fc1.weight.dtype
        if not isinstance(x, torch.Tensor) or x.dtype != dtype or x.dim() < 2:
            raise TypeError(f"MyMLP expects a {dtype} tensor of shape (N, 3, 16, 16) or (N, {self.n_inputs}) "
                            f"(the parameters' dtype), got {getattr(x, 'dtype', type(x).__name__)} "
                            f"{tuple(getattr(x, 'shape', ()))}")
        x = torch.flatten(x, start_dim=1)
        if x.shape[1] != self.n_inputs:
            raise ValueError(f"MyMLP expects {self.n_inputs} input features per sample (N, 3, 16, 16), "
                             f"got a batch flattening to {tuple(x.shape)}")
        ### BEGIN SOLUTION
        # ReLU after each hidden layer; no activation after the last (cross-entropy applies the softmax)
        hidden = torch.relu(self.fc2(torch.relu(self.fc1(x))))
        scores = self.fc3(hidden)
        ### END SOLUTION
        return scores


def _batches(model: nn.Module, train_loader: Iterable, epoch: int):
    """The loader's (x, y) batches on the model's device, x in the model's floating dtype."""
    parameter = next(model.parameters())
    n_batches = 0
    for x, y in train_loader:
        n_batches += 1
        yield x.to(device=parameter.device, dtype=parameter.dtype), y.to(parameter.device)
    if n_batches == 0:
        raise ValueError(f"train_loader gave no batches in epoch {epoch + 1}")


class _FiniteLoss:
    """``loss_fn``, raising before any backward pass or update when a batch's loss is NaN or infinite."""

    def __init__(self, loss_fn: Callable):
        self.loss_fn, self.epoch, self.batch = loss_fn, 0, 0

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = self.loss_fn(output, target)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"training diverged: loss = {loss.item()} at epoch {self.epoch + 1}, batch "
                                     f"{self.batch + 1}; lower the learning rate (or the momentum)")
        return loss


def _run(n_epochs: int, model: nn.Module, loss_fn: _FiniteLoss, train_loader: Iterable,
         batch_step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], callback: EpochCallback | None,
         desc: str, start_epoch: Callable[[int], None] | None = None) -> list[float]:
    """The loop both trainers share: ``batch_step(x, y)`` per batch; the mean loss of each epoch."""
    model.train()
    epoch_losses = []
    for epoch in progress(range(n_epochs), desc=desc, leave=False):
        if start_epoch is not None:
            start_epoch(epoch)  # before any batch: a bad setting for this epoch stops with the model unchanged
        loss_fn.epoch, total, n_batches = epoch, 0.0, 0
        for batch, (x, y) in enumerate(_batches(model, train_loader, epoch)):
            loss_fn.batch = batch
            total += batch_step(x, y).item()
            n_batches += 1
        epoch_losses.append(total / n_batches)
        if callback is not None:
            callback(epoch, model, epoch_losses[-1])
            model.train()
    return epoch_losses


def train(n_epochs: int, optimizer: torch.optim.Optimizer, model: nn.Module, loss_fn: Callable,
          train_loader: Iterable, *, callback: EpochCallback | None = None) -> list[float]:
    """Train ``model`` with ``optimizer`` for ``n_epochs`` passes over ``train_loader``.

    train_loader yields (x, y) batches (moved to the model's device and dtype). Returns the mean
    training loss of each epoch (mean over its batches). ``callback(epoch, model, mean_loss)``,
    if given, runs after each epoch (e.g. to measure validation accuracy). ``optimizer`` must update every
    trainable parameter of ``model``. Raises ``FloatingPointError`` as soon as a loss is NaN or infinite,
    before that batch's update: the model keeps the parameters that gave that loss.
    """
    _check_n_epochs(n_epochs)
    _check_optimizer(optimizer, model)
    finite_loss = _FiniteLoss(loss_fn)

    def batch_step(x, y):
        return training_step(model, finite_loss, optimizer, x, y)

    optimizer.zero_grad()
    return _run(n_epochs, model, finite_loss, train_loader, batch_step, callback, "train (torch.optim.SGD)")


def training_step(model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor) -> torch.Tensor:
    """One optimisation step of ``model`` on the batch x (N, ...), y (N,); returns the batch's loss (0-d).

    Afterwards ``optimizer`` has updated the parameters once, from this batch's gradients alone, and no
    gradient is left in any ``.grad`` for the next batch.
    """
    ### BEGIN SOLUTION
    loss = loss_fn(model(x), y)
    loss.backward()      # fills p.grad of every parameter
    optimizer.step()
    optimizer.zero_grad()  # else the next batch's gradients add to these
    ### END SOLUTION
    return loss


def sgd_step(params: Sequence[torch.Tensor], momentum_buffers: list[torch.Tensor | None], lr: float,
             momentum: float = 0.0, weight_decay: float = 0.0, dampening: float = 0.0,
             nesterov: bool = False) -> None:
    """One SGD update of every parameter in ``params`` from its ``.grad``, in place; clears the grads.

    params: tensors of any shapes, each with its ``.grad`` of the same shape (None: left alone).
    momentum_buffers: one entry per parameter, None before the first step; filled and updated here.
    Must equal ``torch.optim.SGD``'s step with the same settings bit for bit (its single-tensor path, used
    on the CPU, where floating-point results depend on the order of the operations). The settings are those
    :func:`train_manual_update` checked once, before its first batch.
    """
    with torch.no_grad():
        for i, p in enumerate(params):
            if p.grad is None:
                continue
            ### BEGIN SOLUTION
            # torch.optim.SGD's rule, in its order of operations:
            #   g ← ∇θ + λθ;  b ← g at the first step, μb + (1 − τ)g afterwards;
            #   g ← g + μb (Nesterov) or b;  θ ← θ − ηg;  then clear the gradient
            grad = p.grad
            if weight_decay != 0:
                grad = grad.add(p, alpha=weight_decay)              # g + λθ
            if momentum != 0:
                if momentum_buffers[i] is None:
                    momentum_buffers[i] = grad.detach().clone()      # b₁ = g₁
                else:
                    momentum_buffers[i].mul_(momentum).add_(grad, alpha=1 - dampening)  # μb + (1-τ)g
                buf = momentum_buffers[i]
                grad = grad.add(buf, alpha=momentum) if nesterov else buf
            p.add_(grad, alpha=-lr)                                  # θ - ηg
            p.grad = None  # what optimizer.zero_grad() does: the next backward starts afresh
            ### END SOLUTION


def train_manual_update(n_epochs: int, lr: float, model: nn.Module, loss_fn: Callable, train_loader: Iterable,
                        momentum: float = 0.0, weight_decay: float = 0.0, *, dampening: float = 0.0,
                        nesterov: bool = False, lr_schedule: Callable[[int], float] | None = None,
                        callback: EpochCallback | None = None) -> list[float]:
    """:func:`train` with SGD written by hand (no optimiser object): see :func:`sgd_step`.

    lr η >= 0, momentum 0 <= μ < 1 (typically 0.9), weight_decay λ >= 0 (L2 term λθ added to the gradient),
    dampening 0 <= τ < 1 and nesterov as in ``torch.optim.SGD``. ``lr_schedule(epoch)``, if given, multiplies
    ``lr`` during that epoch (0-based; a factor >= 0), like ``LambdaLR`` stepped once per epoch.
    Returns the mean training loss of each epoch.
    """
    _check_n_epochs(n_epochs)
    _check_hyperparameters(lr, momentum, weight_decay, dampening, nesterov)
    if lr_schedule is not None and not callable(lr_schedule):
        raise ValueError(f"lr_schedule must be a function epoch -> lr factor, got {type(lr_schedule).__name__}")
    params = list(model.parameters())
    if not params:
        raise ValueError("model has no parameters to train")
    momentum_buffers: list[torch.Tensor | None] = [None] * len(params)
    finite_loss = _FiniteLoss(loss_fn)
    epoch_lr = lr

    def start_epoch(epoch):
        nonlocal epoch_lr
        epoch_lr = _epoch_lr(lr, lr_schedule, epoch)

    def batch_step(x, y):
        loss = finite_loss(model(x), y)
        loss.backward()  # autograd's gradients; the update is sgd_step's
        sgd_step(params, momentum_buffers, epoch_lr, momentum, weight_decay, dampening, nesterov)
        return loss

    model.zero_grad()
    return _run(n_epochs, model, finite_loss, train_loader, batch_step, callback, "train_manual_update", start_epoch)


@dataclass(frozen=True)
class Comparison:
    """Two runs from the same start: ``train`` with ``torch.optim.SGD`` and ``train_manual_update``."""
    torch_losses: list[float]
    manual_losses: list[float]
    max_abs_difference: float  # over every parameter after training

    @property
    def identical(self) -> bool:
        return self.torch_losses == self.manual_losses and self.max_abs_difference == 0.0


def compare_with_torch_sgd(make_model: Callable[[], nn.Module], make_loader: Callable[[], Iterable],
                           n_epochs: int, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                           loss_fn: Callable | None = None) -> Comparison:
    """Train ``make_model()`` on ``make_loader()`` both ways with the same settings; compare the results.

    ``make_model`` must seed before it builds (same initial parameters each call) and ``make_loader``
    must give the same batches each call (``shuffle=False`` or a freshly seeded generator).
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    reference = make_model()
    optimizer = torch.optim.SGD(reference.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    torch_losses = train(n_epochs, optimizer, reference, loss_fn, make_loader())
    manual = make_model()
    manual_losses = train_manual_update(n_epochs, lr, manual, loss_fn, make_loader(), momentum, weight_decay)
    difference = max((a - b).abs().max().item() for a, b in zip(reference.parameters(), manual.parameters()))
    return Comparison(torch_losses, manual_losses, difference)


def cosine_schedule(n_epochs: int) -> Callable[[int], float]:
    """``epoch -> ½(1 + cos(π · epoch / n_epochs))``: the lr factor falls from 1 towards 0 (an ``lr_schedule``)."""
    return lambda epoch: 0.5 * (1 + math.cos(math.pi * epoch / n_epochs))


# -- a trained classifier's outputs (in evaluation mode) --------------------------------------------------


@torch.no_grad()
def logits(model: nn.Module, images: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """The model's outputs (N, n_classes) for ``images`` (N, ...), in evaluation mode, on the CPU.

    Inputs are moved to the model's device and dtype chunk by chunk, so a GPU model works unchanged.
    """
    parameter = next(model.parameters())
    model.eval()
    return torch.cat([model(chunk.to(device=parameter.device, dtype=parameter.dtype)).cpu()
                      for chunk in images.split(batch_size)])


def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Predicted class (N,) int64 of each input in ``images`` (N, ...): the largest logit."""
    return logits(model, images, batch_size).argmax(dim=1)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` (N, ...) whose predicted class equals ``labels`` (N,)."""
    return (predict(model, images) == labels.cpu()).double().mean().item()

# ---------------------------------------------------------------------------------------------------------
# Not part of the exercises: what the two training loops refuse (nonsense settings, a foreign optimizer),
# checked once where train / train_manual_update are called (the lr factor once per epoch), never per batch.
# ---------------------------------------------------------------------------------------------------------


def _check_n_epochs(n_epochs) -> None:
    if not isinstance(n_epochs, int) or isinstance(n_epochs, bool) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive int, got {n_epochs!r}")


def _is_finite_nonnegative(value) -> bool:
    """An int or float (NumPy scalars too), finite and >= 0; not a bool, which Python counts as an int."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return real and math.isfinite(value) and value >= 0


def _check_hyperparameters(lr, momentum, weight_decay, dampening, nesterov) -> None:
    """What ``torch.optim.SGD`` refuses, refused with the same meaning, and what it accepts but makes nonsense."""
    # torch refuses lr, momentum, weight_decay < 0. It lets NaN through (NaN < 0 is False) and inf: either makes
    # the parameters non-finite at the first step. It takes bools as numbers: True is almost surely an argument out of
    # place. It checks no dampening τ (buffer ← μ buffer + (1 − τ) g): τ < 0 amplifies the gradient.
    for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay), ("dampening", dampening)):
        if not _is_finite_nonnegative(value):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    # μ >= 1: past gradients never fade (μ = 1) or grow (μ > 1) in the buffer, so the steps grow without bound.
    if momentum >= 1:
        raise ValueError(f"momentum must be < 1 (0.9 is typical), got {momentum!r}: with momentum >= 1 past "
                         "gradients never fade and the steps grow without bound")
    # τ > 1 flips the sign of each new gradient (gradient ascent); τ = 1 ignores every gradient after the first.
    if dampening >= 1:
        raise ValueError(f"dampening must be < 1 (it scales each new gradient by 1 - dampening), got {dampening!r}")
    if not isinstance(nesterov, bool):
        raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0 (as in torch.optim.SGD)")


def _check_optimizer(optimizer, model: nn.Module) -> None:
    """Every trainable parameter of ``model`` must be one the optimizer updates (else it never moves)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("model has no trainable parameters (none with requires_grad=True)")
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [name for name, p in trainable if id(p) not in held]
    if missing:
        which = ("none of the model's parameters" if len(missing) == len(trainable) else
                 f"{len(missing)} of the model's {len(trainable)} trainable parameters (missing: {', '.join(missing)})")
        raise ValueError(f"the optimizer updates {which}: build it over model.parameters() of the model you "
                         "train (not another instance), or set requires_grad=False on parameters to freeze")


def _epoch_lr(lr: float, lr_schedule: Callable[[int], float] | None, epoch: int) -> float:
    """lr times ``lr_schedule(epoch)``, the factor checked: a negative one would climb the loss (ascent)."""
    if lr_schedule is None:
        return lr
    factor = lr_schedule(epoch)
    if not _is_finite_nonnegative(factor):
        raise ValueError(f"lr_schedule({epoch}) must return a finite number >= 0 (the lr factor of epoch "
                         f"{epoch + 1}), got {factor!r}: a negative factor would climb the loss")
    return lr * factor
