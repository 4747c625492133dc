"""A trained classifier's outputs on a set of inputs: logits, predicted classes, accuracy (in evaluation mode)."""
from __future__ import annotations

import torch
from torch import nn


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
