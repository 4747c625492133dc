"""Notebook 00's exercises (see :mod:`helpers.checks.exercises`): ids in notebook order, their files,
functions, handouts, points and checks (in :mod:`.exercises_scalar_notebook`, :mod:`.exercises_scalar_engine`
and :mod:`.exercises_scalar_functions`)."""
from __future__ import annotations

from helpers.checks import exercises_scalar_engine as engine
from helpers.checks import exercises_scalar_functions as functions
from helpers.checks import exercises_scalar_notebook as notebook
from helpers.checks.toolkit import Exercise

NOTEBOOK = "00_computational_graphs"
NOTEBOOK_FILE = f"{NOTEBOOK}.ipynb"


# The tools each exercise's code must not call (helpers.checks.sandbox_worker.BLOCKS). 0.1 trains with autograd
# and writes the update itself: torch.optim is refused (it is what its stand-in, helpers.scalar_references, uses,
# so the stand-in is no answer); the derivations and the engine are by hand. For the custom Functions (0.8–0.10) the check's harness drives autograd itself and
# runs the student's backward as the student's code: a backward that calls autograd on the forward formula
# (torch.autograd.grad, torch.func.vjp) is refused, Function.apply and differentiable operations are not.
# 0.3 also refuses the engine's own graph walk (scalar_autodiff.post_order and the reference walk): the
# check's harness guards them (helpers.checks.harness_scalar).
FORBID_FIT_LINE = ("torch.optim", "references")
HAND = ("autograd", "references")
FORBID_REVERSE_MODE = HAND


def _diagnoses(*groups) -> tuple[str, ...]:
    """The mistake descriptions named in ``groups`` (strings), in order, each once."""
    return tuple(dict.fromkeys(groups))


EXERCISES = (
    Exercise("0.1", "linear regression with autograd", NOTEBOOK, "CS-587 A", 2, (NOTEBOOK_FILE,), ("fit_line",),
             notebook.check_fit_line,
             _diagnoses("gradients never zeroed", "step in the wrong direction (gradient ascent)",
                        "sum instead of mean (missing 1/N)", "loss recorded after the update",
                        "update recorded in the graph (not inside torch.no_grad())"), forbid=FORBID_FIT_LINE),
    Exercise("0.2", "the primitives' local gradients", NOTEBOOK, "CS475 (primitives of every table)", 2,
             ("helpers/scalar_primitives.py", "helpers/chain_rule.py"),
             ("ADD", "SUB", "MUL", "DIV", "NEG", "EXP", "LOG", "SIN", "COS", "SIGMOID", "TANH", "POW", "power_by",
              "local_gradient_formulas (text, not graded)"),
             engine.check_primitives,
             _diagnoses(engine.SIGN, engine.SWAPPED, engine.NOT_LOWERED, engine.OWN_VALUE,
                        "minus sign of the subtrahend missing", "quotient rule: the derivative with respect to the divisor wrong",
                        "σ' written as σ", "tanh's derivative wrong", "∂(aᵇ)/∂b missing a factor", "power rule: a factor missing",
                        "value and local gradient disagree (central differences)"), forbid=HAND),
    Exercise("0.3", "reverse mode: topological order and the backward sweep", NOTEBOOK, "CS475 task 6, micrograd",
             3, ("helpers/scalar_autodiff.py",), ("topological_order", "Value.backward"),
             engine.check_reverse_mode,
             _diagnoses("node listed twice / missing / output not last / operand after its result",
                        "output gradient not seeded with 1", "wrong visiting order", "local gradient missing",
                        "`=` instead of `+=` (one path only)", "gradients not reset before the sweep",
                        "recursion too deep (no explicit stack)"), forbid=FORBID_REVERSE_MODE),
    Exercise("0.4", "CS475 task 1: the squared error of a line by hand", NOTEBOOK, "CS475 task 1", 1,
             (NOTEBOOK_FILE,), ("line_loss_gradients",), notebook.check_line_loss_gradients,
             _diagnoses("factor 2 missing", "sign error", "inner derivative missing"), forbid=HAND),
    Exercise("0.5", "CS475 task 2: (w e^{bx} + ln(wx)) b by hand", NOTEBOOK, "CS475 task 2", 2, (NOTEBOOK_FILE,),
             ("exp_log_gradients",), notebook.check_exp_log_gradients,
             _diagnoses("one of two paths missing (w, x)", "product rule term missing (b)"), forbid=HAND),
    Exercise("0.6", "CS475 tasks 0 and 4: one sigmoid neuron by hand", NOTEBOOK, "CS475 tasks 0, 4", 1,
             ("helpers/graph_derivations.py",), ("sigmoid_neuron_gradients",), functions.check_sigmoid_neuron,
             _diagnoses("σ' written as σ", "factor 2 missing", "inner derivative missing", "sign error in ∂L/∂y"),
             forbid=HAND),
    Exercise("0.7", "CS475 task 5: two neurons with weight decay by hand", NOTEBOOK, "CS475 task 5", 2,
             (NOTEBOOK_FILE,), ("two_neuron_gradients",), notebook.check_two_neuron_gradients,
             _diagnoses("weight decay missing", "weight decay's factor 2 missing", "hidden unit's σ' missing"),
             forbid=HAND),
    Exercise("0.8", "custom Function sin(x)/x and its graph", NOTEBOOK, "CS-587 B (one variable)", 3,
             ("helpers/custom_functions.py", "helpers/graph_derivations.py"),
             ("sin_over_x_derivative", "SinOverX.backward", "sin_over_x_adjoints"), functions.check_sin_over_x,
             _diagnoses("sign error", "closed form's denominator wrong", "series near 0 off by a factor",
                        functions.NOT_SCALED, "one of x's two paths missing", "∂f/∂v₁, ∂f/∂v₂ swapped",
                        "gradcheck / gradgradcheck fail"), forbid=HAND),
    Exercise("0.9", "custom Function ax² + bxy + cy² and its graph", NOTEBOOK, "CS-587 B (two variables)", 2,
             ("helpers/custom_functions.py", "helpers/graph_derivations.py"),
             ("QuadraticForm.backward", "quadratic_form_adjoints"), functions.check_quadratic_form,
             _diagnoses("factor 2 of the squares missing", "∂f/∂x and ∂f/∂y swapped", "sign error",
                        functions.NOT_SCALED, "a path through x² or xy missing", "gradcheck / gradgradcheck fail"),
             forbid=HAND),
    Exercise("0.10", "softplus, the logistic and the second derivative", NOTEBOOK, "CS-587 B (softplus, second order)",
             3, ("helpers/custom_functions.py", "helpers/graph_derivations.py"),
             ("Sigmoid.backward", "Softplus.backward", "softplus_adjoints", "logistic_adjoints"),
             functions.check_softplus,
             _diagnoses("σ' written as σ", "the derivative loses its digits for large x (cancellation)", "backward not differentiable",
                        "softplus' derivative taken as eˣ (overflow)", "one of v₁'s two paths missing",
                        functions.NOT_SCALED, "gradcheck / gradgradcheck fail"), forbid=HAND),
    Exercise("0.11", "the graph of a = x + y, b = z·o, c = a·b, w = c + z", NOTEBOOK, "NYU HW1 §1.4 (b)", 1,
             ("helpers/graph_derivations.py",), ("nyu_adjoints",), functions.check_nyu_graph,
             _diagnoses("one of z's two paths missing"), forbid=HAND),
)
