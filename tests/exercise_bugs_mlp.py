"""One planted bug per exercise of notebooks 01 and 02, for the nbgrader end-to-end test (issue 14) and
tests/test_nb01_spiral.py and tests/test_nb02_mlp.py.

``PLANTED_BUGS[id] = (file relative to the project root, one exact line of that exercise's solution block, the
same line with one typical mistake, a phrase the check's diagnosis prints)``; each old line occurs exactly once
in its file.
"""

PLANTED_BUGS = {
    "1.1": ("helpers/spiral.py",
            "    sin_2u = torch.sin(2 * u)",
            "    sin_2u = 2 * torch.sin(u)",
            "forgot the local derivative of sin²"),
    "1.2": ("helpers/spiral.py",
            "        x_next = x.add(gradient, alpha=-lr)  # one rounding per entry, exactly as torch.optim.SGD",
            "        x_next = x.add(gradient, alpha=lr)  # one rounding per entry, exactly as torch.optim.SGD",
            "step in the wrong direction"),
    "2.1": ("helpers/layers.py",
            "    grad_weight = x.t().mm(grad_out)",
            "    grad_weight = grad_out.t().mm(x)",
            "the weight gradient is transposed"),
    "2.2": ("helpers/layers.py",
            "    return grad_y * (1 - y) * y",
            "    return (1 - y) * y",
            "forgot to multiply by the upstream gradient"),
    "2.3": ("helpers/layers.py",
            "    return (y_hat - y) * (2.0 / y_hat.numel())",
            "    return (y_hat - y) * 2.0",
            "missing 1/N"),
    "2.4": ("helpers/layers.py",
            "        self.weight.add_(self.grad_weight, alpha=-self.lr)",
            "        self.weight.add_(self.grad_weight, alpha=self.lr)",
            "step in the wrong direction"),
    "2.5": ("helpers/mlp.py",
            "        dJdz2 = g_backward(dJdy_hat, y_hat)",
            "        dJdz2 = dJdy_hat",
            "forgot the local derivative of g"),
    "2.6": ("helpers/two_layer_theory.py",
            '    dl_dz3 = jac["dl/dy_hat"] @ jac["dy_hat/dz3"]',
            '    dl_dz3 = jac["dl/dy_hat"]',
            "the Jacobian dy_hat/dz3 of g is missing"),
    "2.7": ("helpers/two_layer_theory.py",
            '        return (5.0 if name == "5relu" else 1.0) * (z > 0).to(z.dtype)',
            "        return (z > 0).to(z.dtype)",
            "the factor 5 of 5 ReLU is missing"),
}
