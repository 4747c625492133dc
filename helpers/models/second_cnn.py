"""A second, independently trained CIFAR-10 network: the second opinion on notebook 05's dreams.

An image optimised against :class:`helpers.models.cnn.CifarCNN` can fool that one network (an
adversarial pattern) or show the class (a picture). A network that never saw the optimisation tells
the two apart: adversarial noise rarely transfers to another network, a picture of a cat is a cat to
both. So this one differs from CifarCNN in everything but the data: another seed, another
architecture (strided convolutions, no max-pooling, a quarter of the parameters) and a shorter
training run::

    python -m helpers.models.second_cnn train     # writes data/cifar_cnn_second.pt

Network (:class:`SecondCNN`, 0.14 M parameters; input normalised with ``CIFAR_MEAN`` / ``CIFAR_STD``)::

    features.0   conv3x3 3 -> 16, BN, ReLU                    (N, 16, 32, 32)
    features.1   conv3x3 16 -> 32 stride 2, BN, ReLU          (N, 32, 16, 16)
    features.2   conv3x3 32 -> 64 stride 2, BN, ReLU          (N, 64, 8, 8)
    features.3   conv3x3 64 -> 64, BN, ReLU                   (N, 64, 8, 8)
    features.4   conv3x3 64 -> 128 stride 2, BN, ReLU         (N, 128, 4, 4)
    pool, classifier   global average pool, linear 128 -> 10  (N, 10) logits

Training recipe: :data:`SECOND_CONFIG` (seed 1, 3 epochs, float32 forward: bfloat16 only pays on
CPUs with AVX-512 BF16/AMX), otherwise :func:`helpers.models.cnn.train_cnn`'s (augmentation, SGD with
Nesterov momentum, one-cycle schedule, one thread).

Measured for the committed ``data/cifar_cnn_second.pt`` (0.56 MB; 2-core AMD EPYC without AVX-512,
PyTorch 2.14.1): test accuracy 0.6942 on the 10,000 CIFAR-10 test images (:data:`SECOND_TEST_ACCURACY`;
CifarCNN: 0.8676); 3.7 CPU-minutes of training, 11.9 min wall while the machine was shared with
several other jobs. As for CifarCNN, another CPU or PyTorch build may round differently: expect
other bytes (update :data:`SECOND_WEIGHTS_SHA256`) and a similar accuracy.
"""
from __future__ import annotations

import sys
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn

from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD
from helpers.data.paths import data_dir
from helpers.models.cnn import NUM_CLASSES, TrainConfig, load_pretrained_cnn, main as train_main

SECOND_WEIGHTS_NAME = "cifar_cnn_second.pt"
SECOND_WEIGHTS_SHA256 = "882d2e4489f0162fc5950eac1d0ac5651430d52360e2f4b8a40d9db5078ae058"
# float32 accuracy of the committed weights on the 10,000 CIFAR-10 test images (printed by the command)
SECOND_TEST_ACCURACY = 0.6942
SECOND_TRAIN_COMMAND = "python -m helpers.models.second_cnn train"
SECOND_CONFIG = TrainConfig(seed=1, epochs=3, bf16=False)


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class SecondCNN(nn.Module):
    """All-convolutional CIFAR-10 classifier: (N, 3, 32, 32) normalised images -> (N, 10) logits.

    ``mean`` and ``std`` (attributes, not parameters) say how to normalise [0, 1] images for it, as
    for :class:`helpers.models.cnn.CifarCNN`. Layers: ``features.0`` .. ``features.4``, ``pool``,
    ``classifier``.
    """

    mean = CIFAR_MEAN
    std = CIFAR_STD

    def __init__(self):
        super().__init__()
        stages = [(3, 16, 1), (16, 32, 2), (32, 64, 2), (64, 64, 1), (64, 128, 2)]
        self.features = nn.Sequential(OrderedDict(
            (str(i), _conv_bn_relu(a, b, stride)) for i, (a, b, stride) in enumerate(stages)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(128, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def second_weights_path() -> Path:
    """``<data>/cifar_cnn_second.pt``: the committed weights."""
    return data_dir() / SECOND_WEIGHTS_NAME


def load_second_cnn(path: Path | None = None, device: torch.device | str | None = None,
                    expected_sha256: str | None = SECOND_WEIGHTS_SHA256) -> SecondCNN:
    """The trained :class:`SecondCNN` in eval mode, its file's sha256 checked before it is read.

    As :func:`helpers.models.cnn.load_pretrained_cnn`: a wrong digest is refused before ``torch.load``
    runs, and the file is read with ``weights_only=True`` (``expected_sha256=None`` skips the check).
    """
    return load_pretrained_cnn(path if path is not None else second_weights_path(), device, expected_sha256,
                               network=SecondCNN, command=SECOND_TRAIN_COMMAND)


def main(argv: list[str] | None = None) -> int:
    return train_main(argv, network=SecondCNN, defaults=SECOND_CONFIG, out_name=SECOND_WEIGHTS_NAME,
                      expected_sha256=SECOND_WEIGHTS_SHA256, prog="python -m helpers.models.second_cnn")


if __name__ == "__main__":
    sys.exit(main())
