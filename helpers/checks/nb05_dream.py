"""Notebook 05 (NYU homework 1, §2.2 DeepDream): the checks of exercises 5.1 (one update), 5.2 (the loop) and
5.3 (a channel's objective), where their expected values come from, and their registry entries.

Each check runs the student's code of its own exercise only and compares with expected values, in float64 on
small inputs: 5.1 calls ``dream_step`` directly; 5.2 runs ``gradient_descent`` with every step taken by a
check update in place of the student's ``dream_step`` (:func:`.nb05_dream_sandbox.check_update`), so a
mistake in 5.1 never fails 5.2; 5.3 calls ``channel_objective`` on made-up activations. The student's code runs
in the sandbox (:mod:`.nb05_dream_sandbox`); only data comes back. A failed check names the mistake its result
matches, never the expected numbers.

**Where the expected values come from.** In the instructor's project (and so under nbgrader, whose trusted
checker is the instructor's project) the references of :mod:`.nb05_dream_references` (complete solutions,
instructor only: ``tools.editions.INSTRUCTOR_ONLY``) are there: each check computes its expected values -- the
right result and what each known mistake gives -- from them, on the *hidden* inputs (:data:`HIDDEN_INPUTS`).
The student edition holds no reference: its self-checks compare with the values stored in
:data:`EXPECTED_FILE`, which the edition tool writes from the instructor's references
(:func:`expected_file_bytes`) for *other* fixed inputs (:data:`SHIPPED_INPUTS`). So a solution that returns
the stored values for the stored inputs passes the self-check and still fails grading. The comparisons are the
same code either way; only the source of the expected values differs. Expected values are nested dicts of
tensors, numbers, bools and strings (``torch.load(weights_only=True)``).
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import io
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from helpers import dream
from helpers.checks.nb05_dream_sandbox import check_update
from helpers.checks.sandbox import ForbiddenToolUsed
from helpers.checks.toolkit import CheckOutcome, Exercise, close, diagnose, replaced
from helpers.data.cifar import normalize
from helpers.data.images import gaussian_blur, seeded_generator
from helpers.dream import IMAGENET_MEAN, IMAGENET_STD
from helpers.runtime.exercises import ExerciseNotDone
from helpers.runtime.torch_settings import torch_threads

# -- expected values: computed from the references, or stored --------------------------------------------

EXPECTED_FILE = Path(__file__).with_name("expected_dream.pt")
HIDDEN_INPUTS, SHIPPED_INPUTS = 0, 1  # input variants: the grader's, the student edition's self-check's

_stored_only = contextvars.ContextVar("stored_only", default=False)


def references_available() -> bool:
    """Whether this project has the references (the instructor's project), unless :func:`stored_only` is on."""
    if _stored_only.get():
        return False
    return Path(__file__).with_name("nb05_dream_references.py").is_file()  # instructor only


@contextlib.contextmanager
def stored_only(path: Path | None = None):
    """Within: the checks use the stored expected values (of ``path``, default :data:`EXPECTED_FILE`), as in the
    student edition, even where the references are available (tests compare both sides)."""
    token = _stored_only.set(path or True)
    try:
        yield
    finally:
        _stored_only.reset(token)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> dict:
    return torch.load(path, weights_only=True)


def expected_values(exercise_id: str, compute: Callable[[int], dict]) -> tuple[int, dict]:
    """(input variant, expected values) of an exercise: ``compute(HIDDEN_INPUTS)`` where the references are
    available, else the stored values for :data:`SHIPPED_INPUTS`."""
    if references_available():
        return HIDDEN_INPUTS, compute(HIDDEN_INPUTS)
    chosen = _stored_only.get()
    path = Path(chosen) if isinstance(chosen, Path) else EXPECTED_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is missing: rebuild the student edition (python -m tools.editions)")
    return SHIPPED_INPUTS, _load(str(path), path.stat().st_mtime)[exercise_id]


def expected_file_bytes() -> bytes:
    """The stored expected values of exercises 5.1-5.3 for :data:`SHIPPED_INPUTS`, as the file's bytes (the
    edition tool writes them; computing them needs the references)."""
    with torch.random.fork_rng(devices=[]):
        values = {exercise_id: compute(SHIPPED_INPUTS) for exercise_id, compute in EXPECTED.items()}
    buffer = io.BytesIO()
    torch.save(values, buffer)
    return buffer.getvalue()


def mistakes_of(reference, mistakes: dict) -> dict:
    """{mistake: what it gives} for ``{mistake: reference -> result}``; a mistake that does not apply to these
    shapes (it raises) is left out."""
    found = {}
    for description, mistaken in mistakes.items():
        try:
            found[description] = torch.as_tensor(mistaken(reference)).detach().clone()
        except (RuntimeError, ValueError, IndexError):
            continue
    return found


def as_mistakes(stored: dict) -> dict:
    """The stored ``{mistake: result}`` as :func:`helpers.checks.toolkit.diagnose` takes them."""
    return {description: (lambda value: lambda _: value)(value) for description, value in stored.items()}


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
    image, centre (1, 3, 1, 1)): float64, seeded by the input ``variant`` (see the module docstring)."""
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
    from helpers.checks import nb05_dream_references as references  # the instructor's project only

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
            if close(student, mistaken(reference), STEP_TOLERANCE):
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
    from helpers.checks import nb05_dream_references as references  # the instructor's project only
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
    (float64; its expected values as the module docstring says); the student's step runs in the sandbox
    (:func:`.nb05_dream_sandbox.dream_step_with_inputs`)."""
    step = code.function("helpers.checks.nb05_dream_sandbox:dream_step_with_inputs")
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
            passed = close(student, reference, STEP_TOLERANCE)
            why = "" if passed else _diagnose(student, reference, as_mistakes(case["mistakes"]), "the new image")
        outcomes.append(CheckOutcome(name, passed, why))
    zero_image, zero_grad = _zero_gradient_inputs(variant)
    student = torch.as_tensor(step(zero_image, zero_grad, 0, dict(_ZERO_OPTIONS, centre=centre))[0])
    reference = expected["zero_gradient"]
    passed = close(student, reference, STEP_TOLERANCE)
    outcomes.append(CheckOutcome("normalize_step: an image whose gradient is all zero stays as it is", passed,
                                 "" if passed else ZERO_GRADIENT if student.shape == reference.shape
                                 and not torch.isfinite(student).all() else
                                 _diagnose(student, reference, {}, "the new image")))
    outcomes.append(CheckOutcome("image and energy_grad are left as they were", untouched, "" if untouched else IN_PLACE))
    return outcomes


# ---------------------------------------------------------------------------- 5.2 gradient_descent

OBJECTIVE_GRADIENT = ("the gradient handed to dream_step is that of the objective, not of the energy (minus the "
                      "objective): step in the wrong direction")
OBJECTIVE_WENT_DOWN = "the objective went down: " + OBJECTIVE_GRADIENT
IMAGE_FROZEN = "the image never changes: hand dream_step's result on as the next `image`"
JITTERED_INPUT = ("the gradient is taken at the jittered, normalised input, not at the image: differentiate with "
                  "respect to `image`, so that autograd undoes the jitter (and the normalisation)")
NOT_UNNORMALISED = "the gradient misses the normalisation's slope: differentiate with respect to `image` itself"
NO_JITTER = "the image is not jittered: pass plan.jitter (and plan.generator) to normalize_and_jitter"
RAW_IMAGE = "the model is fed the raw image: feed it normalize_and_jitter(image, plan.jitter, plan.mean, plan.std, ...)"
ACCUMULATED = "gradients accumulate from step to step (not zeroed): take a fresh gradient of each step's objective"
NEVER_STEPPED = "dream_step is never called: take each step with dream_step(image, energy_grad, iteration, **plan.step_options)"
NO_OCTAVES = "the image is not resized to each iteration's octave size (plan.shapes[iteration])"
ENERGY_RECORDED = "`value` holds the energy (minus the objective), not the objective that loss returns"
OPTIONS_NOT_HANDED = "dream_step is not handed the run's options: pass **plan.step_options"
NOT_SEEDED = "the jitter is not drawn from plan.generator (pass it to normalize_and_jitter): the seed does not fix the run"
INPUT_CHANGED = "the input image was changed in place: leave `input` alone and work on `image`"
PARAMETER_GRADIENTS = ("the model's parameters collected gradients (.backward()): differentiate with respect to the "
                       "image only, e.g. torch.autograd.grad")
LOOP_MISTAKES = (OBJECTIVE_GRADIENT, OBJECTIVE_WENT_DOWN, IMAGE_FROZEN, JITTERED_INPUT, NOT_UNNORMALISED, NO_JITTER,
                 RAW_IMAGE, ACCUMULATED, NEVER_STEPPED, NO_OCTAVES, ENERGY_RECORDED, OPTIONS_NOT_HANDED, NOT_SEEDED, INPUT_CHANGED,
                 PARAMETER_GRADIENTS)


def tiny_classifier(variant: int = 0) -> nn.Module:
    """A seeded float64 CNN without ``mean``/``std`` (so fed ImageNet-normalised input): (N, 3, H, W) -> (N, 5).
    Its architecture is :func:`.nb05_dream_sandbox.classifier_architecture` (the sandbox rebuilds it
    from the ``state_dict``); its weights depend on the input ``variant`` (see the module docstring)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5 + 100 * variant)
        model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.Tanh(), nn.Conv2d(6, 8, 3, stride=2, padding=1),
                              nn.Tanh(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5))
    return model.double().eval()


def course_start(size: int, seed: int) -> torch.Tensor:
    """The course driver's start image at ``size`` pixels, float64 (1, 3, size, size): grey with a little noise."""
    noise = torch.randn(1, size, size, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return ((noise * 8 + 128) / 255).permute(0, 3, 1, 2)


@contextlib.contextmanager
def reference_update(record: list | None = None, kind: str = "sgd", options: list | None = None):
    """Within: ``dream_step``, as the reference loop of this (trusted) process sees it, is the check update
    ``kind`` (:func:`.nb05_dream_sandbox.check_update`, the same as in the student's loop); each call
    appends (image, energy_grad) to ``record`` and its keyword options to ``options`` when given."""
    step = check_update(kind)

    def update(image, energy_grad, iteration, **step_options):
        if record is not None:
            record.append((torch.as_tensor(image).detach().clone(), torch.as_tensor(energy_grad).detach().clone()))
        if options is not None:
            options.append({name: value.detach().clone() if isinstance(value, torch.Tensor) else value
                            for name, value in step_options.items()})
        return step(image, energy_grad, iteration, **step_options)
    with replaced(dream, dream_step=update):
        yield


def _objective(spec):
    """The objective ``(label, sign)`` as in the sandbox (:func:`.nb05_dream_sandbox.objective`)."""
    label, sign = spec
    return lambda tensor: sign * tensor[0, label].mean()


def _reference_run(start, model, spec, iterations, kind="sgd", record=None, options=None,
                   **run_options) -> tuple[torch.Tensor, list]:
    """(image, history) of the reference loop, computed here, with the check update ``kind``."""
    from helpers.checks import nb05_dream_references as references  # the instructor's project only
    history = []
    with reference_update(record, kind, options):
        image = references.descent_undoing_jitter_by_hand(start, model, _objective(spec), iterations, history=history,
                                                          **run_options)
    return torch.as_tensor(image), history


class Student:
    """The student's ``gradient_descent`` on the check's model, run in the sandbox with the check update."""

    def __init__(self, code, model: nn.Module):
        self.run_in_sandbox = code.function("helpers.checks.nb05_dream_sandbox:loop_with_check_step")
        self.state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}

    def __call__(self, start, spec, iterations, requires_grad=False, update="sgd", **options) -> dict:
        """The harness's record: image, records [(image, energy_grad)], options, history, input_after,
        parameter_grads."""
        return self.run_in_sandbox(self.state, spec, start, iterations, options, requires_grad, update)


# The inputs of each group of checks, by input variant: (label, start size, start seed, ...)
_GRADIENT_RUN = dict(jitter=3, seed=7, octaves=1, lr=0.05, blur_every=0, grad_blur_sigma=0.0, weight_decay=0.0)
_GRADIENT_ITERATIONS, _RUN_ITERATIONS = 5, 9


def _gradient_case(variant: int) -> tuple[tuple, torch.Tensor]:
    return (2, 1.0), course_start(16, seed=1 + 100 * variant)


def _run_case(variant: int) -> tuple[tuple, torch.Tensor, int]:
    return (1, 1.0), course_start(16, seed=2 + 100 * variant), 4 + 100 * variant


def _objectives(steps) -> torch.Tensor:
    return torch.tensor([float(step.objective) for step in steps], dtype=torch.float64)


def expected_loop(variant: int) -> dict:
    """Exercise 5.2's expected values on the inputs of ``variant``, from the reference loop run here with the
    check updates: each step's energy gradient (the drift update: known images) and what each mistake hands
    the steps; the image, the options handed to each step and the recorded objectives of a run with every
    option at its default, and what each mistake gives."""
    from helpers.checks import nb05_dream_references as references  # the instructor's project only
    model = tiny_classifier(variant)
    spec, start = _gradient_case(variant)
    loss, jitter, iterations = _objective(spec), _GRADIENT_RUN["jitter"], _GRADIENT_ITERATIONS
    record = []
    _reference_run(start, model, spec, iterations, kind="drift", record=record, **_GRADIENT_RUN)
    generator = seeded_generator(_GRADIENT_RUN["seed"])
    offsets = [dream.jitter_offsets(jitter, generator) for _ in range(iterations)]

    def gradients(shifts, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        return torch.stack([references.energy_gradient_at_jittered_input(model, loss, image, shift, mean, std)[0]
                            for (image, _), shift in zip(record, shifts)])
    reference = gradients(offsets)
    spread = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 1, 3, 1, 1)
    unrolled = lambda r: torch.stack([(g * s).roll(o, (-2, -1)) for g, s, o in zip(r, spread.expand_as(r), offsets)])  # noqa: E731
    mistakes = {OBJECTIVE_GRADIENT: lambda r: -r, JITTERED_INPUT: unrolled, NOT_UNNORMALISED: lambda r: r * spread,
                NO_JITTER: lambda r: gradients([(0, 0)] * iterations),
                RAW_IMAGE: lambda r: gradients([(0, 0)] * iterations, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
                ACCUMULATED: lambda r: r.cumsum(dim=0)}
    gradient = {"reference": reference, "mistakes": mistakes_of(reference, mistakes)}

    spec, start, seed = _run_case(variant)
    handed = []
    image, history = _reference_run(start, model, spec, _RUN_ITERATIONS, seed=seed, options=handed)
    single_scale = _reference_run(start, model, spec, _RUN_ITERATIONS, seed=seed, octaves=1)
    reversed_ = _reference_run(start, model, (spec[0], -spec[1]), _RUN_ITERATIONS, seed=seed)
    recorded = _objectives(history)
    return {"gradient": gradient,
            "image": {"reference": image, "mistakes": {NO_OCTAVES: single_scale[0], OBJECTIVE_GRADIENT: reversed_[0]}},
            "options": handed,
            "objectives": {"reference": recorded, "mistakes": {
                ENERGY_RECORDED: -recorded, NO_OCTAVES: _objectives(single_scale[1]),
                OBJECTIVE_GRADIENT: -_objectives(reversed_[1])}}}


def _label_logit(model: nn.Module, image: torch.Tensor, label: int) -> float:
    with torch.no_grad():
        return model(normalize(image.detach(), IMAGENET_MEAN, IMAGENET_STD))[0, label].item()


def _driver_checks(model: nn.Module, student: Student) -> list[CheckOutcome]:
    """The course's call on a 32-pixel start: returns the image, input and parameters untouched, logit up."""
    label, start = 3, course_start(32, seed=0)
    run = student(start, (label, 1.0), 24, requires_grad=True)
    result = run["image"]
    shaped = isinstance(result, torch.Tensor) and result.shape == start.shape
    untouched = isinstance(run["input_after"], torch.Tensor) and torch.equal(run["input_after"], start)
    clean = run["parameter_grads"] is False
    contract = shaped and untouched and clean
    why = ("" if contract else f"the result is {type(result).__name__} {tuple(getattr(result, 'shape', ()))}, expected "
           f"the image {tuple(start.shape)}" if not shaped else INPUT_CHANGED if not untouched else PARAMETER_GRADIENTS)
    outcomes = [CheckOutcome("the course's call gradient_descent(image, model, lambda tensor: tensor[0, label].mean()) "
                             "returns the image, leaving the input and the model's parameters alone", contract, why)]
    gain = _label_logit(model, result, label) - _label_logit(model, start, label) if shaped else float("nan")
    why = "" if gain > 0 else IMAGE_FROZEN if gain == 0 else OBJECTIVE_WENT_DOWN
    outcomes.append(CheckOutcome("the label's logit (the objective) goes up", gain > 0, why))
    return outcomes


def _gradient_check(expected: dict, student: Student, variant: int) -> CheckOutcome:
    """Each step's energy gradient, at the images the drift update makes, with that step's jitter."""
    name = "each step is handed the energy gradient with respect to the image, the jitter undone"
    spec, start = _gradient_case(variant)
    iterations = _GRADIENT_ITERATIONS
    record = student(start, spec, iterations, update="drift", **_GRADIENT_RUN)["records"]
    if len(record) != iterations:
        return CheckOutcome(name, False, NEVER_STEPPED if not record else
                            f"dream_step was called {len(record)} times in {iterations} iterations: once per iteration")
    student_grads, reference = torch.stack([torch.as_tensor(grad) for _, grad in record]), expected["reference"]
    passed = close(student_grads, reference)
    return CheckOutcome(name, passed, "" if passed else diagnose(student_grads, reference,
                                                                 as_mistakes(expected["mistakes"]),
                                                                 "the energy gradient"))


def _same_options(handed, expected) -> bool:
    """Whether each step was handed exactly the expected keyword options (tensors equal, numbers equal)."""
    if not isinstance(handed, list) or len(handed) != len(expected):
        return False
    for given, wanted in zip(handed, expected):
        if not isinstance(given, dict) or set(given) != set(wanted):
            return False
        for key, value in wanted.items():
            other = given[key]
            if isinstance(value, torch.Tensor):
                if not (isinstance(other, torch.Tensor) and other.shape == value.shape and torch.equal(other, value)):
                    return False
            elif isinstance(other, torch.Tensor) or other != value:
                return False
    return True


def _run_checks(expected: dict, student: Student, variant: int) -> list[CheckOutcome]:
    """The result and the history of a run with every option at its default (3 octaves), and the seed's effect."""
    spec, start, seed = _run_case(variant)
    run = student(start, spec, _RUN_ITERATIONS, seed=seed)
    image, history = torch.as_tensor(run["image"]), run["history"]
    reference = expected["image"]["reference"]
    handed = _same_options(run["options"], expected["options"])
    passed = close(image, reference) and handed
    outcomes = [CheckOutcome("the image after 9 steps with every option at its default (3 octaves) matches a "
                             "reference run", passed, "" if passed else OPTIONS_NOT_HANDED if not handed else diagnose(
                                 image, reference, as_mistakes(expected["image"]["mistakes"]), "the image"))]
    recorded, reference_record = _objectives(history), expected["objectives"]["reference"]
    passed = close(recorded, reference_record)
    outcomes.append(CheckOutcome("the history records each step's objective", passed, "" if passed else diagnose(
        recorded, reference_record, as_mistakes(expected["objectives"]["mistakes"]), "the record of objectives")))
    again = torch.as_tensor(student(start, spec, _RUN_ITERATIONS, seed=seed)["image"])
    other = torch.as_tensor(student(start, spec, _RUN_ITERATIONS, seed=seed + 1)["image"])
    repeatable = torch.equal(again, image) and not torch.equal(other, image)
    outcomes.append(CheckOutcome("the same seed gives the same image, another seed another jitter", repeatable,
                                 "" if repeatable else NOT_SEEDED))
    return outcomes


def _guarded(name: str, check) -> list[CheckOutcome]:
    """``check()``'s outcomes; an error in the student's code fails this group only, naming the error."""
    try:
        outcome = check()
    except (ExerciseNotDone, ForbiddenToolUsed):  # reported as such by run_checks
        raise
    except Exception as error:  # the student's loop crashed here: the other groups still run
        return [CheckOutcome(f"{name}: your code runs ({type(error).__name__}: {error})", False,
                             "fix the error first, then re-run the check")]
    return outcome if isinstance(outcome, list) else [outcome]


def check_loop(code) -> list[CheckOutcome]:
    """Exercise 5.2: ``dream.gradient_descent`` (the NYU §2.2 task), every step taken by a check update; the
    student's loop runs in the sandbox, the expected values as the module docstring says."""
    variant, expected = expected_values("5.2", expected_loop)
    model = tiny_classifier(variant)
    student = Student(code, model)
    groups = (("the course's call", lambda: _driver_checks(model, student)),
              ("the energy gradient of each step", lambda: _gradient_check(expected["gradient"], student, variant)),
              ("a run with every option at its default", lambda: _run_checks(expected, student, variant)))
    return [outcome for name, check in groups for outcome in _guarded(name, check)]


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
    from helpers.checks import nb05_dream_references as references  # the instructor's project only
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
    """Exercise 5.3: ``dream.channel_objective`` against a per-image loop, and its gradient by autograd (expected values as the
    module docstring says; the student's objective and its gradient come from the sandbox,
    :func:`.nb05_dream_sandbox.channel_objective_with_gradient`)."""
    variant, expected = expected_values("5.3", expected_channel_objective)
    conv, linear = _channel_inputs(variant)
    outcomes = []
    for (name, channels), activation, case in zip(_CHANNEL_CASES, (conv, linear), expected["cases"]):
        student = torch.as_tensor(code.call("helpers.dream:channel_objective", activation, torch.tensor(channels)))
        reference = case["reference"]
        passed = close(student, reference)
        outcomes.append(CheckOutcome(name, passed, "" if passed else diagnose(
            student, reference, as_mistakes(case["mistakes"]), "the objective")))
    channels = torch.tensor(_CHANNEL_CASES[0][1])
    _, flows, student = code.call("helpers.checks.nb05_dream_sandbox:channel_objective_with_gradient", conv, channels)
    flows = flows is True and isinstance(student, torch.Tensor)
    student = student if flows else torch.zeros_like(conv)
    expected_gradient = expected["gradient"]["reference"]
    passed = flows and close(student, expected_gradient)
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
# edition handed out (:func:`expected_file_bytes`).
EXPECTED = {"5.1": expected_step, "5.2": expected_loop, "5.3": expected_channel_objective}
