"""torchvision's ImageNet VGG-13-BN, the network of the course's DeepDream driver, when it is available offline.

The bundle never downloads it (notebook 05 must run offline and the same on every machine): the
model is built only when torchvision is installed and its weights file is already in torch's hub
cache (``~/.cache/torch/hub/checkpoints`` by default; a run of
``torchvision.models.vgg13_bn(weights="IMAGENET1K_V1")`` while online puts it there).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn


def cached_vgg13_bn() -> nn.Module | None:
    """The pretrained VGG-13-BN in eval mode ((N, 3, 224, 224) ImageNet-normalised -> (N, 1000) logits),
    or None when torchvision or its cached weights are missing (nothing is downloaded)."""
    try:
        from torchvision.models import VGG13_BN_Weights, vgg13_bn
    except ImportError:
        return None
    weights = VGG13_BN_Weights.IMAGENET1K_V1
    if not (Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name).is_file():
        return None
    return vgg13_bn(weights=weights).eval()
