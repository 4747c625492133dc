"""One SGD step of the hand-written MLP vs. the same step with nn.Sequential + autograd + torch.optim.SGD.

    python benchmarks/mlp_step.py [--batch 64] [--width 100] [--repeats 30] [--steps 200]

Both networks are ``Linear(d_in, width) -> ReLU -> Linear(width, width) -> ReLU -> Linear(width, 1)``
in float32 with MSE, trained on the same fixed batch. A step is forward, loss, backward and update
(for autograd also ``zero_grad``). Timings alternate between the two in blocks of ``--steps`` steps;
the median over ``--repeats`` blocks is reported, then the ratio manual / autograd (target <= 1.0).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project: helpers/ and tools/ (not installed)

from helpers.runtime.device import get_device  # noqa: E402
from helpers.layers import MLP, MSELoss  # noqa: E402
from helpers.models.twins import torch_twin  # noqa: E402
from helpers.runtime.torch_settings import use_threads  # noqa: E402


def manual_step(model: MLP, loss_fn: MSELoss, x: torch.Tensor, y: torch.Tensor) -> None:
    loss_fn.forward(model.forward(x), y)
    model.backward(loss_fn.backward())


def autograd_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer.zero_grad()
    F.mse_loss(net(x), y).backward()
    optimizer.step()


def seconds_per_step(step, steps: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--d-in", type=int, default=2, help="input features (2: the rainfall task)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--steps", type=int, default=200, help="steps per timed block")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (small matrices: 1)")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    device = get_device()
    torch.manual_seed(0)
    lr = 1e-3  # small: thousands of steps on one batch stay finite
    model = MLP(args.d_in, 1, args.width, lr, device=device)
    twin = torch_twin(model)
    optimizer = torch.optim.SGD(twin.parameters(), lr=lr)
    loss_fn = MSELoss()
    x = torch.randn(args.batch, args.d_in, device=device)
    y = torch.randn(args.batch, 1, device=device)
    steps = {"manual": lambda: manual_step(model, loss_fn, x, y),
             "autograd": lambda: autograd_step(twin, optimizer, x, y)}
    for step in steps.values():  # warm-up (allocator, lazy init)
        seconds_per_step(step, args.steps, device)
    times = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            times[name].append(seconds_per_step(step, args.steps, device))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["manual"] / medians["autograd"]
    print(f"device {device}, float32, batch {args.batch}, width {args.width}, d_in {args.d_in}, "
          f"{args.threads} thread(s), median of {args.repeats} blocks of {args.steps} steps")
    print(f"manual MLP step:             {medians['manual'] * 1e6:8.1f} us")
    print(f"nn.Sequential+autograd+SGD:  {medians['autograd'] * 1e6:8.1f} us")
    print(f"ratio manual / autograd:     {ratio:8.3f}  (target <= 1.0)")
    return ratio


if __name__ == "__main__":
    main()
