"""Run the graded cells of submissions the way autograding does, many submissions in one process.

``python tests/grading_probe.py CASES.json OUT.json``: CASES maps a case name to a submission folder
(notebooks with nbgrader metadata beside a ``helpers/`` package). For each case, with that folder's
helpers imported afresh (torch stays loaded: a case costs a fraction of a second, not a kernel start),
the cells autograding keeps (``tools.grading.SkipDemonstrations``) run in order; OUT maps case -> {"exercises": id -> {passed, not_done, text},
"errors": the cells that raised}.
"""
import json
import os
import sys
from pathlib import Path

import nbformat

from tools.grading import SKIPPED, SkipDemonstrations


def _forget_helpers() -> None:
    for name in [name for name in sys.modules if name == "helpers" or name.startswith("helpers.")]:
        del sys.modules[name]


def graded_cells(notebook: nbformat.NotebookNode) -> list[str]:
    """The sources autograding runs (what :class:`tools.grading.SkipDemonstrations` leaves in)."""
    kept, _ = SkipDemonstrations().preprocess(notebook, {})
    return [cell.source for cell in kept.cells if cell.cell_type == "code" and cell.source != SKIPPED]


def probe(folder: Path) -> dict[str, dict]:
    """Each exercise's check result for the submission in ``folder``."""
    _forget_helpers()
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        from helpers.checks import exercises
        assert Path(exercises.__file__).resolve().is_relative_to(folder.resolve()), exercises.__file__
        results = {}

        def record(exercise_id, *arguments):
            results[exercise_id] = exercises.run_checks(exercise_id, *arguments)

        exercises.check_exercise = record  # the check cells' `from ... import check_exercise` picks this up
        errors = []
        for path in sorted(folder.glob("*.ipynb")):
            namespace = {"__name__": "__main__"}
            for source in graded_cells(nbformat.read(path, as_version=4)):
                try:  # like nbgrader (allow_errors): a failing cell does not stop the notebook
                    exec(compile(source, str(path), "exec"), namespace)
                except Exception as error:
                    errors.append(f"{path.name}: {type(error).__name__}: {error}")
        found = {exercise_id: {"passed": result.passed, "not_done": result.not_done is not None,
                               "text": "\n".join(result.lines())} for exercise_id, result in results.items()}
        return {"exercises": found, "errors": errors}
    finally:
        sys.path.remove(str(folder))


if __name__ == "__main__":
    os.environ["BACKPROP_LAB_HEADLESS"] = "1"
    import matplotlib
    matplotlib.use("Agg")
    cases = json.loads(Path(sys.argv[1]).read_text())
    out = {name: probe(Path(folder)) for name, folder in cases.items()}
    Path(sys.argv[2]).write_text(json.dumps(out, indent=1))
