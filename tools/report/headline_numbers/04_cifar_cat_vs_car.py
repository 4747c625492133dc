"""Notebook 04's headline numbers (see README.md beside this file)."""


def data_split(counts, data):
    return {"split_counts": counts, "label_mapping": {"0": "cat", "1": "car (automobile)"},
            "channel_mean": [round(v, 4) for v in data.mean.tolist()],
            "channel_std": [round(v, 4) for v in data.std.tolist()]}


def gradient_check(rows):
    return {"gradient_check_passed": all(row.passed for row in rows)}


def optimizer_equality(identical, comparisons):
    return {"equality_all_identical": identical,
            "equality": {f"{name} ({str(dtype)[6:]})": {
                "torch_losses": c.torch_losses, "manual_losses": c.manual_losses,
                "max_abs_param_difference": c.max_abs_difference, "identical": c.identical}
                for (name, dtype), c in comparisons.items()}}


def sweep(runs):
    return {"sweep": [{
        "config": run.config.label, "lr": run.config.lr, "momentum": run.config.momentum,
        "weight_decay": run.config.weight_decay,
        "final_train_loss": round(run.train_losses[-1], 4), "final_val_loss": round(run.val_losses[-1], 4),
        "final_val_accuracy": round(run.final_val_accuracy, 4), "weight_norm": round(run.weight_norm, 3),
        "val_accuracy_per_epoch": [round(a, 4) for a in run.val_accuracies]} for run in runs]}


def selection(best, twin, twin_difference):
    return {"selected_config": best.config.label, "selected_val_accuracy": round(best.final_val_accuracy, 4),
            "manual_twin_identical": twin.train_losses == best.train_losses and twin_difference == 0.0}


def test_evaluation(test_accuracy, matrix, scores):
    return {"test_accuracy": round(test_accuracy, 4), "confusion_matrix": matrix.tolist(),
            "precision_recall": {name: {k: round(v, 4) for k, v in s.items()} for name, s in scores.items()}}


def ablation(ablation):
    return {"ablation": [{
        "variant": run.config.label, "augment": run.config.augment, "cosine": run.config.cosine,
        "final_train_loss": round(run.train_losses[-1], 4), "final_val_loss": round(run.val_losses[-1], 4),
        "final_val_accuracy": round(run.final_val_accuracy, 4)} for run in ablation]}
