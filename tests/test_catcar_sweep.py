"""helpers.experiments.catcar_sweep: the required experiment runs exactly the configurations asked, under the
course's recipe (seed 42 before each model, float64, one fixed order), with train == train_manual_update;
selection uses validation only and the test set is seen once, by the selected model only."""
import math

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from helpers.data.catcar import CatCarData, Split
from helpers.experiments import catcar_sweep
from helpers.experiments.catcar_sweep import (SGDConfig, SweepRun, fixed_order, grid, max_parameter_difference,
                                              observations, run_sweep, select_and_test, select_best, sweep_table,
                                              train_config)
from helpers.plots.classifier import plot_sweep
from helpers.training import MyMLP, accuracy, torch_threads


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: one thread is fastest, and threads that wait on each other crawl on a busy machine."""
    with torch_threads(1):
        yield


def tiny_split(n, seed, sorted_by_class=False):
    """Learnable fake data: the label decides the brightness of the left half of the image."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    if sorted_by_class:
        labels = labels.sort().values
    images = torch.rand(n, 3, 16, 16, generator=generator) * 0.5
    images[:, :, :, :8] += 0.4 * labels.view(n, 1, 1, 1)
    return Split(images, labels, (images * 255).to(torch.uint8).repeat_interleave(2, 2).repeat_interleave(2, 3),
                 torch.arange(n))


@pytest.fixture(scope="module")
def data():
    train = tiny_split(96, 0, sorted_by_class=True)  # class by class, like the offline archive
    return CatCarData(train, tiny_split(40, 1), tiny_split(40, 2), train.images.mean(dim=(0, 2, 3)),
                      train.images.std(dim=(0, 2, 3)))


def assert_same_run(a, b):
    assert a.train_losses == b.train_losses and a.val_accuracies == b.val_accuracies
    assert max_parameter_difference(a.model, b.model) == 0.0


def test_a_run_records_one_value_per_epoch_and_is_reproducible(data):
    config = SGDConfig(lr=0.05, momentum=0.9, weight_decay=1e-3)
    run = train_config(config, data, n_epochs=3, batch_size=16)
    torch.manual_seed(1234)  # the global generator's state must not matter: the run seeds itself
    torch.rand(10)
    again = train_config(config, data, n_epochs=3, batch_size=16)
    assert len(run.train_losses) == len(run.val_losses) == len(run.val_accuracies) == 3
    assert_same_run(run, again)
    x_val, y_val = data.inputs("val")
    assert run.final_val_accuracy == accuracy(run.model, x_val, y_val)
    assert run.final_val_accuracy > 0.8, "the fake task is easy: training must have worked"
    norm = torch.cat([p.detach().flatten() for p in run.model.parameters()]).norm().item()
    assert run.weight_norm == pytest.approx(norm) and not run.diverged


def test_recipe_float64_and_seed_42_right_before_the_model(data):
    """With lr = 0 nothing moves: the model must be exactly MyMLP() built in float64 right after manual_seed(42)."""
    run = train_config(SGDConfig(lr=0.0), data, n_epochs=1, batch_size=16)
    torch.manual_seed(42)
    expected = MyMLP().double()  # float32 draws from the same generator, then cast: not what the recipe builds
    with catcar_sweep.default_dtype(torch.float64):
        torch.manual_seed(42)
        reference = MyMLP()
    assert all(p.dtype == torch.float64 for p in run.model.parameters())
    assert max_parameter_difference(run.model, reference) == 0.0
    assert max_parameter_difference(run.model, expected) > 0, "the check can tell float32 from float64 draws"
    assert torch.get_default_dtype() == torch.float32, "the default dtype is restored after the run"


def test_batches_come_in_one_fixed_mixed_order_every_epoch(data, monkeypatch):
    seen = []

    class RecordingLoader(catcar_sweep.BatchLoader):
        def __iter__(self):
            assert self.shuffle is False, "the recipe does not shuffle"
            batches = list(super().__iter__())
            seen.append(torch.cat([y for _, y in batches]))
            return iter(batches)

    monkeypatch.setattr(catcar_sweep, "BatchLoader", RecordingLoader)
    train_config(SGDConfig(lr=0.05), data, n_epochs=2, batch_size=16)
    train_config(SGDConfig(lr=0.01, momentum=0.9), data, n_epochs=1, batch_size=16)
    expected = data.train.labels[fixed_order(len(data.train), 42)]
    assert len(seen) == 3 and all(torch.equal(labels, expected) for labels in seen)
    first_half = expected[:48].float().mean().item()
    assert 0.25 < first_half < 0.75, "the class-by-class data must come mixed"


def test_fixed_order_is_a_seeded_permutation():
    order = fixed_order(100, 42)
    assert sorted(order.tolist()) == list(range(100)) and not torch.equal(order, torch.arange(100))
    assert torch.equal(order, fixed_order(100, 42)) and not torch.equal(order, fixed_order(100, 43))


def test_required_runs_use_torch_optim_sgd_with_the_config(data, monkeypatch):
    built = []

    class RecordingSGD(torch.optim.SGD):
        def __init__(self, params, **settings):
            built.append(settings)
            super().__init__(params, **settings)

    monkeypatch.setattr(torch.optim, "SGD", RecordingSGD)
    train_config(SGDConfig(lr=0.03, momentum=0.5, weight_decay=0.01), data, n_epochs=1, batch_size=16)
    assert built == [dict(lr=0.03, momentum=0.5, weight_decay=0.01)]
    train_config(SGDConfig(lr=0.03), data, n_epochs=1, batch_size=16, trainer="manual")
    assert len(built) == 1, "the manual trainer builds no optimiser"


@pytest.mark.parametrize("config", [SGDConfig(0.05, 0.9, 0.01), SGDConfig(0.05, 0.9, augment=True, cosine=True),
                                    SGDConfig(0.02, cosine=True)], ids=lambda c: c.label)
def test_train_and_train_manual_update_give_the_same_run(data, config):
    reference = train_config(config, data, n_epochs=3, batch_size=16)
    manual = train_config(config, data, n_epochs=3, batch_size=16, trainer="manual")
    assert reference.trainer == "torch" and manual.trainer == "manual"
    assert_same_run(reference, manual)


def test_extension_switches_change_the_run(data):
    plain = train_config(SGDConfig(0.05), data, n_epochs=2, batch_size=16)
    for config in (SGDConfig(0.05, augment=True), SGDConfig(0.05, cosine=True)):
        assert train_config(config, data, n_epochs=2, batch_size=16).train_losses != plain.train_losses


def test_the_sweep_trains_exactly_the_grid_in_order_and_reuses_finished_runs(data):
    configs = grid([0.01, 0.05], [0.0, 0.9], [0.0, 0.01])
    assert [(c.lr, c.momentum, c.weight_decay) for c in configs] == [
        (lr, m, wd) for lr in (0.01, 0.05) for m in (0.0, 0.9) for wd in (0.0, 0.01)]
    assert all(c.follows_recipe for c in configs)
    runs = run_sweep(configs[:2], data, n_epochs=1, batch_size=16)
    assert [run.config for run in runs] == configs[:2]
    again = run_sweep(configs[:3], data, n_epochs=1, batch_size=16, trained=runs)
    assert again[0] is runs[0] and again[1] is runs[1] and again[2].config == configs[2]
    longer = run_sweep(configs[:1], data, n_epochs=2, batch_size=16, trained=runs)
    assert longer[0] is not runs[0] and len(longer[0].train_losses) == 2, "another epoch count: trained anew"


def test_bad_trainer_is_refused(data):
    with pytest.raises(ValueError, match="trainer must be one of"):
        train_config(SGDConfig(0.05), data, n_epochs=1, trainer="adam")


def test_divergence_is_recorded_and_skipped_by_selection(data):
    runs = run_sweep([SGDConfig(lr=1e300, momentum=0.9), SGDConfig(lr=0.05)], data, n_epochs=2, batch_size=16)
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


class ConstantClassifier(nn.Module):
    """Predicts ``label`` for every image and counts the images it is shown."""

    def __init__(self, label):
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.0, 0.0]))
        self.label, self.images_seen = label, 0

    def forward(self, x):
        self.images_seen += len(x)
        return torch.nn.functional.one_hot(torch.full((len(x),), self.label), 2).float() + self.bias


def test_select_and_test_shows_the_test_set_to_the_selected_model_only_once():
    runs = [SweepRun(SGDConfig(lr), val_accuracies=[accuracy], model=ConstantClassifier(label))
            for lr, accuracy, label in ((0.01, 0.7, 0), (0.02, 0.9, 1), (0.03, 0.8, 0))]
    test_images, test_labels = torch.zeros(10, 4), torch.tensor([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    selected = select_and_test(runs, test_images, test_labels)
    assert selected.run is runs[1]
    assert [run.model.images_seen for run in runs] == [0, 10, 0]
    assert selected.predictions.tolist() == [1] * 10 and selected.accuracy == pytest.approx(0.3)  # 3 cars of 10


def test_max_parameter_difference():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.load_state_dict(a.state_dict())
    assert max_parameter_difference(a, b) == 0.0
    with torch.no_grad():
        b.bias[1] += 0.25
    assert max_parameter_difference(a, b) == pytest.approx(0.25)


def test_labels_name_the_settings_and_the_extension():
    assert SGDConfig(0.01, 0.9).label == "lr=0.01, m=0.9, wd=0"
    assert SGDConfig(0.01, augment=True, cosine=True).label == "lr=0.01, m=0, wd=0 + augmentation + cosine lr"
    assert SGDConfig(0.01, cosine=True).label == "lr=0.01, m=0, wd=0 + cosine lr"
    assert SGDConfig(0.01).follows_recipe and not SGDConfig(0.01, augment=True).follows_recipe


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
    def run(lr, m, wd, accuracy, norm, loss):
        return SweepRun(SGDConfig(lr, m, wd), train_losses=[0.5, loss], val_losses=[0.6, 0.4],
                        val_accuracies=[0.8, accuracy], weight_norm=norm)
    runs = [run(0.01, 0.0, 0.0, 0.90, 20.0, 0.3), run(0.01, 0.0, 0.005, 0.91, 15.0, 0.31),
            run(0.01, 0.9, 0.0, 0.92, 22.0, 0.1), run(0.01, 0.9, 0.005, 0.93, 16.0, 0.12)]
    lines = observations(runs).splitlines()
    assert lines == [
        "* momentum, lr=0.01, wd=0: final training loss 0.3000 → 0.1000, validation accuracy 90.00% → 92.00% with μ = 0.9",
        "* momentum, lr=0.01, wd=0.005: final training loss 0.3100 → 0.1200, validation accuracy 91.00% → 93.00% "
        "with μ = 0.9",
        "* weight decay, lr=0.01, m=0: ‖θ‖ 20.00 → 15.00, validation accuracy 90.00% → 91.00%",
        "* weight decay, lr=0.01, m=0.9: ‖θ‖ 22.00 → 16.00, validation accuracy 92.00% → 93.00%"]
    runs[2] = SweepRun(SGDConfig(0.01, 0.9, 0.0), train_losses=[0.5], diverged=True, weight_norm=math.inf)
    assert observations(runs).splitlines()[0] == ("* momentum, lr=0.01, wd=0: final training loss 0.3000 → diverged, "
                                                  "validation accuracy 90.00% → diverged with μ = 0.9")
