"""DeepDream runs for notebook 05's live widget: cached by setting, computed on a thread of their own, with
progress to show while they run and a way to stop one that a newer setting replaced.

:class:`DreamRuns` ``.dream(label, steps, octaves)`` is a generator: a setting run before yields its result at
once; otherwise :func:`helpers.dream.gradient_descent` runs (with exactly the arguments the notebook's cell
used, so the same image) while the generator yields the objective recorded so far every ``every_s`` seconds,
then the result. Closing the generator (the widget does when a newer setting arrives) stops the run at its
next step: the objective function raises :class:`Stopped` on the dream's own thread. :meth:`DreamRuns.ahead`
dreams the neighbouring settings while nobody asks for anything, so that the steps slider answers from the cache.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator

import torch

from helpers import dream


class Stopped(Exception):
    """Raised inside a dream's objective to stop the run (a newer setting replaced it)."""


@dataclass(frozen=True)
class Dream:
    """A finished run: its ``image`` (1, 3, H, W), the ``history`` of :class:`helpers.dream.DreamStep`, the
    target's softmax ``probability`` on the image and its ``robustness`` (see :func:`helpers.dream.robustness`)."""
    image: torch.Tensor
    history: list
    probability: float
    robustness: float


class DreamRuns:
    """Class-logit dreams of ``model`` from ``start`` (1, 3, H, W), one per (label, steps, octaves), kept;
    ``classes`` names the labels (a label's index is its target and the run's seed, as in the notebook)."""

    def __init__(self, model, start: torch.Tensor, classes):
        self.model, self.start, self.classes = model, start, list(classes)
        self.done: dict[tuple, Dream] = {}

    def dream(self, label: str, steps: int, octaves: int, every_s: float = 1.0,
              first_s: float = 0.25) -> Iterator[tuple[Dream | None, list]]:
        """Yields (None, the history so far) after ``first_s`` seconds and then every ``every_s`` seconds while
        the run computes (feedback soon, few renders competing with the run), then (its :class:`Dream`, its
        history); a setting run before: that one yield, at once."""
        key = (label, steps, octaves)
        if key not in self.done:
            history, outcome = [], {}
            stop = threading.Event()
            worker = threading.Thread(target=self._run, args=(key, history, stop, outcome), daemon=True,
                                      name="dream")
            worker.start()
            wait = first_s
            try:
                while worker.is_alive():
                    worker.join(wait)
                    wait = every_s
                    if worker.is_alive():
                        yield None, list(history)
            finally:
                stop.set()  # closed early: the run stops at its next step
                worker.join()
            if "error" in outcome:
                raise outcome["error"]
            self.done[key] = outcome["dream"]
        yield self.done[key], self.done[key].history

    def ahead(self, label: str, steps_values, octaves: int, every_s: float = 0.2) -> Iterator[None]:
        """Dream ``label`` at each of ``steps_values`` not run yet (the settings a class is likely to pick next),
        yielding None every ``every_s`` seconds: closing it stops the run in progress, as for :meth:`dream`."""
        for steps in steps_values:
            for _ in self.dream(label, steps, octaves, every_s, every_s):
                yield None

    def _run(self, key: tuple, history: list, stop: threading.Event, outcome: dict) -> None:
        label, steps, octaves = key
        k = self.classes.index(label)
        objective = dream.class_loss(k)

        def stoppable(out):
            if stop.is_set():
                raise Stopped(key)
            return objective(out)

        try:
            image = dream.gradient_descent(self.start, self.model, stoppable, steps, octaves=octaves, target=k,
                                           history=history, seed=k)
            outcome["dream"] = Dream(image, history, dream.target_probability(image, self.model, k).item(),
                                     dream.robustness(image, self.model, k).item())
        except Stopped:
            outcome["stopped"] = True
        except Exception as error:  # noqa: BLE001 - raised again on the widget's thread, where it is shown
            outcome["error"] = error
