"""Notebook 01's headline numbers (see README.md beside this file)."""


def gradient_checks(vs_autograd, vs_finite_differences):
    return {"gradient_vs_autograd_ok": vs_autograd.passed,
            "gradient_vs_finite_differences_ok": vs_finite_differences.passed}


def descent_runs(runs):
    return {"runs": [{"seed": r.seed, "lr": r.lr, "steps": r.steps_run, "final_y": float(r.result.losses[-1]),
                      "steps_to_tolerance": r.steps_to_tolerance, "diverged": r.result.diverged} for r in runs]}
