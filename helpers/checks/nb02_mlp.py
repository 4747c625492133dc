"""The exercises of notebook 02 (backprop by hand), for :mod:`helpers.checks.exercises`.

Each :class:`Exercise` names the file and functions to implement and the handout that sets the task; its
``check`` lives in :mod:`helpers.checks.exercises_spiral` (01), :mod:`helpers.checks.exercises_backprop`
(02's layers and losses) or :mod:`helpers.checks.exercises_nyu` (02's NYU tasks).
"""
from __future__ import annotations

from helpers.checks import exercises_backprop as layer_checks
from helpers.checks import exercises_nyu as nyu_checks
from helpers.checks.toolkit import Exercise

MLP = "02_manual_backprop_mlp"

EXERCISES: tuple[Exercise, ...] = (
    Exercise("2.1", "the linear layer's backward pass: loops, then vectorised", MLP,
             "CSE 849 project 1, §2.3.1 and tip 1", 3, ("helpers/functional.py",),
             ("linear_backward_loops", "linear_backward"), layer_checks.check_linear_backward,
             ("weight gradient transposed", "averaged over the batch instead of summed (missing/extra 1/N)",
              "bias gradient not summed over the batch", "bias gradient from the first example only",
              "sign error", "grad_x not None when input_grad=False"), forbid=("autograd", "references")),
    Exercise("2.2", "the activations' backward passes", MLP, "CSE 849 project 1, §2.3.1; NYU HW1 §2.1", 2,
             ("helpers/functional.py",), ("relu_backward", "sigmoid_backward", "tanh_backward"),
             layer_checks.check_activation_backward,
             ("upstream gradient not multiplied in", "local derivative forgotten", "ReLU mask inverted",
              "derivative evaluated at the output instead of the input", "tanh's derivative used for the sigmoid",
              "sign error"), forbid=("autograd", "references")),
    Exercise("2.3", "the losses' backward passes", MLP, "CSE 849 project 1, §2.3.1 and tip 3; NYU HW1 §2.1", 2,
             ("helpers/functional.py",), ("mse_backward", "bce_backward"), layer_checks.check_loss_backward,
             ("missing 1/N", "divided by the batch size instead of the number of entries", "factor 2 missing",
              "sign error", "gradient at the logit instead of at y_hat", "BCE denominator not clamped"),
             forbid=("autograd", "references")),
    Exercise("2.4", "the SGD step inside Linear.backward", MLP, "CSE 849 project 1, §2.3.1", 1,
             ("helpers/layers.py",), ("Linear.sgd_step",), layer_checks.check_sgd_step,
             ("step in the wrong direction", "learning rate missing", "parameter not updated",
              "parameters replaced instead of updated in place"), forbid=("torch.optim", "references")),
    Exercise("2.5", "mlp.py: the MLP's forward and backward from the pieces", MLP, "NYU HW1 §2.1", 4,
             ("helpers/mlp.py",), ("MLP.forward", "MLP.backward"), nyu_checks.check_nyu_mlp,
             ("f and g swapped", "g not applied", "weight gradient not transposed to nn.Linear's layout",
              "forgot g's local derivative", "forgot f's local derivative", "sign error",
              "backward changed the parameters"), forbid=("autograd", "references")),
    Exercise("2.6", "the backward pass in numerator layout (NYU 1.2 c)", MLP, "NYU HW1 §1.2 (c)", 3,
             ("helpers/two_layer_theory.py",), ("numerator_layout_gradients",), nyu_checks.check_numerator_layout,
             ("transposed (autograd's layout, not numerator layout)", "Jacobian of g missing",
              "Jacobian of f missing", "sign error"), forbid=("autograd", "references")),
    Exercise("2.7", "the Jacobians of f, g and the loss (NYU 1.2 d, 1.3 a-b)", MLP, "NYU HW1 §1.2 (d), §1.3 (a)-(b)", 3,
             ("helpers/two_layer_theory.py",), ("local_derivative", "loss_row_gradient", "jacobians"),
             nyu_checks.check_jacobians,
             ("factor 5 of 5 ReLU missing", "the activation instead of its derivative", "column instead of row",
              "factor 2 missing", "1/K of the BCE mean missing", "Jacobian kept as a vector, not a diagonal matrix",
              "sign error"), forbid=("autograd", "references")),
)
