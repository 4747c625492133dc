"""Wall time of ``train_manual_update`` over ``train`` with ``torch.optim.SGD``, in the same run.

    .venv/bin/python benchmarks/sgd_step.py [--epochs 2] [--repeats 5] [--threads 1]

Both loops train the same MyMLP (same seed, so the same initial parameters) on the same batches of the
cat/car training split (float32, batch 64, lr 0.05, momentum 0.9, weight decay 0.005), which is the
notebook's selected setting. The runs alternate (torch, manual, torch, ...) so that a busy machine slows
both alike, and the ratio of the medians is reported (target <= 1.1). The update step alone (six
parameter tensors, gradients given) is timed the same way. Falls back to random data of the same shape
when CIFAR-10 is not available.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project: helpers/ and tools/ (not installed)

from helpers.data.catcar import BatchLoader, load_catcar  # noqa: E402
from helpers.runtime.torch_settings import use_threads  # noqa: E402
from helpers.training import MyMLP, sgd_step, train, train_manual_update  # noqa: E402

SEED = 265
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 0.005


def training_inputs() -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        images, labels = load_catcar().inputs("train")
        return images, labels, "cat/car training split"
    except FileNotFoundError:
        generator = torch.Generator().manual_seed(SEED)
        return (torch.randn(8000, 3, 16, 16, generator=generator),
                torch.randint(0, 2, (8000,), generator=generator), "random data (CIFAR-10 not found)")


def fresh_model() -> MyMLP:
    torch.manual_seed(SEED)
    return MyMLP()


def time_training(kind: str, images, labels, epochs: int) -> float:
    model, loader = fresh_model(), BatchLoader(images, labels, 64, seed=SEED)
    start = time.perf_counter()
    if kind == "torch":
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        train(epochs, optimizer, model, nn.CrossEntropyLoss(), loader)
    else:
        train_manual_update(epochs, LR, model, nn.CrossEntropyLoss(), loader, MOMENTUM, WEIGHT_DECAY)
    return time.perf_counter() - start


def time_steps(kind: str, images, labels, n_steps: int) -> float:
    """``n_steps`` updates from fixed gradients; both sides also clear the gradients, as in training."""
    model = fresh_model()
    nn.functional.cross_entropy(model(images[:64]), labels[:64]).backward()
    params = list(model.parameters())
    grads = [p.grad for p in params]
    optimizer = torch.optim.SGD(params, lr=1e-6, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    buffers: list[torch.Tensor | None] = [None] * len(params)
    start = time.perf_counter()
    for _ in range(n_steps):
        for p, g in zip(params, grads):
            p.grad = g
        if kind == "torch":
            optimizer.step()
            optimizer.zero_grad()
        else:
            sgd_step(params, buffers, 1e-6, MOMENTUM, WEIGHT_DECAY)
    return time.perf_counter() - start


def median_ratio(measure, repeats: int) -> tuple[float, float, float]:
    """Alternating measurements: (median torch, median manual, manual / torch)."""
    measure("torch"), measure("manual")  # warm-up: first-call costs are not the loop's
    times = {"torch": [], "manual": []}
    for _ in range(repeats):
        for kind in ("torch", "manual"):
            times[kind].append(measure(kind))
    reference, manual = statistics.median(times["torch"]), statistics.median(times["manual"])
    return reference, manual, manual / reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the notebook uses 1)")
    args = parser.parse_args()
    os.environ["BACKPROP_LAB_HEADLESS"] = "1"  # no progress bars inside the timed loops
    use_threads(args.threads)
    images, labels, source = training_inputs()
    print(f"data: {source}, {len(labels)} images; {args.epochs} epochs per run, {args.repeats} runs each, "
          f"{args.threads} thread(s)")
    reference, manual, ratio = median_ratio(lambda kind: time_training(kind, images, labels, args.epochs),
                                            args.repeats)
    print(f"training  torch.optim.SGD {reference:.3f} s   train_manual_update {manual:.3f} s   "
          f"ratio manual/torch {ratio:.3f} (target <= 1.1)")
    n_steps = 2000
    reference, manual, ratio = median_ratio(lambda kind: time_steps(kind, images, labels, n_steps), args.repeats)
    print(f"update step alone ({n_steps} steps)  optimizer.step()+zero_grad() {reference * 1e6 / n_steps:.1f} µs   "
          f"sgd_step {manual * 1e6 / n_steps:.1f} µs   ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
