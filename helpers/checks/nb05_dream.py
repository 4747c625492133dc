"""Notebook 05's exercises (NYU homework 1, §2.2 DeepDream): one update, the loop, a channel's objective.

Each check runs the student's code of its own exercise only and compares with expected values, in float64 on
small inputs: 5.1 calls ``dream_step`` directly; 5.2 runs ``gradient_descent`` with every step taken by a
check update in place of the student's ``dream_step`` (:mod:`helpers.checks.exercises_dream_loop`), so a
mistake in 5.1 never fails 5.2; 5.3 calls ``channel_objective`` on made-up activations. The expected values
(the right result and what each known mistake gives) come from :mod:`helpers.checks.dream_expected`: computed
from the references of :mod:`helpers.dream_references` on hidden inputs in the instructor's project, stored for
other inputs in the student edition. A failed check names the mistake its result matches, never the expected
numbers.
"""
from __future__ import annotations

import torch

from helpers.checks.dream_expected import as_mistakes, expected_values, mistakes_of
from helpers.checks.toolkit import matches, CheckOutcome, Exercise, diagnose
from helpers.checks.exercises_dream_loop import LOOP_MISTAKES, check_loop, expected_loop
from helpers.classifier_probes import IMAGENET_MEAN
from helpers.data.images import gaussian_blur
from helpers.runtime.torch_settings import torch_threads

# ---------------------------------------------------------------------------------- 5.1 dream_step

WRONG_DIRECTION = "step in the wrong direction: adding the energy gradient raises the energy (lowers the objective)"
NO_LR = "the step ignores lr"
NOT_NORMALISED = "forgot to normalise the step (normalize_step is on)"
BATCH_NORMALISED = "normalised with the mean |gradient| of the whole batch, not image by image"
MAX_NORMALISED = "normalised by the largest |gradient|, not the mean |gradient|"
L2_NORMALISED = "normalised by the gradient's L2 norm, not the mean |gradient|"
GRAD_NOT_BLURRED = "the gradient is not blurred (grad_blur_sigma > 0)"
BLURRED_AFTER_NORMALISING = "the gradient is blurred after normalising it (blur first, then normalise)"
DECAY_TO_ZERO = "weight decay pulls the pixels towards 0, not towards centre"
DECAY_FACTOR = "weight decay keeps the wrong share of the distance to centre (the two factors swapped)"
DECAY_BEFORE_STEP = "weight decay applied before the step (the step comes first)"
BLUR_WRONG_STEPS = "the image is blurred at the wrong iterations (iteration counts from 0: blur after steps blur_every, 2 blur_every, ...)"
NEVER_BLURRED = "the image is never blurred"
BLURRED_EVERY_STEP = "the image is blurred at every step, not every blur_every-th"
NO_CLAMP = "the pixels are not clamped to [0, 1]"
CLAMP_TOO_EARLY = "clamped before the decay and the blur (clamp last)"
IN_PLACE = "image or energy_grad was changed in place (gradient_descent's input would change with it): return a new tensor"
ZERO_GRADIENT = ("normalising an all-zero gradient divides by zero (NaN or inf): keep the mean |gradient| away from 0, "
                 "e.g. .clamp_min(1e-12)")

STEP_MISTAKES = (WRONG_DIRECTION, NO_LR, NOT_NORMALISED, BATCH_NORMALISED, MAX_NORMALISED, L2_NORMALISED,
                 GRAD_NOT_BLURRED, BLURRED_AFTER_NORMALISING, DECAY_TO_ZERO, DECAY_FACTOR, DECAY_BEFORE_STEP,
                 BLUR_WRONG_STEPS, NEVER_BLURRED, BLURRED_EVERY_STEP, NO_CLAMP, CLAMP_TOO_EARLY, IN_PLACE, ZERO_GRADIENT)

_ALL_OFF = dict(lr=0.05, normalize_step=False, grad_blur_sigma=0.0, weight_decay=0.0, blur_every=0, blur_sigma=1.0,
                clamp=False)


def _step_inputs(variant: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image (2, 3, 8, 8) in [0.2, 0.8], energy gradient of the same shape, 40 times larger for the second
    image, centre (1, 3, 1, 1)): float64, seeded by the input ``variant`` (:mod:`.dream_expected`)."""
    generator = torch.Generator().manual_seed(11 + 100 * variant)
    image = 0.2 + 0.6 * torch.rand(2, 3, 8, 8, generator=generator, dtype=torch.float64)
    scale = torch.tensor([1.0, 40.0], dtype=torch.float64).view(2, 1, 1, 1)
    energy_grad = torch.randn(2, 3, 8, 8, generator=generator, dtype=torch.float64) * scale
    return image, energy_grad, torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)


def _normalised(gradient: torch.Tensor, size) -> torch.Tensor:
    """``gradient`` (N, C, H, W) divided by ``size(gradient)`` (N, 1, 1, 1) or a number."""
    return gradient / size(gradient)


def _step_mistakes(image, grad, centre, options: dict) -> dict:
    """{mistake: iteration -> the new image that mistake gives} for the options that are on in ``options``."""
    from helpers import dream_references as references  # the instructor's project only

    def ref(iteration, image_=image, grad_=grad, **changes):
        chosen = {**options, "centre": centre, **changes}
        return references.step_by_add_and_lerp(image_, grad_, iteration, **chosen)
    blurred = gaussian_blur(grad, options["grad_blur_sigma"])  # what the normalisation sees (sigma 0: grad)
    as_given = dict(normalize_step=False, grad_blur_sigma=0.0)
    mistakes = {WRONG_DIRECTION: lambda it: ref(it, grad_=-grad), NO_LR: lambda it: ref(it, lr=1.0)}
    if options["normalize_step"]:
        sizes = {NOT_NORMALISED: None, BATCH_NORMALISED: lambda g: g.abs().mean(),
                 MAX_NORMALISED: lambda g: g.abs().amax((1, 2, 3), keepdim=True),
                 L2_NORMALISED: lambda g: g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)}
        mistakes.update({text: (lambda size: lambda it: ref(it, normalize_step=False) if size is None else
                                ref(it, grad_=_normalised(blurred, size), **as_given))(size)
                         for text, size in sizes.items()})
    if options["grad_blur_sigma"] > 0:
        mistakes[GRAD_NOT_BLURRED] = lambda it: ref(it, grad_blur_sigma=0.0)
        if options["normalize_step"]:
            per_image = _normalised(grad, lambda g: g.abs().mean(dim=(1, 2, 3), keepdim=True))
            mistakes[BLURRED_AFTER_NORMALISING] = lambda it: ref(it, grad_=per_image, normalize_step=False)
    if options["weight_decay"] > 0:
        decayed_first = torch.lerp(centre.expand_as(image), image, 1 - options["weight_decay"])
        mistakes.update({DECAY_TO_ZERO: lambda it: ref(it, centre=torch.zeros_like(centre)),
                         DECAY_FACTOR: lambda it: ref(it, weight_decay=1 - options["weight_decay"]),
                         DECAY_BEFORE_STEP: lambda it: ref(it, image_=decayed_first, weight_decay=0.0)})
    if options["blur_every"] > 0:
        mistakes.update({BLUR_WRONG_STEPS: lambda it: ref(it - 1), NEVER_BLURRED: lambda it: ref(it, blur_every=0),
                         BLURRED_EVERY_STEP: lambda it: ref(it, blur_every=1)})
    if options["clamp"]:
        mistakes[NO_CLAMP] = lambda it: ref(it, clamp=False)
        if options["weight_decay"] > 0 or options["blur_every"] > 0:  # clamp, then decay and blur (no step)
            mistakes[CLAMP_TOO_EARLY] = lambda it: ref(it, image_=ref(it, weight_decay=0.0, blur_every=0),
                                                       grad_=torch.zeros_like(grad), lr=0.0, clamp=False, **as_given)
    return mistakes


_STEP_CASES = (  # (check name, options, iterations)
    ("with every option off, the step lowers the energy by lr times energy_grad", _ALL_OFF, [0]),
    ("normalize_step: each image's pixels move by lr on average", dict(_ALL_OFF, normalize_step=True), [0]),
    ("grad_blur_sigma: the gradient is blurred before the step",
     dict(_ALL_OFF, normalize_step=True, grad_blur_sigma=1.0), [0]),
    ("weight_decay: after the step the pixels move towards centre", dict(_ALL_OFF, weight_decay=0.1), [0]),
    ("blur_every: the image is blurred after every blur_every-th step", dict(_ALL_OFF, blur_every=3), list(range(6))),
    ("clamp: the new pixels lie in [0, 1]", dict(_ALL_OFF, normalize_step=True, lr=0.5, clamp=True), [0]),
    ("every option at once, in the documented order", dict(lr=0.3, normalize_step=True, grad_blur_sigma=0.7,
                                                           weight_decay=0.05, blur_every=2, blur_sigma=1.0,
                                                           clamp=True), [0, 1]),
)


STEP_TOLERANCE = 1e-6  # relative to the largest pixel: the common g / (mean|g| + 1e-8) differs by ~2e-8; every
                       # mistake above by far more


def _diagnose(student, reference: torch.Tensor, mistakes: dict, what: str) -> str:
    """:func:`diagnose` at :data:`STEP_TOLERANCE`: the mistake whose result the student's matches, else a hint."""
    for description, mistaken in mistakes.items():
        try:
            if matches(student, mistaken(reference), STEP_TOLERANCE):
                return description
        except (RuntimeError, ValueError, IndexError):
            continue
    return diagnose(student, reference, {}, what)


def _zero_gradient_inputs(variant: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(image (2, 3, 8, 8), energy gradient with the second image's all zero): float64, seeded."""
    image, grad, _ = _step_inputs(variant)
    grad = grad.clone()
    grad[1] = 0.0
    return image, grad


_ZERO_OPTIONS = dict(_ALL_OFF, normalize_step=True, grad_blur_sigma=0.7)


def expected_step(variant: int) -> dict:
    """Exercise 5.1's expected values on the inputs of ``variant``, from the reference update (``torch.add``
    and ``torch.lerp``): per case, the new images stacked over its iterations and what each mistake gives;
    the all-zero-gradient case."""
    from helpers import dream_references as references  # the instructor's project only
    image, grad, centre = _step_inputs(variant)
    cases = []
    for _, options, iterations in _STEP_CASES:
        mistakes = _step_mistakes(image, grad, centre, options)
        reference = torch.stack([references.step_by_add_and_lerp(image, grad, it, centre=centre, **options)
                                 for it in iterations])
        stacked = {text: (lambda make: lambda _: torch.stack([make(it) for it in iterations]))(make)
                   for text, make in mistakes.items()}
        cases.append({"reference": reference, "mistakes": mistakes_of(reference, stacked)})
    zero_image, zero_grad = _zero_gradient_inputs(variant)
    zero = references.step_by_add_and_lerp(zero_image, zero_grad, 0, centre=centre, **_ZERO_OPTIONS)
    return {"cases": cases, "zero_gradient": zero}


def check_step(code) -> list[CheckOutcome]:
    """Exercise 5.1: ``dream.dream_step`` option by option, against a reference by ``torch.add`` and ``torch.lerp``
    (float64; its values from :mod:`.dream_expected`); the student's step runs in the sandbox
    (:func:`helpers.checks.harness_dream.dream_step_with_inputs`)."""
    step = code.function("helpers.checks.harness_dream:dream_step_with_inputs")
    variant, expected = expected_values("5.1", expected_step)
    image, grad, centre = _step_inputs(variant)
    outcomes, untouched = [], True
    for (name, options, iterations), case in zip(_STEP_CASES, expected["cases"]):
        students = []
        for iteration in iterations:
            new, image_after, grad_after = step(image, grad, iteration, dict(options, centre=centre))
            students.append(torch.as_tensor(new))
            untouched &= torch.equal(image_after, image) and torch.equal(grad_after, grad)
        if len({tuple(s.shape) for s in students}) != 1:
            passed, why = False, f"the new image has shape {tuple(students[0].shape)}, expected {tuple(image.shape)}"
        else:
            student, reference = torch.stack(students), case["reference"]
            passed = matches(student, reference, STEP_TOLERANCE)
            why = "" if passed else _diagnose(student, reference, as_mistakes(case["mistakes"]), "the new image")
        outcomes.append(CheckOutcome(name, passed, why))
    zero_image, zero_grad = _zero_gradient_inputs(variant)
    student = torch.as_tensor(step(zero_image, zero_grad, 0, dict(_ZERO_OPTIONS, centre=centre))[0])
    reference = expected["zero_gradient"]
    passed = matches(student, reference, STEP_TOLERANCE)
    outcomes.append(CheckOutcome("normalize_step: an image whose gradient is all zero stays as it is", passed,
                                 "" if passed else ZERO_GRADIENT if student.shape == reference.shape
                                 and not torch.isfinite(student).all() else
                                 _diagnose(student, reference, {}, "the new image")))
    outcomes.append(CheckOutcome("image and energy_grad are left as they were", untouched, "" if untouched else IN_PLACE))
    return outcomes


# ---------------------------------------------------------------------------- 5.3 channel_objective

PIXELS_SUMMED = "each channel is summed over the pixels instead of averaged"
BATCH_AVERAGED = "the images' values are averaged instead of summed over the batch"
ALL_CHANNELS = "every channel is averaged, not only the chosen one"
WRONG_AXIS = "the channel is picked on the wrong axis (dim 1 holds the channels)"
FIRST_IMAGE_ONLY = "only the first image's channel counts"
DETACHED = "the objective is cut off from the graph (no .item(), .detach() or numpy): the image needs its gradient"
CHANNEL_MISTAKES = (PIXELS_SUMMED, BATCH_AVERAGED, ALL_CHANNELS, WRONG_AXIS, FIRST_IMAGE_ONLY, DETACHED)


def _channel_mistakes(activation: torch.Tensor, channels: torch.Tensor) -> dict:
    """{mistake: reference -> what it gives} for ``activation`` (N, C, ...) and ``channels`` (N,)."""
    count = activation[0, 0].numel()
    rows = range(activation.shape[0])
    return {PIXELS_SUMMED: lambda r: r * count, BATCH_AVERAGED: lambda r: r / activation.shape[0],
            ALL_CHANNELS: lambda r: sum(activation[i].mean() for i in rows),
            WRONG_AXIS: lambda r: sum(activation[i, :, channels[i]].mean() for i in rows),
            FIRST_IMAGE_ONLY: lambda r: activation[0, channels[0]].mean()}


_CHANNEL_CASES = (("a convolution's activation (N, C, H, W), one channel per image", [1, 4, 1]),
                  ("a linear layer's activation (N, C)", [5, 0, 2, 2]))


def _channel_inputs(variant: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(a convolution's activation (3, 5, 6, 7), a linear layer's (4, 6)): float64, seeded by ``variant``."""
    generator = torch.Generator().manual_seed(3 + 100 * variant)
    conv = torch.randn(3, 5, 6, 7, generator=generator, dtype=torch.float64)
    linear = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    return conv, linear


def expected_channel_objective(variant: int) -> dict:
    """Exercise 5.3's expected values on the inputs of ``variant``, from a per-image loop and autograd: each
    case's objective and what each mistake gives; the gradient on the convolution's case and its mistakes."""
    from helpers import dream_references as references  # the instructor's project only
    cases = []
    for activation, (_, channels) in zip(_channel_inputs(variant), _CHANNEL_CASES):
        channels = torch.tensor(channels)
        reference = references.channel_objective_one_by_one(activation, channels).detach()
        cases.append({"reference": reference,
                      "mistakes": mistakes_of(reference, _channel_mistakes(activation, channels))})
    conv, channels = _channel_inputs(variant)[0], torch.tensor(_CHANNEL_CASES[0][1])
    twin = conv.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(references.channel_objective_one_by_one(twin, channels), twin)
    mistakes = {PIXELS_SUMMED: lambda g: g * conv[0, 0].numel(), BATCH_AVERAGED: lambda g: g / conv.shape[0]}
    return {"cases": cases, "gradient": {"reference": gradient, "mistakes": mistakes_of(gradient, mistakes)}}


def check_channel_objective(code) -> list[CheckOutcome]:
    """Exercise 5.3: ``dream.channel_objective`` against a per-image loop, and its gradient by autograd (values from
    :mod:`.dream_expected`; the student's objective and its gradient come from the sandbox,
    :func:`.harness_dream.channel_objective_with_gradient`)."""
    variant, expected = expected_values("5.3", expected_channel_objective)
    conv, linear = _channel_inputs(variant)
    outcomes = []
    for (name, channels), activation, case in zip(_CHANNEL_CASES, (conv, linear), expected["cases"]):
        student = torch.as_tensor(code.call("helpers.dream:channel_objective", activation, torch.tensor(channels)))
        reference = case["reference"]
        passed = matches(student, reference)
        outcomes.append(CheckOutcome(name, passed, "" if passed else diagnose(
            student, reference, as_mistakes(case["mistakes"]), "the objective")))
    channels = torch.tensor(_CHANNEL_CASES[0][1])
    _, flows, student = code.call("helpers.checks.harness_dream:channel_objective_with_gradient", conv, channels)
    flows = flows is True and isinstance(student, torch.Tensor)
    student = student if flows else torch.zeros_like(conv)
    expected_gradient = expected["gradient"]["reference"]
    passed = flows and matches(student, expected_gradient)
    outcomes.append(CheckOutcome("its gradient with respect to the activation (autograd)", passed, "" if passed else (
        DETACHED if not flows else diagnose(student, expected_gradient, as_mistakes(expected["gradient"]["mistakes"]),
                                            "the gradient"))))
    return outcomes


def _one_thread(check):
    """``check`` run on one CPU thread: these tiny tensors are slowest when threads compete for busy cores."""
    def run(code) -> list[CheckOutcome]:
        with torch_threads(1):
            return check(code)
    run.__doc__ = check.__doc__
    return run


EXERCISES: tuple[Exercise, ...] = (
    Exercise("5.1", "one DeepDream update: direction, normalised step, gradient blur, decay, image blur, clamp",
             "05_deepdream", "NYU HW1 §2.2 (hints and extra credit)", 3, ("helpers/dream.py",), ("dream_step",),
             _one_thread(check_step), STEP_MISTAKES, forbid=("autograd", "torch.optim", "references")),
    Exercise("5.2", "gradient_descent: the loop that raises the objective by changing the image", "05_deepdream",
             "NYU HW1 §2.2 (gradient_descent)", 4, ("helpers/dream.py",), ("gradient_descent",), _one_thread(check_loop),
             LOOP_MISTAKES, forbid=("torch.optim", "references")),
    Exercise("5.3", "the objective of a middle-layer channel", "05_deepdream", "NYU HW1 §2.2 (extra credit)", 1,
             ("helpers/dream.py",), ("channel_objective",), _one_thread(check_channel_objective), CHANNEL_MISTAKES,
             forbid=("references",)),
)

# How each exercise's expected values are computed from the references; the edition tool stores them for the
# edition handed out (:func:`helpers.checks.dream_expected.expected_file_bytes`).
EXPECTED = {"5.1": expected_step, "5.2": expected_loop, "5.3": expected_channel_objective}
