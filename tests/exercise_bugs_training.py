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
}
