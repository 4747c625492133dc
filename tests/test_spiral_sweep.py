"""helpers.experiments.spiral_sweep: printed numbers that cannot vary between machines."""
import math

import torch

from helpers.experiments import spiral_sweep
from helpers.experiments.spiral_sweep import (DISPLAY_FLOOR, HIDDEN, format_y, observations, radius_factor,
                                              results_table, run_grid, stability_evidence)
from helpers.runtime import edition
from helpers.spiral import spiral_grad


def test_values_below_the_display_floor_print_as_a_bound():
    assert format_y(1.23e-175) == format_y(5.64e-182) == f"< {DISPLAY_FLOOR:.0e}"
    assert format_y(0.0) == f"< {DISPLAY_FLOOR:.0e}"
    assert format_y(3.2e-5) == "3.2e-05" and format_y(0.04567, 2) == "0.046"


def test_table_and_observations_hide_round_off_digits_of_converged_runs():
    runs = run_grid(seeds=(0,), learning_rates=(0.1, 1e-3), n_steps=1000)
    fast = next(run for run in runs if run.lr == 0.1)
    assert float(fast.result.losses[-1]) < DISPLAY_FLOOR  # λ = 0.1 converges far below the floor
    assert "< 1e-20" in results_table(runs).splitlines()[2]
    assert "final y < 1e-20" in observations(runs)
    assert fast.outcome == "y < 1e-20"
    slow = next(run for run in runs if run.lr == 1e-3)
    assert slow.outcome == f"y = {float(slow.result.losses[-1]):.2g}"  # above the floor: two digits


def test_a_diverged_run_counts_its_steps_alike_in_table_title_reason_and_observation():
    run, = run_grid(seeds=(0,), learning_rates=(1.0,), n_steps=10)  # λ = 1 leaves the box at once
    kept = len(run.result.trajectory) - 1  # iterates stored after x0: the steps that did not diverge
    assert run.result.diverged and kept == 1
    row = results_table([run]).splitlines()[2].split()
    assert row[4] == "2"  # seed, λ, "(x1," and "x2)", then steps: the kept step and the one that diverged
    assert run.outcome == "diverged at step 2" and run.result.reason.endswith("at step 2")
    assert "at step 2;" in observations([run])


def test_the_radius_factor_is_what_one_real_step_does_to_the_distance():
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(200, 2, generator=generator, dtype=torch.float64) * 2 - 1) * 5
    r = x.norm(dim=-1)
    u = 6 * torch.atan2(x[:, 1], x[:, 0]) + 2 * r
    for lr in (1.0, 0.1, 1e-3):
        stepped = x - lr * spiral_grad(x)
        assert torch.allclose(stepped.norm(dim=-1) / r, radius_factor(lr, u, r), rtol=1e-12)


def test_lambda_one_never_shrinks_the_distance_near_the_origin_and_lambda_a_tenth_always_does():
    u = torch.linspace(0, 2 * math.pi, 3601, dtype=torch.float64)
    assert float(radius_factor(1.0, u).min()) >= 1 - 1e-12  # |1 - 2s| >= 1 for every s in [1, 2]
    assert float(radius_factor(0.1, u).max()) < 0.93
    evidence = stability_evidence()
    assert "λ = 1 from (0.01, 0.02)" in evidence and "diverged at step 6" in evidence
    assert "Hessian eigenvalues at (0.007, 0.007): -67.9, 4.0" in evidence  # not a bowl: one is negative


def test_the_student_edition_gets_a_prompt_instead_of_the_observations(monkeypatch):
    runs = run_grid(seeds=(0,), learning_rates=(1.0,), n_steps=10)
    assert "diverged in 1 of 1 runs" in observations(runs)
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)
    assert observations(runs) == HIDDEN and "answer cell" in HIDDEN and "diverged" not in HIDDEN


def test_each_student_runs_from_their_own_starts_and_the_instructor_edition_from_the_default_ones():
    from helpers.runtime.variant import as_student
    from helpers.spiral import random_start
    assert spiral_sweep.notebook_seeds() == spiral_sweep.DEFAULT_SEEDS == spiral_sweep.SEEDS
    with as_student("alice"):
        alice = spiral_sweep.notebook_seeds()
        assert spiral_sweep.notebook_seeds() == alice  # the same in every call (and process: SHA-256 seeds)
    with as_student("bob"):
        bob = spiral_sweep.notebook_seeds()
    assert len(set(alice)) == len(set(bob)) == 3 and alice != bob != spiral_sweep.DEFAULT_SEEDS
    starts = {tuple(random_start(seed).tolist()) for seed in alice + bob}
    assert len(starts) == 6
