"""The check of exercise 5.2, ``dream.gradient_descent``: the NYU §2.2 loop, on a tiny float64 classifier.

Every step of the student's loop is taken by a check update (:func:`helpers.checks.harness_dream.check_update`: a
plain gradient step, or a fixed drift that ignores the gradient) in place of their ``dream_step`` (exercise 5.1),
which also records what the loop hands it; the loop runs in the sandbox
(:func:`helpers.checks.harness_dream.loop_with_check_step`, the model sent as its ``state_dict``) and only data
comes back. The expected values come from :mod:`helpers.checks.dream_expected` (the reference loop of
:mod:`helpers.dream_references` run here with the same update, on hidden inputs; stored in the student edition).
What is checked:
the course's driver contract (``gradient_descent(image, model, lambda tensor: tensor[0, label].mean())``
returns the image, leaves the input and the model's parameters alone, and raises that logit), the
gradient handed to each step (that of the energy with respect to the image, the jitter undone), the result
and the recorded objectives against a reference run, and that a seed fixes the result.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from helpers import dream
from helpers.checks.dream_expected import as_mistakes, expected_values, mistakes_of
from helpers.checks.exercise_outcomes import replaced
from helpers.checks.harness_dream import check_update
from helpers.checks.toolkit import matches, CheckOutcome, diagnose
from helpers.checks.sandbox import ForbiddenToolUsed
from helpers.classifier_probes import IMAGENET_MEAN, IMAGENET_STD
from helpers.data.cifar import normalize
from helpers.data.images import seeded_generator
from helpers.runtime.exercises import ExerciseNotDone

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
    Its architecture is :func:`helpers.checks.harness_dream.classifier_architecture` (the sandbox rebuilds it
    from the ``state_dict``); its weights depend on the input ``variant`` (:mod:`.dream_expected`)."""
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
    ``kind`` (:func:`helpers.checks.harness_dream.check_update`, the same as in the student's loop); each call
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
    """The objective ``(label, sign)`` as in the sandbox (:func:`helpers.checks.harness_dream.objective`)."""
    label, sign = spec
    return lambda tensor: sign * tensor[0, label].mean()


def _reference_run(start, model, spec, iterations, kind="sgd", record=None, options=None,
                   **run_options) -> tuple[torch.Tensor, list]:
    """(image, history) of the reference loop, computed here, with the check update ``kind``."""
    from helpers import dream_references as references  # the instructor's project only
    history = []
    with reference_update(record, kind, options):
        image = references.descent_undoing_jitter_by_hand(start, model, _objective(spec), iterations, history=history,
                                                          **run_options)
    return torch.as_tensor(image), history


class Student:
    """The student's ``gradient_descent`` on the check's model, run in the sandbox with the check update."""

    def __init__(self, code, model: nn.Module):
        self.run_in_sandbox = code.function("helpers.checks.harness_dream:loop_with_check_step")
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
    from helpers import dream_references as references  # the instructor's project only
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
    passed = matches(student_grads, reference)
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
    passed = matches(image, reference) and handed
    outcomes = [CheckOutcome("the image after 9 steps with every option at its default (3 octaves) matches a "
                             "reference run", passed, "" if passed else OPTIONS_NOT_HANDED if not handed else diagnose(
                                 image, reference, as_mistakes(expected["image"]["mistakes"]), "the image"))]
    recorded, reference_record = _objectives(history), expected["objectives"]["reference"]
    passed = matches(recorded, reference_record)
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
    student's loop runs in the sandbox, the expected values come from :mod:`.dream_expected`."""
    variant, expected = expected_values("5.2", expected_loop)
    model = tiny_classifier(variant)
    student = Student(code, model)
    groups = (("the course's call", lambda: _driver_checks(model, student)),
              ("the energy gradient of each step", lambda: _gradient_check(expected["gradient"], student, variant)),
              ("a run with every option at its default", lambda: _run_checks(expected, student, variant)))
    return [outcome for name, check in groups for outcome in _guarded(name, check)]
