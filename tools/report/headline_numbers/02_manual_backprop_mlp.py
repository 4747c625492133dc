"""Notebook 02's headline numbers and its q2 deliverable (see README.md beside this file)."""
from helpers.checks.nb02_mlp import max_error
from helpers.data.rainfall import NOISE_VARIANCE
from helpers.runtime.report_hooks import write_deliverable


def gradient_checks(gradient_checks_pass, all_checks):
    return {"gradient_checks": "pass" if gradient_checks_pass else "FAIL",
            "gradient_checks_count": len(all_checks),
            "gradient_check_max_rel_error_vs_autograd": max_error(all_checks, "autograd"),
            "gradient_check_max_rel_error_vs_central_differences": max_error(all_checks, "numerical")}


def nyu_theory(rows_12, rows_13a, rows_13b, dead_unit_runs, affine_mse, relu_mse):
    rows = rows_12 + rows_13a + rows_13b
    return {"nyu_theory_checks": "pass" if all(r.passed for r in rows) else "FAIL",
            "nyu_theory_checks_count": len(rows),
            "dead_relu_units_after_large_lr": next(r.after.stuck for r in dead_unit_runs
                                                   if r.activation == "relu" and "large" in r.scenario),
            "stuck_units_leaky_relu_and_softplus": sum(r.after.stuck for r in dead_unit_runs if r.activation != "relu"),
            "xor_best_affine_mse": affine_mse, "xor_two_relu_units_mse": relu_mse}


def rainfall_fit(q2_text, test_mse, ratio, oracle_mse, best, BATCH_SIZE, runs):  # noqa: N803 (the notebook's names)
    write_deliverable("q2_ytest.txt", q2_text)  # the same bytes as results/q2_ytest.txt
    return {"test_mse": test_mse, "noise_floor": NOISE_VARIANCE, "test_mse_over_noise_floor": ratio,
            "oracle_test_mse": oracle_mse, "selected_lr": best.lr, "selected_epochs": best.best_epoch,
            "best_val_mse": best.best_val_mse, "batch_size": BATCH_SIZE,
            "diverged_lrs": [lr for lr, h in runs.items() if h.diverged]}


def torch_twin(manual_losses, twin_agreement):
    return {"twin_steps": len(manual_losses), "twin_max_rel_loss_difference": twin_agreement.max_relative_error,
            "twin_verdict": "pass" if twin_agreement.passed else "FAIL"}
