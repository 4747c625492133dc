"""Notebook 01's check module (helpers.checks.nb01_spiral), exercises 1.1-1.4: the instructor's code passes every
check, each planted bug (tests/exercise_bugs_mlp.py) fails exactly its own exercise with the expected diagnosis, a
stub reports "not done yet", the references (the stand-ins) return what the solutions return (the plot references
draw what check 1.4 accepts), further mistakes of 1.3-1.4 are named, and each exercise is posed, then checked, in
the notebook."""
import json

import pytest
import torch

from helpers import spiral
from helpers.checks import nb01_spiral as checks
from helpers.checks.exercises import run_checks
from helpers.checks.nb01_spiral import EXERCISES, gradient_descent_reference, spiral_grad_reference
from helpers.data.paths import PROJECT_ROOT
from helpers.experiments import spiral_sweep
from tests.exercise_bugs_mlp import PLANTED_BUGS
from tests.sandbox_workspaces import workspace_with

IDS = [exercise.id for exercise in EXERCISES]


def test_the_references_return_what_the_solutions_return():
    points = torch.cat([torch.randn(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3,
                        torch.tensor([[0.0, 2.0], [0.0, 0.0]], dtype=torch.float64)])
    torch.testing.assert_close(spiral_grad_reference(points), spiral.spiral_grad(points), rtol=1e-12, atol=1e-12)
    for lr in (1e-2, 1.0):  # converging and diverging: the same result, bit for bit
        ours = spiral.gradient_descent(spiral.random_start(3), lr, 200)
        theirs = gradient_descent_reference(spiral.random_start(3), lr, 200)
        assert torch.equal(ours.trajectory, theirs.trajectory) and torch.equal(ours.gradients, theirs.gradients)
        assert ours.diverged == theirs.diverged and ours.reason == theirs.reason


def test_the_stand_ins_name_the_exercise_functions_and_the_diagnoses_are_the_checks_own():
    for exercise in EXERCISES:
        module = exercise.files[0].removesuffix(".py").replace("/", ".")
        assert list(exercise.stand_ins) == [f"{module}:{name}" for name in exercise.functions]
        assert len(exercise.diagnoses) == len(set(exercise.diagnoses)) >= 4
        assert any(PLANTED_BUGS[exercise.id][3] in diagnosis for diagnosis in exercise.diagnoses), exercise.id


def test_the_sweep_reference_is_the_solution_run_for_run():
    ours = spiral_sweep.sweep((5, 6), (1e-2, 1.0), 30)
    theirs = checks.sweep_reference((5, 6), (1e-2, 1.0), 30)
    assert [(seed, lr) for seed, lr, _ in ours] == [(seed, lr) for seed, lr, _ in theirs] == [
        (5, 1e-2), (5, 1.0), (6, 1e-2), (6, 1.0)]
    assert all(torch.equal(a.trajectory, b.trajectory) for (_, _, a), (_, _, b) in zip(ours, theirs))


def _drawn(plot_landscape, plot_trajectory, result):
    """What the sandbox side of check 1.4 reads back from axes the two functions drew on (in this process)."""
    import matplotlib.pyplot as plt

    from helpers.checks import nb01_spiral_sandbox as sandbox
    figure, ax = plt.subplots()
    try:
        plot_landscape(ax, spiral_sweep.landscape(41))
        plot_trajectory(ax, result)
        return {"trajectory": result.trajectory, "arrows": sandbox._arrows(ax), **sandbox._contours(ax)}
    finally:
        plt.close(figure)


def test_the_plot_references_and_the_solution_both_pass_check_1_4_quiver_and_annotate_alike():
    result = spiral.gradient_descent(spiral.random_start(4), 1e-2, 80)
    for landscape, trajectory in ((spiral_sweep.plot_landscape, spiral_sweep.plot_trajectory),
                                  (checks.plot_landscape_reference, checks.plot_trajectory_reference)):
        drawn = _drawn(landscape, trajectory, result)
        outcomes = [checks._contour_outcome(drawn), *checks._arrow_outcomes(drawn)]
        assert len(outcomes) == 3 and all(o.passed for o in outcomes), outcomes


def test_arrows_of_the_gradient_itself_are_diagnosed_as_uphill():
    result = spiral.gradient_descent(spiral.random_start(4), 1e-2, 80)

    def gradient_arrows(ax, run):  # the mistake: +∇y drawn at each iterate
        tails = run.trajectory[:-1]
        ax.quiver(tails[:, 0], tails[:, 1], run.gradients[:, 0], run.gradients[:, 1])
    drawn = _drawn(spiral_sweep.plot_landscape, gradient_arrows, result)
    assert checks._arrow_outcomes(drawn)[-1].diagnosis == checks.UPHILL


EDITED_SWEEPS = {  # a line of the instructor's spiral_sweep.py, the student's version of it, the exercise, the diagnosis
    "contour lines instead of filled contours": (
        "    filled = ax.contourf(x1, x2, np.maximum(y, 1e-2), levels=levels, norm=LogNorm(), cmap=\"viridis\")",
        "    filled = ax.contour(x1, x2, np.maximum(y, 1e-2), levels=levels, norm=LogNorm())", "1.4", "ONLY_LINES"),
    "a new start for every run": (
        "            runs.append((seed, lr, gradient_descent(start, lr, n_steps)))",
        "            runs.append((seed, lr, gradient_descent(random_start(seed + len(runs)), lr, n_steps)))", "1.3",
        "NEW_START_PER_RUN"),
}


@pytest.mark.parametrize("mistake", sorted(EDITED_SWEEPS))
def test_a_mistake_in_the_sweep_or_its_plot_is_named(mistake):
    line, edited, exercise_id, diagnosis = EDITED_SWEEPS[mistake]
    source = (PROJECT_ROOT / "helpers/experiments/spiral_sweep.py").read_text()
    assert source.count(line) == 1
    result = run_checks(exercise_id, workspace_with({"helpers/experiments/spiral_sweep.py": source.replace(line, edited)}))
    assert not result.passed and getattr(checks, diagnosis) in [o.diagnosis for o in result.outcomes], result.lines()


def test_each_exercise_is_posed_then_checked_in_its_notebook_in_order():
    cells = json.loads((PROJECT_ROOT / "notebooks" / "01_spiral_gradient_descent.ipynb").read_text())["cells"]
    tags = [tag for cell in cells for tag in cell.get("metadata", {}).get("tags", [])]
    assert [tag.split(":", 1)[1] for tag in tags if tag.startswith("exercise:")] == IDS
    for exercise_id in IDS:
        check = [cell for cell in cells if f"check:{exercise_id}" in cell.get("metadata", {}).get("tags", [])]
        assert len(check) == 1 and "".join(check[0]["source"]) == (
            f'from helpers.checks.exercises import check_exercise\ncheck_exercise("{exercise_id}")')
        assert tags.index(f"exercise:{exercise_id}") < tags.index(f"check:{exercise_id}")
