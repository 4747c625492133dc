"""A fuzz test over the public entry points of each lesson module: fed a wrong dtype, a wrong shape, NaN, inf,
an empty batch or a wrong type, each either raises a clear error from our own checks (never from deep inside
torch) or returns the correct result: the result of the well-formed input it stands for."""
import math
import traceback

import pytest
import torch

from helpers import dream, layers, mlp, mynet, spiral, training
from helpers.data.paths import PROJECT_ROOT

HELPERS = str(PROJECT_ROOT / "helpers")
F64 = torch.float64


class TinyClassifier(torch.nn.Module):
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)

    def forward(self, x):
        return x.flatten(1)[:, :3]


def backpropagation_with_targets(y_true):
    model = mynet.MyNet([2, 3, 1]).double()
    return mynet.backpropagation(model, y_true, model(torch.ones(4, 2, dtype=F64)))


# entry point -> (call with one tensor argument, the shape a well-formed argument has)
ENTRY_POINTS = {
    "spiral.spiral": (spiral.spiral, (5, 2)),
    "spiral.spiral_grad": (spiral.spiral_grad, (5, 2)),
    "spiral.gradient_descent": (lambda x: spiral.gradient_descent(x, 0.01, 3).losses, (2,)),
    "layers.Linear.forward": (lambda x: layers.Linear(2, 3, lr=0.1, dtype=F64).forward(x), (4, 2)),
    "layers.MLP.forward": (lambda x: layers.MLP(2, 1, 4, 0.1, dtype=F64).forward(x), (4, 2)),
    "layers.MSELoss.forward": (lambda y_hat: layers.MSELoss().forward(y_hat, torch.zeros(4, 1, dtype=F64)), (4, 1)),
    "mlp.MLP.forward": (lambda x: mlp.MLP(2, 3, "relu", 3, 1, "identity", dtype=F64).forward(x), (4, 2)),
    "mlp.mse_loss": (lambda y_hat: mlp.mse_loss(torch.zeros(4, 1, dtype=F64), y_hat)[0], (4, 1)),
    "mynet.MyNet.forward": (lambda x: mynet.MyNet([2, 3, 1]).double()(x), (4, 2)),
    "mynet.backpropagation": (lambda y: backpropagation_with_targets(y)[1], (4, 1)),
    "training.MyMLP.forward": (lambda x: training.MyMLP(n_inputs=4, n_hidden=(3, 2)).double()(x), (5, 4)),
    "dream.normalize_and_jitter": (lambda x: dream.normalize_and_jitter(x, 1), (1, 3, 8, 8)),
    "dream.gradient_descent": (lambda x: dream.gradient_descent(x, TinyClassifier(), dream.class_loss(0), 2),
                               (1, 3, 8, 8)),
}

# bad argument -> (make it from the well-formed shape, what a result must then satisfy given the reference)
BAD_ARGUMENTS = {
    "int64": (lambda shape: torch.ones(shape, dtype=torch.int64), "equal"),
    "float16": (lambda shape: torch.ones(shape, dtype=torch.float16), "equal"),
    "complex64": (lambda shape: torch.ones(shape, dtype=torch.complex64), "error"),
    "list": (lambda shape: torch.full(shape, 0.5, dtype=F64).tolist(), "equal"),
    "nan": (lambda shape: torch.full(shape, math.nan, dtype=F64), "not finite"),
    "inf": (lambda shape: torch.full(shape, math.inf, dtype=F64), "not finite"),
    "empty": (lambda shape: torch.ones((0, *shape[1:]), dtype=F64), "empty"),
    "extra dimension": (lambda shape: torch.ones((*shape, 3), dtype=F64), "error"),
    "str": (lambda shape: "0.5", "error"),
    "None": (lambda shape: None, "error"),
}
WELL_FORMED = {"int64": torch.ones, "float16": torch.ones, "list": lambda shape, dtype: torch.full(shape, 0.5, dtype=dtype)}


def run(call, argument):
    torch.manual_seed(0)  # the same initial parameters for the bad call and its reference
    return call(argument)


@pytest.mark.parametrize("bad", list(BAD_ARGUMENTS))
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_bad_input_gives_a_clear_error_or_the_correct_result(entry, bad):
    call, shape = ENTRY_POINTS[entry]
    make, expectation = BAD_ARGUMENTS[bad]
    try:
        result = run(call, make(shape))
    except Exception as error:  # noqa: BLE001 - every failure is classified below
        last = traceback.extract_tb(error.__traceback__)[-1]
        # A clear error is one our code raises on purpose: the innermost frame is a raise statement of ours
        # (an error from inside torch, even one surfacing in our frame from a C function, is not).
        assert last.filename.startswith(HELPERS) and last.line.lstrip().startswith("raise"), (
            f"{type(error).__name__} from {last.filename}:{last.lineno} ({last.line.strip()}), "
            f"not from our checks: {error}")
        assert len(str(error)) > 20, f"the error must say what was expected, got {error!r}"
        return
    assert expectation != "error", f"accepted a {bad} argument and returned {result!r:.120}"
    result = torch.as_tensor(result)
    if expectation == "equal":
        reference = run(call, WELL_FORMED[bad](shape, dtype=F64))
        torch.testing.assert_close(result.double(), torch.as_tensor(reference).double(), rtol=1e-3, atol=1e-3)
    elif expectation == "not finite":
        assert not torch.isfinite(result).all(), f"{bad} went in and a finite result came out"
    else:
        assert result.numel() == 0 or result.dim() == 0, f"an empty batch gave {result!r:.120}"
