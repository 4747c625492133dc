"""One planted bug per exercise of notebooks 03 and 04, for the nbgrader end-to-end test (issue 14).

Each entry: exercise id -> (file relative to the project root, one exact line of that exercise's solution block,
the same line with one typical mistake, a phrase the check's diagnosis must print).
"""

PLANTED_BUGS = {
    "3.1": ("helpers/mynet.py",
            "            model.dL_dw[l] = delta.T @ model.a[l - 1]",
            "            model.dL_dw[l] = model.a[l - 1].T @ delta",
            "weight gradient transposed"),
    "3.2": ("helpers/mynet.py",
            "            layer.weight.add_(model.dL_dw[l], alpha=-lr)",
            "            layer.weight.add_(model.dL_dw[l], alpha=lr)",
            "wrong direction"),
    "4.1": ("helpers/data/catcar.py",
            "        n_val = round(val_fraction * len(members))",
            "        n_val = round((1 - val_fraction) * len(members))",
            "swapped"),
    "4.2": ("helpers/training.py",
            "        scores = self.fc3(hidden)",
            "        scores = torch.relu(self.fc3(hidden))",
            "after the last layer"),
    "4.3": ("helpers/training.py",
            "    optimizer.zero_grad()  # else the next batch's gradients add to these",
            "    pass  # else the next batch's gradients add to these",
            "never cleared"),
    "4.4": ("helpers/training.py",
            "                    momentum_buffers[i] = grad.detach().clone()      # b₁ = g₁",
            "                    momentum_buffers[i] = torch.zeros_like(grad).add_(grad, alpha=1 - dampening)",
            "started from zeros"),
    "4.5": ("helpers/experiments/catcar_sweep.py",
            "        loader = BatchLoader(train_images, train_labels, batch_size, shuffle=False, augment=augment,",
            "        loader = BatchLoader(train_images, train_labels, batch_size, shuffle=True, augment=augment,",
            "the batches are shuffled"),
    "4.6": ("helpers/experiments/catcar_sweep.py",
            "    candidates = [run for run in runs if not run.diverged]",
            "    candidates = list(runs)",
            "a diverged run selected"),
}


# -- shared by tests/test_nb03_delta_rule.py and tests/test_nb04_catcar.py ---------------------------------

import sys  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

from tests.sandbox_workspaces import workspace_with  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# exercise -> (module, the attribute that a mutated copy of the module replaces)
TARGETS = {"3.1": ("helpers.mynet", "backpropagation"), "3.2": ("helpers.mynet", "manual_sgd_step"),
           "4.1": ("helpers.data.catcar", "stratified_split"), "4.2": ("helpers.training", "MyMLP"),
           "4.3": ("helpers.training", "training_step"), "4.4": ("helpers.training", "sgd_step"),
           "4.5": ("helpers.experiments.catcar_sweep", "recipe_instance"),
           "4.6": ("helpers.experiments.catcar_sweep", "select_best")}


def _module_from(source: str, name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules["_exercise_copy"] = module  # dataclasses and the like look their module up
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    finally:
        del sys.modules["_exercise_copy"]
    return module


def _workspace_with(exercise_id: str, source_change) -> Path:
    """The instructor's helpers with the exercise's file after ``source_change`` (:func:`workspace_with`)."""
    path = TARGETS[exercise_id][0].replace(".", "/") + ".py"
    return workspace_with({path: source_change((ROOT / path).read_text(encoding="utf-8"))})


def _replacing(*pairs):
    def change(text):
        for old, new in pairs:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        return text
    return change


FURTHER_MISTAKES = [  # (exercise, line, the line with the mistake, phrase of the diagnosis)
    ("3.1", "upstream = (2 * (y_pred.to(common) - y_true.to(common))).to(y_pred.dtype)",
     "upstream = ((y_pred.to(common) - y_true.to(common))).to(y_pred.dtype)", "missing the factor 2"),
    ("3.1", "upstream = (2 * (y_pred.to(common) - y_true.to(common))).to(y_pred.dtype)",
     "upstream = (2 * (y_true.to(common) - y_pred.to(common))).to(y_pred.dtype)", "sign error"),
    ("3.1", "model.dL_db[l] = delta.sum(dim=0)", "model.dL_db[l] = delta", "not summed over the batch"),
    ("3.1", "model.dL_dw[l] = delta.T @ model.a[l - 1]", "model.dL_dw[l] = delta.T @ model.a[l - 1] / len(delta)",
     "an extra 1/N"),
    ("3.1", "delta = upstream * model.df[l](model.z[l])", "delta = upstream", "forgot the local derivative"),
    ("3.1", "delta = upstream * model.df[l](model.z[l])", "delta = upstream * model.df[l](model.a[l])",
     "wrong activation derivative"),
    ("3.2", "layer.bias.add_(model.dL_db[l], alpha=-lr)", "pass", "biases not updated"),
    ("3.2", "layer.weight.add_(model.dL_dw[l], alpha=-lr)", "layer.weight.add_(model.dL_dw[l], alpha=-1)",
     "learning rate not applied"),
    ("4.1", "members = members[torch.randperm(len(members), generator=generator)]", "members = members",
     "not random"),
    ("4.1", "members = members[torch.randperm(len(members), generator=generator)]",
     "members = members[torch.randperm(len(members))]", "the seed is ignored"),
    ("4.2", "hidden = torch.relu(self.fc2(torch.relu(self.fc1(x))))", "hidden = torch.relu(self.fc2(self.fc1(x)))",
     "first hidden layer"),
    ("4.2", "scores = self.fc3(hidden)", "scores = torch.softmax(self.fc3(hidden), dim=1)", "softmax"),
    ("4.3", "loss.backward()      # fills p.grad of every parameter", "pass", "did not move"),
    ("4.4", "grad = grad.add(p, alpha=weight_decay)", "grad = grad.add(p, alpha=-weight_decay)", "wrong sign"),
    ("4.4", "momentum_buffers[i].mul_(momentum).add_(grad, alpha=1 - dampening)",
     "momentum_buffers[i].mul_(momentum).add_(grad)", "dampening left out"),
    ("4.4", "p.add_(grad, alpha=-lr)", "p.add_(grad, alpha=lr)", "wrong direction"),
    ("4.4", "grad = grad.add(buf, alpha=momentum) if nesterov else buf", "grad = buf", "Nesterov"),
    ("4.4", "p.grad = None  # what optimizer.zero_grad() does", "pass  #", "p.grad = None"),
    ("4.5", "torch.manual_seed(seed)  # right before the model", "pass  #", "set torch.manual_seed(seed)"),
    ("4.5", "        model = MyMLP().to(get_device())", "        model = MyMLP().float().to(get_device())",
     "not float64"),
    ("4.5", "config.weight_decay, lr_schedule=schedule, callback=after_epoch)",
     "0.0, lr_schedule=schedule, callback=after_epoch)", "train and train_manual_update trained differently"),
    ("4.6", "    return max(candidates, key=lambda run: run.final_val_accuracy)",
     "    return min(candidates, key=lambda run: run.train_losses[-1])", "selected on the training loss"),
    ("4.6", "    return max(candidates, key=lambda run: run.final_val_accuracy)",
     "    return max(candidates, key=lambda run: max(run.val_accuracies))", "an earlier epoch's"),
    ("4.6", "    best = select_best(runs)\n    predictions = predict(best.model, test_images)",
     "    best = max(runs, key=lambda run: (predict(run.model, test_images) == test_labels).double().mean().item())"
     "\n    predictions = predict(best.model, test_images)", "selected on test accuracy"),
    ("4.6", "    predictions = predict(best.model, test_images)\n",
     "    predictions = [predict(run.model, test_images) for run in runs][runs.index(best)]\n",
     "every instance evaluated on the test set"),
]


FAIR_SOLUTIONS = [  # (exercise, changes, a diagnosis that must not be shown)
    ("4.4", _replacing(("grad = grad.add(p, alpha=weight_decay)", "grad = grad + weight_decay * p"),
                       ("p.add_(grad, alpha=-lr)", "p.sub_(lr * grad)")), "weight decay"),
    ("4.4", _replacing(("p.add_(grad, alpha=-lr)", "p.sub_(grad / (1 / lr))")), "started from zeros"),
    ("3.2", _replacing(("layer.weight.add_(model.dL_dw[l], alpha=-lr)",
                        "layer.weight.sub_(model.dL_dw[l] / (1 / lr))")), "biases not updated"),
]


IN_PLACE = [  # (exercise, line, the line also modifying an input in place, the right results kept)
    ("3.1", "model.dL_db[l] = delta.sum(dim=0)", "model.dL_db[l] = delta.sum(dim=0); model.z[l].zero_()"),
    ("4.1", "return torch.sort(torch.cat(train_parts)).values, torch.sort(torch.cat(val_parts)).values",
     "labels.zero_(); return torch.sort(torch.cat(train_parts)).values, torch.sort(torch.cat(val_parts)).values"),
    ("4.2", "scores = self.fc3(hidden)", "scores = self.fc3(hidden); x.zero_()"),
    ("4.3", "optimizer.step()\n", "optimizer.step(); x.zero_()\n"),
]
