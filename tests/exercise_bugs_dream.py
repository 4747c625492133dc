"""One planted bug per exercise of notebook 05, for the nbgrader end-to-end test (and tests/test_nb05_dream.py).

``PLANTED_BUGS[id] = (file, exact line inside that exercise's solution block, the line with one typical mistake,
a phrase the check's diagnosis prints)``; each old line occurs exactly once in its file.
"""
PLANTED_BUGS = {
    "5.1": ("helpers/dream.py",
            "    image = image - lr * energy_grad  # a step *down* the energy = up the objective (the logit)",
            "    image = image + lr * energy_grad  # a step *down* the energy = up the objective (the logit)",
            "step in the wrong direction"),
    "5.2": ("helpers/dream.py",
            "        (energy_grad,) = torch.autograd.grad(-value, image)  # the energy is minus the objective",
            "        (energy_grad,) = torch.autograd.grad(value, image)  # the energy is minus the objective",
            "not of the energy"),
    "5.3": ("helpers/dream.py",
            "    return picked.reshape(activation.shape[0], -1).mean(dim=1).sum()",
            "    return picked.reshape(activation.shape[0], -1).sum(dim=1).sum()",
            "summed over the pixels"),
}
