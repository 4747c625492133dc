"""INF265 report questions (a)–(g), posed in our own words and answered from notebook 04's runs, in Markdown.

Each function returns one question in bold followed by its answer; the numbers come from the arguments
(the grid of recipe runs, the selected model's test evaluation, the extension's ablation), never typed in.
The answers' prose sits in solution blocks, so the student edition's copy of this file does not hold it; there
(``edition.SHOWS_ANSWERS`` is False) each function returns its question and a prompt to write the answer in
the notebook's answer cell.
"""
from __future__ import annotations

from typing import Sequence

import torch

from helpers.data.catcar import DEFAULT_SPLIT_SEED
from helpers.experiments.catcar_eval import sampling_agreement
from helpers.experiments.catcar_sweep import SweepRun, SelectedAndTested, accuracy_text, loss_text
from helpers.runtime import edition

HIDDEN = "*answer hidden: write yours in the answer cell below, with the numbers of your runs above.*"


QUESTIONS = {  # letter -> the question, in our words
    "a": "Which PyTorch calls do the work of the hand-written `backpropagation`?",
    "b": ("How can we test whether a computed gradient is right, and how would we apply that to section 2's "
          "`backpropagation`?"),
    "c": "Which PyTorch calls does `train_manual_update` replace?",
    "d": "What is momentum for?",
    "e": "What is regularisation for?",
    "f": "Which settings did we train, which one did validation select, and how does it do on the test set?",
    "g": "What do the results say, and why might someone else's differ?",
}


def _posed(letter: str, answer: str | None = None) -> str:
    """Question ``letter`` in bold, then ``answer``; without one (the student edition), a prompt to write yours."""
    return f"**({letter}) {QUESTIONS[letter]}**\n\n{HIDDEN if answer is None else answer}"


def answer_a() -> str:
    """(a): the PyTorch counterpart of the hand-written backpropagation of the course's section 2."""
    if not edition.SHOWS_ANSWERS:
        return _posed("a")
    ### BEGIN SOLUTION
    return _posed("a", "`loss.backward()` (the same as `torch.autograd.backward(loss)`): autograd walks the graph "
            "recorded during the forward pass from the loss back to the inputs, applies the chain rule at "
            "every operation and adds ∂L/∂w and ∂L/∂b into each parameter's `.grad`, i.e. what "
            "`backpropagation` writes into `model.dL_dw[l]` and `model.dL_db[l]` sits in "
            "`layer.weight.grad` and `layer.bias.grad`. `torch.autograd.grad(loss, params)` returns the "
            "same gradients without storing them. The forward pass that keeps the activations is the "
            "model's `forward` (calling `model(x)`) with autograd recording.")
    ### END SOLUTION


def answer_b(gradient_verdicts: Sequence[str]) -> str:
    """(b): gradient checking. ``gradient_verdicts``: this notebook's verdicts, one per parameter tensor."""
    if not edition.SHOWS_ANSWERS:
        return _posed("b")
    ### BEGIN SOLUTION
    return _posed("b", "Gradient checking with finite differences. Nudge one parameter $w$ by $\\pm h$, recompute the "
            "loss, and compare the slope $\\big(L(w + h) - L(w - h)\\big)/2h$ (central differences, error "
            "of order $h^2$) with the computed $\\partial L/\\partial w$ through the relative error "
            "$|a - n| / (|a| + |n|)$, in float64 so that rounding does not drown the comparison. For "
            "section 2: run `backpropagation(model, y_true, y_pred)` on one sample, then for every entry "
            "$(i, j)$ of every `model.dL_dw[l]` and `model.dL_db[l]` perturb that weight or bias in place, "
            "redo the forward pass and the loss twice, and check the relative error stays at round-off "
            "size; a wrong formula gives errors of order 1. `torch.autograd.gradcheck` automates this, "
            "and autograd's own gradients give a second reference that must agree to about 1e-15. "
            "Notebook 03 does both for `MyNet` with the course's test procedure; here, for a pocket MyMLP: "
            + "; ".join(gradient_verdicts) + ".")
    ### END SOLUTION


def answer_c() -> str:
    """(c): the PyTorch counterpart of section 3's manual update."""
    if not edition.SHOWS_ANSWERS:
        return _posed("c")
    ### BEGIN SOLUTION
    return _posed("c", "`optimizer.step()` of `torch.optim.SGD(model.parameters(), lr, momentum=…, weight_decay=…)`, "
            "which moves every parameter against its `.grad`, and `optimizer.zero_grad()` (or "
            "`model.zero_grad()`), which clears the gradients so the next `backward()` does not add to "
            "them. `train_manual_update` does both itself in `sgd_step`: a loop over `model.parameters()` "
            "inside `torch.no_grad()` (the update must not be recorded by autograd), the rule "
            "$\\theta \\leftarrow \\theta - \\eta\\, g$, then `p.grad = None`.")
    ### END SOLUTION


def _val_loss(run: SweepRun) -> str:
    return "diverged" if run.diverged else f"{run.val_losses[-1]:.4f}"


def _grid(runs: Sequence[SweepRun]) -> dict[tuple[float, float, float], SweepRun]:
    return {(r.config.lr, r.config.momentum, r.config.weight_decay): r for r in runs}


def answer_d(runs: Sequence[SweepRun]) -> str:
    """(d): what momentum is for, with the grid's runs that differ in momentum alone."""
    if not edition.SHOWS_ANSWERS:
        return _posed("d")
    grid = _grid(runs)
    evidence = "; ".join(
        f"at lr={lr:g}, wd={wd:g}: training loss {loss_text(grid[lr, 0.0, wd])} → {loss_text(grid[lr, m, wd])}, "
        f"validation accuracy {accuracy_text(grid[lr, 0.0, wd])} → {accuracy_text(grid[lr, m, wd])} with μ = {m:g}"
        for (lr, m, wd) in grid if m > 0 and (lr, 0.0, wd) in grid)
    ### BEGIN SOLUTION
    return _posed("d", "Momentum keeps a running sum of past gradients, $b_t = \\mu b_{t-1} + g_t$, and steps along "
            "it. Where successive gradients agree (the floor of a long valley) the steps grow, up to "
            "$1/(1-\\mu)$ times a single gradient (10× for μ = 0.9); where they flip sign (across a narrow "
            "valley, or from batch to batch) they cancel. Training goes faster and zig-zags less, and "
            "noise from single batches is averaged out. In our runs, everything else equal: " + evidence + ".")
    ### END SOLUTION


def answer_e(runs: Sequence[SweepRun], ablation: Sequence[SweepRun]) -> str:
    """(e): what L2 regularisation (weight decay) is for, with the grid's runs that differ in it alone,
    and the extension's augmentation as the other regulariser (``ablation``: baseline, + augmentation, ...)."""
    if not edition.SHOWS_ANSWERS:
        return _posed("e")
    grid = _grid(runs)
    evidence = "; ".join(
        f"lr={lr:g}, m={m:g}: ‖θ‖ {grid[lr, m, 0.0].weight_norm:.2f} → {grid[lr, m, wd].weight_norm:.2f}, "
        f"validation accuracy {accuracy_text(grid[lr, m, 0.0])} → {accuracy_text(grid[lr, m, wd])}"
        for (lr, m, wd) in grid if wd > 0 and (lr, m, 0.0) in grid)
    baseline, augmented = ablation[0], ablation[1]
    ### BEGIN SOLUTION
    return _posed("e", "To keep the network from fitting the training images' accidents (overfitting). L2 "
            "regularisation adds $\\frac{\\lambda}{2}\\lVert\\theta\\rVert^2$ to the loss, i.e. "
            "$\\lambda\\theta$ to every gradient (the `weight_decay` term): each step shrinks every weight "
            "by the factor $1 - \\eta\\lambda$, so only weights the data keeps pushing stay large, and "
            "the function stays smoother. With weight decay λ > 0, everything else equal: "
            f"{evidence}; on average it changed validation accuracy by "
            f"{mean_change(runs, 'weight_decay'):+.2f} points over these few epochs. Data "
            "augmentation (the extension below) regularises too: without it the training loss ends at "
            f"{loss_text(baseline)} against a validation loss of {_val_loss(baseline)}; with it "
            f"at {loss_text(augmented)} against {_val_loss(augmented)}.")
    ### END SOLUTION


def mean_change(runs: Sequence[SweepRun], factor: str) -> float:
    """Mean change of final validation accuracy, in percentage points, when ``factor`` ('momentum' or
    'weight_decay') goes from 0 to a value > 0 with the other settings equal; over every such pair of runs
    that did not diverge (NaN if there is none)."""
    grid = _grid(runs)
    position = {"momentum": 1, "weight_decay": 2}[factor]
    changes = []
    for key, run in grid.items():
        partner = grid.get(key[:position] + (0.0,) + key[position + 1:])
        if key[position] > 0 and partner is not None and not (run.diverged or partner.diverged):
            changes.append(100 * (run.final_val_accuracy - partner.final_val_accuracy))
    return sum(changes) / len(changes) if changes else float("nan")


def answer_f(runs: Sequence[SweepRun], selection: SelectedAndTested, matrix: torch.Tensor,
             scores: dict[str, dict[str, float]]) -> str:
    """(f): every configuration tried, the one selected, and its test evaluation.

    matrix: (2, 2) test confusion matrix (row = true cat, car); scores: precision and recall per class name."""
    if not edition.SHOWS_ANSWERS:
        return _posed("f")
    rows = "\n".join(f"| {r.config.lr:g} | {r.config.momentum:g} | {r.config.weight_decay:g} | "
                     f"{loss_text(r)} | {accuracy_text(r)} | {'**selected**' if r is selection.run else ''} |"
                     for r in runs)
    best = selection.run
    per_class = ", ".join(f"{name}: precision {s['precision']:.2%}, recall {s['recall']:.2%}"
                          for name, s in scores.items())
    ### BEGIN SOLUTION
    return _posed("f", f"All with `train` and `torch.optim.SGD`, {len(best.train_losses)} epochs, batches of 64, "
            "the course's recipe:\n\n| lr | momentum | weight decay | final training loss | validation "
            f"accuracy | |\n|---|---|---|---|---|---|\n{rows}\n\nSelected on validation accuracy: "
            f"**{best.config.label}** ({best.final_val_accuracy:.2%}). On the {int(matrix.sum()):,} test "
            f"images, seen once, by this model only: accuracy **{selection.accuracy:.2%}**; "
            f"{int(matrix[0, 1])} cats taken for cars and {int(matrix[1, 0])} cars for cats ({per_class}).")
    ### END SOLUTION


def answer_g(runs: Sequence[SweepRun], selection: SelectedAndTested, twin_difference: float,
             ablation: Sequence[SweepRun]) -> str:
    """(g): comments on the results, and why another run of this project could give other numbers.

    twin_difference: largest parameter difference between the selected run and its ``train_manual_update`` twin."""
    if not edition.SHOWS_ANSWERS:
        return _posed("g")
    best = selection.run
    gap = 100 * (selection.accuracy - best.final_val_accuracy)
    ### BEGIN SOLUTION
    twin = ("identical to the last bit (largest parameter difference 0)" if twin_difference == 0
            else f"NOT identical (largest parameter difference {twin_difference:.3g})")
    extended = max(ablation, key=lambda run: -1 if run.diverged else run.final_val_accuracy)
    n_test = len(selection.predictions)
    standard_error, agreement = sampling_agreement(gap, selection.accuracy, n_test)
    honest = (f"{agreement} of a test accuracy on {n_test:,} images (±{standard_error:.2f} points): "
              + ("validation was an honest guide, since the test set played no part in any choice"
                 if abs(gap) <= 2 * standard_error else
                 "validation was a poor guide here, a sign that the validation set is too small or unlike the "
                 "test set"))
    return _posed("g", f"The selected MLP is right on {selection.accuracy:.2%} of the test images, {gap:+.2f} "
            f"percentage points from its validation accuracy, {honest}. Retrained with `train_manual_update`, "
            "the selected "
            f"configuration comes out {twin}, as the course expects. Switching momentum on changed validation "
            f"accuracy by {mean_change(runs, 'momentum'):+.2f} points on average over the grid, weight "
            f"decay by {mean_change(runs, 'weight_decay'):+.2f}. The selected run ends with a training loss "
            f"of {loss_text(best)} against a validation loss of {_val_loss(best)}: the further "
            "apart, the more the MLP memorises its training images. The extension shows the margin left: "
            f"{extended.config.label} reaches {accuracy_text(extended)} on validation.\n\nOther numbers would be normal, for reasons that change the data or the "
            "arithmetic, not the method: another train/validation split (ours is stratified with seed "
            f"{DEFAULT_SPLIT_SEED}), another resizing to 16×16 (we average 2×2 blocks), normalisation or none, another "
            "number of epochs or batch size, another initialisation seed, another CPU or thread count "
            "(floating-point sums rounded in another order), or a GPU. A copy of CIFAR-10 stored class by "
            "class and read without shuffling would, on its own, ruin training (each block of batches "
            "teaches one class): hence our one fixed mixed order. `train` and `train_manual_update` "
            "disagreeing would instead point at the code: a different operation order in the update, "
            "float32 instead of float64, gradients not cleared, or the two runs starting from different "
            "seeds or seeing different batches.")
    ### END SOLUTION
