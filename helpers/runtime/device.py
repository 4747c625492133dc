"""Device choice: CUDA when present, else CPU, so notebooks run unchanged on either."""
from __future__ import annotations

import torch


def get_device() -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
