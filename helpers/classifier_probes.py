"""Probing a trained image classifier: how it normalises its input, the activation of a named layer,
the probability of a class on an image and on random views of it (robustness), the logit margin.

Support for :mod:`helpers.dream` (notebook 05), which re-exports the public names; any ``nn.Module``
taking normalised (N, C, H, W) images works, its ``mean``/``std`` attributes giving the normalisation
(ImageNet's for a model without them, as torchvision's pretrained classifiers expect).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from helpers.data.cifar import normalize
from helpers.data.images import channel_stats, check_image, random_views

# A class label for every image: one int for all, or one per image.
Target = int | Sequence[int] | torch.Tensor | None

# The ImageNet channel statistics torchvision's pretrained models are trained with (RGB, images in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def input_stats(model: nn.Module, mean: Sequence[float] | None = None,
                std: Sequence[float] | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The per-channel (mean, std) ``model`` expects its input normalised with, as float tuples.

    ``mean``/``std`` when given, else the model's ``mean``/``std`` attributes, else ImageNet's
    (:data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`: what torchvision's pretrained models, e.g. the
    course's VGG-13-BN, expect). A clear error unless each holds one finite number per channel with
    every std > 0.
    """
    mean = getattr(model, "mean", IMAGENET_MEAN) if mean is None else mean
    std = getattr(model, "std", IMAGENET_STD) if std is None else std
    return channel_stats(mean, std)


def target_labels(target: Target, batch: int, num_classes: int | None = None) -> torch.Tensor | None:
    """``target`` as int64 labels (batch,), one int broadcast to every image (None stays None).

    With ``num_classes`` the labels are also checked to lie in ``0 .. num_classes - 1``.
    """
    if target is None:
        return None
    labels = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if labels.numel() == 1:
        labels = labels.expand(batch)
    if labels.numel() != batch:
        raise ValueError(f"target needs one label per image ({batch}), got {labels.numel()}")
    if num_classes is not None and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"target labels must lie in [0, {num_classes - 1}], got {labels.tolist()}")
    return labels


class LayerOutput(nn.Module):
    """Wrap ``model`` so that calling it returns the output of its sub-module ``layer``.

    ``layer`` is a name from ``model.named_modules()`` (e.g. ``"features.block2"``) or the sub-module
    itself (e.g. ``model.features[20]``); a forward hook catches the activation and stops the forward
    pass there (later layers are not computed). ``mean`` and ``std`` are passed through from ``model``.
    """

    class _Stop(Exception):
        pass

    def __init__(self, model: nn.Module, layer: str | nn.Module):
        super().__init__()
        modules = dict(model.named_modules())
        if isinstance(layer, nn.Module):
            names = [name for name, module in modules.items() if module is layer and name]
            if not names:
                raise KeyError(f"the {type(layer).__name__} given is not a sub-module of {type(model).__name__}")
            layer = names[0]
        if layer not in modules or layer == "":
            names = [name for name in modules if name]
            raise KeyError(f"{type(model).__name__} has no layer {layer!r}; its layers are: {', '.join(names)}")
        self.model, self.layer = model, layer
        self.module = modules[layer]
        for attribute in ("mean", "std"):
            if hasattr(model, attribute):
                setattr(self, attribute, getattr(model, attribute))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        caught = []

        def hook(module, inputs, output):
            caught.append(output)
            raise LayerOutput._Stop

        handle = self.module.register_forward_hook(hook)
        try:
            self.model(x)
        except LayerOutput._Stop:
            pass
        finally:
            handle.remove()
        if not caught:
            raise RuntimeError(f"layer {self.layer!r} was not called during the forward pass")
        return caught[0]


@torch.no_grad()
def target_probability(image: torch.Tensor, model: nn.Module, target: Target,
                       mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> torch.Tensor:
    """Softmax probability of each image's target class, (N,), on the image as it is."""
    mean, std = input_stats(model, mean, std)
    check_image(image, channels=len(mean))
    model.eval()
    out = model(normalize(image, mean, std))
    labels = target_labels(target, image.shape[0], out.shape[1]).to(out.device)
    return out.softmax(1).gather(1, labels[:, None]).squeeze(1)


@torch.no_grad()
def robustness(image: torch.Tensor, model: nn.Module, target: Target, views: int = 32, seed: int = 0,
               mean: Sequence[float] | None = None, std: Sequence[float] | None = None, **view_options) -> torch.Tensor:
    """Mean target probability over ``views`` random shifts/zooms/flips of each image, (N,).

    Near 1: the model sees the class in the image however it is framed; an adversarial speck
    scores high on :func:`target_probability` but falls apart here. ``view_options`` go to
    :func:`helpers.data.images.random_views` (defaults: shifts up to 10 %, zoom 0.9-1.1, flips).
    """
    mean, std = input_stats(model, mean, std)
    check_image(image, channels=len(mean))
    model.eval()
    batch = random_views(image, views, seed=seed, **view_options)
    out = model(normalize(batch.flatten(0, 1), mean, std))
    labels = target_labels(target, image.shape[0], out.shape[1]).to(out.device).repeat(views)
    probabilities = out.softmax(1).gather(1, labels[:, None]).view(views, image.shape[0])
    return probabilities.mean(0)


@torch.no_grad()
def logit_margin(image: torch.Tensor, model: nn.Module, target: Target,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> torch.Tensor:
    """Target logit minus the largest other logit, per image: (N,), on the image as it is.

    Positive when the model picks the target class; unlike the probability it does not saturate at 1,
    so it still says *how much* more the model sees the target than its runner-up.
    """
    mean, std = input_stats(model, mean, std)
    check_image(image, channels=len(mean))
    model.eval()
    out = model(normalize(image, mean, std))
    labels = target_labels(target, image.shape[0], out.shape[1]).to(out.device)
    target_logit = out.gather(1, labels[:, None]).squeeze(1)
    others = out.scatter(1, labels[:, None], float("-inf"))
    return target_logit - others.max(dim=1).values
