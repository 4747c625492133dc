"""Notebook 00b §1b (CS-587 A, question 3): what training without zeroing the gradients did, in words."""
from __future__ import annotations

from helpers.runtime import edition
from helpers.runtime.exercises import HIDDEN_OBSERVATIONS


def observation(steps: int, final_loss: float, final_loss_without: float, weight_without: float,
                bias_without: float) -> str:
    """One Markdown sentence from the two fits' numbers (shapes: none, floats): the loss after ``steps`` steps
    with zeroing and without, and the parameters reached without. In the student edition
    :data:`helpers.runtime.exercises.HIDDEN_OBSERVATIONS` instead: question 3's answer is the student's."""
    if not edition.SHOWS_ANSWERS:
        return HIDDEN_OBSERVATIONS
    ### BEGIN SOLUTION
    return (f"Forgetting to zero the gradients turns the {steps} gradient-descent steps into steps along the running "
            f"sum of all past gradients: the final loss is {final_loss_without:.4g} instead of {final_loss:.4g} "
            f"(W = {weight_without:.4g}, b = {bias_without:.4g}).")
    ### END SOLUTION
