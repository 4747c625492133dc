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
