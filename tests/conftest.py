"""Shared test setup: a non-interactive matplotlib backend, torch on one thread per test process, float64 helpers."""
import matplotlib
import torch

matplotlib.use("Agg")
# `make test` runs two test processes on two cores: torch in each on one thread. Two threads per process spin-wait
# for a core the other process holds, several times slower on the small tensors the tests use.
torch.set_num_threads(1)


# Tests that run notebooks, nbgrader, a browser, a student workspace or the sandbox for every exercise: `make test`
# runs them, `make unit` (the quick loop) leaves them out.
END_TO_END = {"test_grading", "test_grading_exploits", "test_student_edition_runs", "test_student_workspace",
              "test_student", "test_leaks", "test_exercise_variants", "test_report_faults", "test_refresh",
              "test_browser_widgets", "test_notebooks_in_browser", "test_hub_class"}


# The longest test files, longest first: `make test` hands files to its two processes in collection order, so
# starting with these leaves the many short files to even out the end (else a long file started last runs alone).
LONGEST_FIRST = ("test_grading", "test_notebooks_in_browser", "test_hub_class", "test_grading_exploits",
                 "test_student_edition_runs",
                 "04_cifar_cat_vs_car", "test_student_workspace", "05_deepdream", "test_exercises",
                 "03_mynet_delta_rule", "test_nb00_graphs")


def pytest_collection_modifyitems(config, items):
    import pytest
    for item in items:
        stem = item.path.stem
        if stem in END_TO_END or stem.startswith("test_nb0") or item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.end_to_end)
    rank = {stem: index for index, stem in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: the rest keep their order
