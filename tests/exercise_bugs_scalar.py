"""One planted bug per exercise of notebook 00 (for the nbgrader end-to-end test and tests/test_nb00_graphs.py):
exercise id -> (file, a line of that exercise's solution block, the line with one typical mistake, a phrase the
check's diagnosis prints)."""
CHAIN_RULE = "notebooks/00a_chain_rule_by_table.ipynb"
AUTOGRAD = "notebooks/00b_autograd_and_custom_functions.ipynb"

PLANTED_BUGS = {
    "0.1": (AUTOGRAD, "        loss = ((W * x + b - y) ** 2).mean()",
            "        loss = ((W * x + b - y) ** 2).sum()", "the 1/N is missing"),
    "0.2": ("helpers/scalar_autodiff.py", "    return math.sin(a), (math.cos(a),)",
            "    return math.sin(a), (-math.cos(a),)", "sign error in the local gradient"),
    "0.3": ("helpers/scalar_autodiff.py",
            "                operand.grad += local * node.grad  # += : a node used twice sums its paths",
            "                operand.grad = local * node.grad  # += : a node used twice sums its paths",
            "keeps only one path"),
    "0.4": (CHAIN_RULE, '    return {"w": 2 * residual * x, "x": 2 * residual * w, "b": 2 * residual, "y": -2 * residual}',
            '    return {"w": residual * x, "x": residual * w, "b": residual, "y": -residual}',
            "the factor 2 from the square is missing"),
    "0.5": (CHAIN_RULE,
            '    return {"x": b * (w * b * e + 1 / x), "b": w * e + math.log(w * x) + b * w * x * e, "w": b * (e + 1 / w)}',
            '    return {"x": b * (w * b * e + 1 / x), "b": w * e + math.log(w * x) + b * w * x * e, "w": b * e}',
            "∂f/∂w keeps only the path through exp(bx)"),
    "0.6": ("helpers/graph_derivations.py", "    shared = 2 * (s - y) * s * (1 - s)", "    shared = 2 * (s - y) * s",
            "σ' written as σ alone"),
    "0.7": (CHAIN_RULE, "    delta1 = delta2 * w2 * hidden * (1 - hidden)  # built from delta2: backpropagation",
            "    delta1 = delta2 * w2  # built from delta2: backpropagation", "the hidden unit's σ' is missing"),
    "0.8": ("helpers/custom_functions.py", "        return grad_output * sin_over_x_derivative(x)",
            "        return sin_over_x_derivative(x)", "backward ignores grad_output"),
    "0.9": ("helpers/custom_functions.py", "            grad_x = grad_output * (2 * a * x + b * y)",
            "            grad_x = grad_output * (a * x + b * y)", "the factor 2 of x² is missing in ∂f/∂x"),
    "0.10": ("helpers/custom_functions.py", "        return grad_output * Sigmoid.apply(x) * Sigmoid.apply(-x)",
             "        return grad_output * Sigmoid.apply(x)", "σ' written as σ alone"),
    "0.11": ("helpers/graph_derivations.py", '            "z": a * o + 1, "o": a * z}',
             '            "z": a * o, "o": a * z}', "keeps only the path through b"),
    "0.12": (CHAIN_RULE, '            "r": (r, {"q": 1.0, "y": -1.0}, dL_dr), "L": (r ** 2, {"r": 2 * r}, 1.0)}',
             '            "r": (r, {"q": 1.0, "y": 1.0}, dL_dr), "L": (r ** 2, {"r": 2 * r}, 1.0)}', "wrong entries:"),
}
