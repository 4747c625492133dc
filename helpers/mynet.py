"""MyNet and the delta rule: backpropagation by local gradients δ, one vectorised loop over layers.

Notation, for a batch of N samples and layers l = 1..L with n_l neurons (the delta rule's equations are
numbered (4)-(7) as in the INF265 handout: (4) ∂loss/∂W, (5) δ[L], (6) δ[l] from δ[l+1], (7) ∂loss/∂b):

    a[0] = x flattened                                  (N, n_0)
    z[l] = a[l-1] W[l]ᵀ + b[l]                          (N, n_l)    W[l]: (n_l, n_(l-1)), b[l]: (n_l,)
    a[l] = f[l](z[l])                                   (N, n_l)
    loss = Σ_samples Σ_outputs (y - ŷ)²,   ŷ = a[L]
    δ[l] = ∂loss/∂z[l]                                  (N, n_l)    the local gradient of layer l

Exercise 3.1 writes :func:`backpropagation` (δ[L] from the loss, δ[l] from δ[l+1], then the parameter
gradients, each shaped like its parameter); exercise 3.2 the plain gradient-descent step
:func:`manual_sgd_step`.

:func:`backpropagation` reads only ``L``, ``z``, ``a``, ``df`` and ``fc`` of the model, so it works on
any model exposing that structure (external graders build their own). The end of this module (not part of
the exercise) holds the checks of what a caller passes in, and the stale-state guard: a :class:`MyNet`
notes what its forward pass used, so that backpropagation refuses a pass made stale by an in-place change
(an input edited, an SGD step) instead of mixing the new values with the old activations.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from helpers.runtime.validation import ForwardRecord

Activation = Callable[[torch.Tensor], torch.Tensor]


# Each derivative is as accurate as autograd's, so the two agree to round-off: relu' is 1 where z > 0,
# else 0 (also at the kink z = 0, autograd's convention); tanh' = 1 - t² is computed as (1 - t)(1 + t),
# because 1 - t² loses up to 1e-9 to cancellation where t is close to ±1.
def _dtanh(z: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(z)
    return (1 - t) * (1 + t)


def _dsigmoid(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s)


def _drelu(z: torch.Tensor) -> torch.Tensor:
    return (z > 0).to(z.dtype)


def _identity(z: torch.Tensor) -> torch.Tensor:
    return z


def _didentity(z: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(z)


# name -> (f, f'): each activation with its derivative as a function of the pre-activation z (the delta
# rule multiplies by f'(z[l])). helpers.layers.ACTIVATIONS differs: its backward takes the output.
ACTIVATION_DERIVATIVES: dict[str, tuple[Activation, Activation]] = {
    "tanh": (torch.tanh, _dtanh),
    "sigmoid": (torch.sigmoid, _dsigmoid),
    "relu": (torch.relu, _drelu),
    "identity": (_identity, _didentity),
}


def _layer_activations(activation: str | Sequence[str], n_layers: int) -> list[str]:
    names = [activation] * n_layers if isinstance(activation, str) else list(activation)
    if len(names) != n_layers:
        raise ValueError(f"activation: expected one name or {n_layers} names (one per layer), got {len(names)}")
    unknown = [name for name in names if name not in ACTIVATION_DERIVATIVES]
    if unknown:
        raise ValueError(f"unknown activation {unknown[0]!r}; choose from {sorted(ACTIVATION_DERIVATIVES)}")
    return names


class MyNet(nn.Module):
    """A fully connected network that keeps every pre-activation and activation of its last forward pass.

    Args:
        n_l: neurons per layer, input first: ``[n_0, n_1, ..., n_L]`` (at least two positive ints).
        activation: ``'tanh'`` (default), ``'sigmoid'``, ``'relu'`` or ``'identity'`` for every layer,
            or a sequence of L such names, one per layer.

    Attributes (layer keys are ints; ``fc`` keys are strings):
        L: number of layers with weights, ``len(n_l) - 1``.
        z: ``{1..L}``: pre-activations, each (N, n_l); None before the first forward pass.
        a: ``{0..L}``: activations, each (N, n_l); ``a[0]`` is the flattened input.
        dL_dw, dL_db: ``{1..L}``: gradients filled by :func:`backpropagation`, shaped like
            ``fc[str(l)].weight`` (n_l, n_(l-1)) and ``fc[str(l)].bias`` (n_l,).
        f, df: ``{1..L}``: activation of each layer and its derivative.
        fc: ``nn.ModuleDict`` of ``nn.Linear(n_(l-1), n_l)`` keyed ``'1'..'L'``.
    """

    def __init__(self, n_l: Sequence[int] = (2, 3, 2), activation: str | Sequence[str] = "tanh"):
        super().__init__()
        n_l = list(n_l)
        if len(n_l) < 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in n_l):
            raise ValueError(f"n_l must list at least two positive ints (input size first), got {n_l}")
        self.L = len(n_l) - 1
        self.n_l = n_l
        self.activations = _layer_activations(activation, self.L)
        layers = range(1, self.L + 1)
        self.z: dict[int, torch.Tensor | None] = {l: None for l in layers}
        self.a: dict[int, torch.Tensor | None] = {l: None for l in range(self.L + 1)}
        self.dL_dw: dict[int, torch.Tensor | None] = {l: None for l in layers}
        self.dL_db: dict[int, torch.Tensor | None] = {l: None for l in layers}
        self.f = {l: ACTIVATION_DERIVATIVES[self.activations[l - 1]][0] for l in layers}
        self.df = {l: ACTIVATION_DERIVATIVES[self.activations[l - 1]][1] for l in layers}
        self.fc = nn.ModuleDict({str(l): nn.Linear(n_l[l - 1], n_l[l]) for l in layers})
        self._forward_record: ForwardRecord | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, ...) with n_0 features per sample once flattened -> a[L]: (N, n_L); fills z and a."""
        x = _checked_input(self, x)
        self.a[0] = x
        for l in range(1, self.L + 1):
            self.z[l] = self.fc[str(l)](self.a[l - 1])
            self.a[l] = self.f[l](self.z[l])
        _record_forward(self)
        return self.a[self.L]

    def extra_repr(self) -> str:
        return f"n_l={self.n_l}, activation={self.activations}"


def backpropagation(model: nn.Module, y_true: torch.Tensor, y_pred: torch.Tensor) -> dict[int, torch.Tensor]:
    """Fill ``model.dL_dw[l]`` and ``model.dL_db[l]`` (l = 1..L) for loss = Σ (y_true - y_pred)².

    Args:
        model: exposes ``L``, ``z``, ``a``, ``df`` and ``fc`` (see :class:`MyNet`), after a forward pass.
        y_true: targets, floating or integer, of shape (N, n_L) or any shape that broadcasts to it
            without enlarging it, exactly what ``torch.nn.MSELoss`` accepts (e.g. (N, 1) or (1, 1): every
            output compared with the same target); dtypes are promoted as MSELoss promotes them. Bool and
            complex targets are refused, and so is a shape that would enlarge the output's, such as (N,)
            against (N, 1) (MSELoss would compare every target with every sample: (N, N)).
        y_pred: ``model(x)``, the output of the latest forward pass, (N, n_L).

    The gradients are those of ``torch.nn.MSELoss(reduction="none")(y_pred, y_true).sum()``, the same as
    ``reduction="sum"``. Returns the local gradients ``{l: δ[l]}``, each (N, n_l). Parameters are only read (no update, no
    detach), so an optimiser can step with these gradients afterwards.
    """
    _check_inputs(model, y_true, y_pred)
    deltas: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        y_true = y_true.expand_as(y_pred)  # the broadcast MSELoss does: every output gets its target
        common = torch.result_type(y_pred, y_true)  # MSELoss's dtype promotion (float32 targets, float64 net: f64)
        ### BEGIN SOLUTION
        # The delta rule in matrix form, batch in the rows:
        #   δ[L] = e' ⊙ f'[L](z[L]),  e' = ∂loss/∂ŷ = 2 (ŷ - y)          (5)
        #   δ[l] = (δ[l+1] W[l+1]) ⊙ f'[l](z[l])                         (6)
        #   ∂loss/∂W[l] = δ[l]ᵀ a[l-1],   ∂loss/∂b[l] = Σ_samples δ[l]    (4), (7)
        # e' in the promoted dtype, then in the network's; `upstream` is ∂loss/∂a[l]
        upstream = (2 * (y_pred.to(common) - y_true.to(common))).to(y_pred.dtype)
        for l in range(model.L, 0, -1):
            delta = upstream * model.df[l](model.z[l])
            model.dL_dw[l] = delta.T @ model.a[l - 1]
            model.dL_db[l] = delta.sum(dim=0)
            upstream = delta @ model.fc[str(l)].weight
            deltas[l] = delta
        ### END SOLUTION
    return deltas


def manual_sgd_step(model: nn.Module, lr: float) -> None:
    """One gradient-descent step (course equation (3)) of every ``fc[str(l)]`` weight and bias, in place.

    Uses the gradients :func:`backpropagation` stored in ``model.dL_dw[l]`` (n_l, n_(l-1)) and
    ``model.dL_db[l]`` (n_l,); must agree bit for bit with ``torch.optim.SGD(lr=lr)`` given those gradients.
    """
    with torch.no_grad():
        for l in range(1, model.L + 1):
            layer = model.fc[str(l)]
            ### BEGIN SOLUTION
            # θ ← θ - lr ∇θ, written as torch.optim.SGD writes it (add_ with alpha) to match its bits
            layer.weight.add_(model.dL_dw[l], alpha=-lr)
            layer.bias.add_(model.dL_db[l], alpha=-lr)
            ### END SOLUTION


def named_gradients(model: nn.Module) -> dict[str, torch.Tensor]:
    """``dL_dw`` and ``dL_db`` keyed like ``model.named_parameters()`` ('fc.1.weight', 'fc.1.bias', ...)."""
    grads = {}
    for l in range(1, model.L + 1):
        grads[f"fc.{l}.weight"], grads[f"fc.{l}.bias"] = model.dL_dw[l], model.dL_db[l]
    return grads

# ---------------------------------------------------------------------------------------------------------
# Not part of the exercise: what the entry points check, and the stale-state guard.
# MyNet.forward and backpropagation call these once per call; nothing here runs inside their loops.
# ---------------------------------------------------------------------------------------------------------


def _checked_input(model: MyNet, x) -> torch.Tensor:
    """``x`` flattened to (N, n_0), or a clear error for a batch of the wrong shape, dtype or device."""
    weight = model.fc["1"].weight
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"MyNet expects a batch of shape (N, {model.n_l[0]}) (or (N, ...) flattening to "
                         f"{model.n_l[0]} features), got {shape}; for one sample use x.unsqueeze(0)")
    x = torch.flatten(x, start_dim=1)
    if x.shape[1] != model.n_l[0]:
        raise ValueError(f"MyNet expects {model.n_l[0]} input features per sample, got {x.shape[1]} "
                         f"(input flattened to {tuple(x.shape)})")
    if x.dtype != weight.dtype or x.device != weight.device:
        raise TypeError(f"input is {x.dtype} on {x.device} but the model is {weight.dtype} on "
                        f"{weight.device}; convert one of them, e.g. x.to(model.fc['1'].weight)")
    return x


def _record_forward(model: MyNet) -> None:
    model._forward_record = ForwardRecord(*_forward_tensors(model))


def _broadcasts_without_enlarging(target: torch.Size, output: torch.Size) -> bool:
    """Whether ``target`` broadcasts against ``output`` to ``output``'s own shape (what MSELoss then compares)."""
    try:
        return torch.broadcast_shapes(target, output) == output
    except RuntimeError:  # incompatible sizes
        return False


def _check_inputs(model: nn.Module, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
    """Clear errors for the mistakes that would otherwise give silently wrong gradients."""
    missing = [f"z[{l}]" for l in range(1, model.L + 1) if model.z.get(l) is None]
    missing += [f"a[{l}]" for l in range(model.L + 1) if model.a.get(l) is None]
    if missing:
        raise RuntimeError(f"the model has no stored forward pass ({', '.join(missing[:3])} missing): "
                           "call y_pred = model(x) before backpropagation(model, y_true, y_pred)")
    output = model.a[model.L]
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
        # torch.nn.MSELoss refuses complex numbers; bool targets are refused too, as almost surely a mistake.
        if y.dtype == torch.bool or y.is_complex():
            raise TypeError(f"{name} is {y.dtype}: expected real numbers, a floating-point or integer tensor "
                            f"(convert deliberately, e.g. {name}.to(torch.float64))")
        if name == "y_pred" and y.shape != output.shape:
            raise ValueError(f"y_pred has shape {tuple(y.shape)}, expected {tuple(output.shape)} "
                             f"(batch size, n_L) like the output a[L] of the last forward pass")
        if name == "y_true" and not _broadcasts_without_enlarging(y.shape, output.shape):
            raise ValueError(
                f"y_true has shape {tuple(y.shape)}, expected {tuple(output.shape)} (batch size, n_L) like the "
                "output a[L] of the last forward pass, or a shape that broadcasts to it, as torch.nn.MSELoss "
                "broadcasts, without enlarging it (e.g. (N, 1) or (1, 1)); a target of shape (N,) against an "
                "output (N, 1) would broadcast to (N, N): use y_true.reshape(-1, 1)")
        if y.device != output.device:
            raise ValueError(f"{name} is on {y.device} but the model's output is on {output.device}")
    if y_pred.dtype != output.dtype:
        raise TypeError(f"y_pred is {y_pred.dtype} but a[L] of the last forward pass is {output.dtype}: pass the "
                        "output of the latest model(x) call")
    if not torch.isfinite(y_pred).all():
        raise FloatingPointError("y_pred contains NaN or inf: training diverged (lower the learning rate)")
    if not torch.equal(y_pred.detach(), output.detach()):
        raise ValueError("y_pred differs from a[L] of the model's last forward pass: pass the output of the "
                         "latest model(x) call (z and a are overwritten by every forward pass)")
    record = getattr(model, "_forward_record", None)  # MyNet records its forward pass; other models may not
    if record is not None:
        record.check("backpropagation()", _forward_tensors(model)[1])


def _forward_tensors(model: nn.Module) -> tuple[tuple[str, ...], tuple]:
    """Names and tensors of what backpropagation reads: every a[l], z[l] and parameter of the model."""
    named = [(f"a[{l}]", model.a[l]) for l in range(model.L + 1)]
    named += [(f"z[{l}]", model.z[l]) for l in range(1, model.L + 1)]
    named += [(f"parameter fc.{name}", p) for name, p in model.fc.named_parameters()]
    return tuple(name for name, _ in named), tuple(t for _, t in named)


def _getstate(self):
    # copy.deepcopy and pickle: keep the stored forward pass, detached (graph tensors cannot be copied).
    state = self.__dict__.copy()
    for name in ("z", "a"):
        state[name] = {l: None if t is None else t.detach() for l, t in state[name].items()}
    # The record holds graph tensors too: the copy records its own copies if the pass was still current,
    # and drops a stale pass (its backpropagation then asks for a new forward pass).
    record = state.pop("_forward_record", None)
    state["_forward_current"] = record is not None and record.is_current(_forward_tensors(self)[1])
    if record is not None and not state["_forward_current"]:
        state["z"], state["a"] = dict.fromkeys(self.z), dict.fromkeys(self.a)
    return state

def _setstate(self, state):
    current = state.pop("_forward_current", False)
    nn.Module.__setstate__(self, state)
    self._forward_record = ForwardRecord(*_forward_tensors(self)) if current else None


# copy.deepcopy and pickle keep the stored forward pass, detached (graph tensors cannot be copied)
MyNet.__getstate__, MyNet.__setstate__ = _getstate, _setstate
