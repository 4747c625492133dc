"""torchvision's ImageNet VGG-13-BN, the network of the course's DeepDream driver, when it is available offline.

The bundle never downloads it (notebook 05 must run offline and the same on every machine): the
model is built only when torchvision is installed and its weights file is already in torch's hub
cache (``~/.cache/torch/hub/checkpoints`` by default; a run of
``torchvision.models.vgg13_bn(weights="IMAGENET1K_V1")`` while online puts it there).

Loading follows the bundle's rule: the file's sha256 is checked first (torchvision names its weight
files ``<name>-<first 8 hex digits of the sha256>.pth``; torch's hub checks that prefix only while
downloading, not when it reads a cached file), then it is read with ``weights_only=True``, which never
executes code.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn as nn

from helpers.data.checksums import sha256_of

_HASH_PREFIX = re.compile(r"-([0-9a-f]{8,})\.pth$")


def verified_hub_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in the hub file ``path``, after checking its sha256 against the prefix in its name.

    Raises ValueError when the name carries no hash prefix or the file's sha256 does not start with it."""
    match = _HASH_PREFIX.search(Path(path).name)
    if match is None:
        raise ValueError(f"{path}: expected a torchvision weight file named <name>-<sha256 prefix>.pth")
    actual = sha256_of(Path(path))
    if not actual.startswith(match.group(1)):
        raise ValueError(f"{path} is corrupt or not the expected file: sha256 {actual} does not start with "
                         f"{match.group(1)}; delete it and download it again")
    return torch.load(path, map_location="cpu", weights_only=True)


# torchvision's name for the file (VGG13_BN_Weights.IMAGENET1K_V1.url's last part): looked for before torchvision
# is imported, since the import alone holds about 85 MiB, a tenth of a hub pod's memory (docs/pod_memory.md)
VGG13_BN_FILE = "vgg13_bn-abd245e5.pth"


def cached_vgg13_bn() -> nn.Module | None:
    """The pretrained VGG-13-BN in eval mode ((N, 3, 224, 224) ImageNet-normalised -> (N, 1000) logits),
    or None when its cached weights or torchvision are missing (nothing is downloaded)."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / VGG13_BN_FILE
    if not path.is_file():
        return None
    try:
        from torchvision.models import vgg13_bn
    except ImportError:
        return None
    model = vgg13_bn(weights=None)
    model.load_state_dict(verified_hub_weights(path))
    return model.eval()
