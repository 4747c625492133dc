"""``torch.nn`` twins of the hand-written networks: the same function built from PyTorch modules, so
autograd and ``torch.optim`` can be compared with the manual backward passes step by step."""
from __future__ import annotations

import torch
from torch import nn

from helpers.layers import Linear, MLP


def torch_twin(model: MLP) -> nn.Sequential:
    """``nn.Sequential`` of ``nn.Linear``/``nn.ReLU`` holding copies of ``model``'s current parameters.

    ``nn.Linear.weight`` is (d_out, d_in), the transpose of :class:`Linear`'s (d_in, d_out).
    """
    modules = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            twin = nn.Linear(layer.d_in, layer.d_out, dtype=layer.weight.dtype, device=layer.weight.device)
            with torch.no_grad():
                twin.weight.copy_(layer.weight.t())
                twin.bias.copy_(layer.bias)
            modules.append(twin)
        else:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)
