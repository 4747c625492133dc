"""helpers.experiments.catcar_sweep: runs record what they should, selection uses validation only, divergence is caught."""
import math

import matplotlib.pyplot as plt
import pytest
import torch

from helpers.data.catcar import CatCarData, Split
from helpers.experiments.catcar_sweep import (SGDConfig, SweepRun, grid, observations, run_sweep, select_best, sweep_table,
                                              train_config)
from helpers.plots.classifier import plot_sweep
from helpers.training import accuracy, torch_threads


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: one thread is fastest, and threads that wait on each other crawl on a busy machine."""
    with torch_threads(1):
        yield


def tiny_split(n, seed):
    """Learnable fake data: the label decides the brightness of the left half of the image."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 3, 16, 16, generator=generator) * 0.5
    images[:, :, :, :8] += 0.4 * labels.view(n, 1, 1, 1)
    return Split(images, labels, (images * 255).to(torch.uint8).repeat_interleave(2, 2).repeat_interleave(2, 3),
                 torch.arange(n))


@pytest.fixture(scope="module")
def data():
    train = tiny_split(96, 0)
    return CatCarData(train, tiny_split(40, 1), tiny_split(40, 2), train.images.mean(dim=(0, 2, 3)),
                      train.images.std(dim=(0, 2, 3)))


def test_a_run_records_one_value_per_epoch_and_is_reproducible(data):
    config = SGDConfig(lr=0.05, momentum=0.9, weight_decay=1e-3)
    run = train_config(config, data, n_epochs=3, batch_size=16)
    again = train_config(config, data, n_epochs=3, batch_size=16)
    assert len(run.train_losses) == len(run.val_losses) == len(run.val_accuracies) == 3
    assert run.train_losses == again.train_losses and run.val_accuracies == again.val_accuracies
    x_val, y_val = data.inputs("val")
    assert run.final_val_accuracy == accuracy(run.model, x_val, y_val)
    assert run.final_val_accuracy > 0.8, "the fake task is easy: training must have worked"
    norm = torch.cat([p.detach().flatten() for p in run.model.parameters()]).norm().item()
    assert run.weight_norm == pytest.approx(norm) and not run.diverged


def test_plain_recipe_differs_from_augmented(data):
    augmented = train_config(SGDConfig(0.05), data, n_epochs=2, batch_size=16)
    plain = train_config(SGDConfig(0.05, augment=False, cosine=False), data, n_epochs=2, batch_size=16)
    assert augmented.train_losses != plain.train_losses


def test_divergence_is_recorded_and_skipped_by_selection(data):
    runs = run_sweep([SGDConfig(lr=1e6, momentum=0.9), SGDConfig(lr=0.05)], data, n_epochs=2, batch_size=16)
    assert runs[0].diverged and math.isnan(runs[0].final_val_accuracy)
    assert select_best(runs) is runs[1]
    assert "diverged" in sweep_table(runs)
    with pytest.raises(ValueError, match="every run diverged"):
        select_best(runs[:1])


def test_select_best_takes_the_highest_final_validation_accuracy_first_on_ties():
    def run(accuracies):
        return SweepRun(SGDConfig(0.1), val_accuracies=accuracies)
    runs = [run([0.95, 0.80]), run([0.5, 0.90]), run([0.7, 0.90])]
    assert select_best(runs) is runs[1], "the last epoch counts, not the best epoch"


def test_grid_and_labels():
    configs = grid([0.01, 0.1], [0.0, 0.9], [0.0])
    assert [(c.lr, c.momentum, c.weight_decay) for c in configs] == [(0.01, 0.0, 0.0), (0.01, 0.9, 0.0),
                                                                     (0.1, 0.0, 0.0), (0.1, 0.9, 0.0)]
    assert configs[1].label == "lr=0.01, m=0.9, wd=0"
    assert SGDConfig(0.01, augment=False, cosine=False).label == "lr=0.01, m=0, wd=0 [no augmentation, constant lr]"
    assert SGDConfig(0.01, cosine=False).label == "lr=0.01, m=0, wd=0 [constant lr]"


def test_table_and_plot_show_every_run(data):
    runs = run_sweep([SGDConfig(0.05), SGDConfig(0.05, weight_decay=0.01)], data, n_epochs=2, batch_size=16)
    table = sweep_table(runs).splitlines()
    assert len(table) == 3 and all(run.config.label in line for run, line in zip(runs, table[1:]))
    fig = plot_sweep(runs, highlight=runs[1])
    loss_axis, accuracy_axis = fig.axes
    assert [list(line.get_ydata()) for line in accuracy_axis.lines] == [run.val_accuracies for run in runs]
    assert [line.get_linestyle() for line in loss_axis.lines] == ["-", "--"], "weight decay drawn dashed"
    plt.close(fig)


def test_observations_compare_runs_that_differ_in_one_hyperparameter():
    def run(lr, m, wd, accuracy, norm, augment=True):
        return SweepRun(SGDConfig(lr, m, wd, augment=augment, cosine=augment), train_losses=[0.5, 0.1],
                        val_losses=[0.6, 0.4], val_accuracies=[0.8, accuracy], weight_norm=norm)
    runs = [run(0.01, 0.0, 0.0, 0.90, 20.0), run(0.01, 0.0, 0.005, 0.91, 15.0),
            run(0.01, 0.9, 0.0, 0.92, 22.0), run(0.01, 0.9, 0.005, 0.93, 16.0),
            run(0.01, 0.9, 0.0, 0.85, 25.0, augment=False)]
    lines = observations(runs).splitlines()
    assert lines[0] == "* momentum, lr=0.01, wd=0: validation accuracy 90.00% without → 92.00% with μ = 0.9"
    assert lines[1] == "* momentum, lr=0.01, wd=0.005: validation accuracy 91.00% without → 93.00% with μ = 0.9"
    assert lines[3].startswith("* weight decay, lr=0.01, m=0.9: ‖θ‖ 22.00 → 16.00, validation accuracy 92.00% → 93.00%")
    assert lines[-1].startswith("* plain recipe") and "validation accuracy 85.00%" in lines[-1] and len(lines) == 5
