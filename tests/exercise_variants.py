"""Correct solutions written in another order of operations, one or more per exercise family: each must pass
its exercise's check (the issue: "fair to correct work"). Same format as the planted bugs
(``tests/exercise_bugs.py``): ``VARIANTS[name] = (file, one exact line of a solution block, the line rewritten,
the exercise id)``."""

VARIANTS = {
    "0.4 terms regrouped": ("notebooks/00a_chain_rule_by_table.ipynb",
                            '    return {"w": 2 * residual * x, "x": 2 * residual * w, "b": 2 * residual, "y": -2 * residual}',
                            '    return {"w": x * (residual + residual), "x": (2 * w) * residual, "b": residual * 2, '
                            '"y": -(2 * residual)}', "0.4"),
    "1.2 x - lr * g": ("helpers/spiral.py",
                       "        x_next = x.add(gradient, alpha=-lr)  # one rounding per entry, exactly as torch.optim.SGD",
                       "        x_next = x - lr * gradient", "1.2"),
    "2.4 -= lr * grad": ("helpers/layers.py", "        self.weight.add_(self.grad_weight, alpha=-self.lr)",
                         "        self.weight -= self.lr * self.grad_weight", "2.4"),
    "3.2 .data.sub_": ("helpers/mynet.py", "            layer.weight.add_(model.dL_dw[l], alpha=-lr)",
                       "            layer.weight.data.sub_(lr * model.dL_dw[l])", "3.2"),
    "4.4 weight decay as g + λθ": ("helpers/training.py",
                                   "                grad = grad.add(p, alpha=weight_decay)              # g + λθ",
                                   "                grad = grad + weight_decay * p", "4.4"),
    "5.1 normaliser + 1e-8": ("helpers/dream.py",
                              "        energy_grad = energy_grad / energy_grad.abs().mean(dim=(1, 2, 3), "
                              "keepdim=True).clamp_min(1e-12)",
                              "        energy_grad = energy_grad / (energy_grad.abs().mean(dim=(1, 2, 3), keepdim=True) "
                              "+ 1e-8)", "5.1"),
    "4.4 sub_(lr * g)": ("helpers/training.py", "            p.add_(grad, alpha=-lr)                                  # θ - ηg",
                         "            p.sub_(lr * grad)", "4.4"),
}
