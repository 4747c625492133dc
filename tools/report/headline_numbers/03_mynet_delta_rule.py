"""Notebook 03's headline numbers (see README.md beside this file)."""
from helpers.checks.nb03_delta_rule import CHECKS, checks_passed, worst_error
from helpers.gradcheck import AUTOGRAD_TOLERANCE, FINITE_DIFFERENCE_TOLERANCE, verdict


def grader_and_deltas(report, all_reports, broken, analytic_at_kink, fd_at_kink, shrinkage, losses):
    return {
        "grader_checks_passed": checks_passed(report),
        "grader_checks_total": len(CHECKS),
        "grader_steps": len(report["steps"]),
        "grader_runs_passed": sum(checks_passed(r) == len(CHECKS) for r in all_reports),
        "grader_runs_total": len(all_reports),
        "broken_variant_checks_failed": len(CHECKS) - checks_passed(broken),
        "max_rel_error_vs_autograd": verdict(max(worst_error(r["autograd"]) for r in all_reports), AUTOGRAD_TOLERANCE),
        "max_rel_error_vs_finite_differences": verdict(max(worst_error(r["finite differences"]) for r in all_reports),
                                                       FINITE_DIFFERENCE_TOLERANCE),
        "relu_kink_delta_rule": analytic_at_kink,
        "relu_kink_central_difference": float(f"{fd_at_kink:.4g}"),
        "delta_shrinkage_sigmoid_default_init": shrinkage["sigmoid", "default"],
        "delta_shrinkage_tanh_default_init": shrinkage["tanh", "default"],
        "delta_shrinkage_relu_default_init": shrinkage["relu", "default"],
        "initial_training_loss": losses[0],
        "final_training_loss": losses[-1],
        "training_steps": len(losses) - 1,
    }
