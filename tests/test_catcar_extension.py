"""helpers.experiments.catcar_extension: the ablation's runs differ from the baseline in exactly one switch (or
both), and its table and observations report the differences the runs show."""
import dataclasses

import pytest

from helpers.experiments.catcar_extension import ablation_configs, ablation_observations, ablation_table
from helpers.experiments.catcar_sweep import SGDConfig, SweepRun

BASE = SGDConfig(lr=0.05, momentum=0.9, weight_decay=0.01)


def changed_fields(a, b):
    return {f.name for f in dataclasses.fields(SGDConfig) if getattr(a, f.name) != getattr(b, f.name)}


def test_each_variant_differs_from_the_baseline_in_its_switches_only():
    baseline, augmented, cosine, both = ablation_configs(BASE)
    assert baseline == BASE
    assert changed_fields(baseline, augmented) == {"augment"} and augmented.augment
    assert changed_fields(baseline, cosine) == {"cosine"} and cosine.cosine
    assert changed_fields(baseline, both) == {"augment", "cosine"}
    assert changed_fields(augmented, both) == {"cosine"} and changed_fields(cosine, both) == {"augment"}


@pytest.mark.parametrize("base", [SGDConfig(0.05, augment=True), SGDConfig(0.05, cosine=True), "lr=0.05"])
def test_the_ablation_starts_from_a_recipe_configuration(base):
    with pytest.raises(ValueError, match="recipe configuration"):
        ablation_configs(base)


def ablation_runs(accuracies, train_losses=(0.10, 0.25, 0.08, 0.20), val_losses=(0.30, 0.24, 0.26, 0.21)):
    return [SweepRun(config, train_losses=[0.6, train], val_losses=[0.7, val], val_accuracies=[0.5, accuracy])
            for config, accuracy, train, val in zip(ablation_configs(BASE), accuracies, train_losses, val_losses)]


def test_table_gives_the_change_against_the_baseline_in_points():
    lines = ablation_table(ablation_runs([0.90, 0.905, 0.92, 0.93])).splitlines()
    assert len(lines) == 5 and lines[0].split()[0] == "variant"
    assert lines[1].split()[-1] == "+0.00pp" and lines[2].split()[-1] == "+0.50pp"
    assert lines[4].startswith("+ augmentation + cosine lr") and lines[4].split()[-2:] == ["93.00%", "+3.00pp"]


def test_observations_weigh_each_change_against_sampling_noise():
    # p = 0.9 on 2,000 images: one standard error of a difference is sqrt(2 · 0.9 · 0.1 / 2000) = 0.95 points
    lines = ablation_observations(ablation_runs([0.90, 0.905, 0.92, 0.93]), n_val=2000).splitlines()
    assert lines[0] == ("* baseline recipe: validation accuracy 90.00%; validation loss 0.3000 against training "
                        "loss 0.1000 (gap +0.2000)")
    assert "(+0.50 percentage points, within the ±0.95 points" in lines[1]
    assert "(+2.00 percentage points, beyond the ±0.95 points" in lines[2]
    assert "validation loss 0.2100 against training loss 0.2000 (gap +0.0100)" in lines[3]


def test_a_diverged_variant_is_named_and_the_order_is_checked():
    runs = ablation_runs([0.90, 0.905, 0.92, 0.93])
    runs[2] = SweepRun(runs[2].config, diverged=True)
    assert "* + cosine lr: diverged" in ablation_observations(runs, n_val=2000)
    assert "diverged" in ablation_table(runs).splitlines()[3]
    with pytest.raises(ValueError, match="four runs of ablation_configs"):
        ablation_table(runs[::-1])
