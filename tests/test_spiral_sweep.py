"""helpers.experiments.spiral_sweep: printed numbers that cannot vary between machines."""
from helpers.experiments.spiral_sweep import DISPLAY_FLOOR, format_y, observations, results_table, run_grid


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
    assert "at step 2:" in observations([run])
