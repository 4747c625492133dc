"""Each copy of the course runs its own code: two copies in one environment, a kernel opened in each copy's
notebooks/ folder imports that copy's helpers (through notebooks/helpers, a link to ../helpers) and would write
that copy's results and caches; a kernel opened anywhere else finds no helpers at all (the project is not
installed into the environment, so no one's checkout is visible to others)."""
from __future__ import annotations

import shutil

import pytest
from jupyter_client.manager import start_new_kernel

from helpers.data.paths import PROJECT_ROOT

pytestmark = pytest.mark.end_to_end

PROBE = """
import helpers
from helpers.data.paths import PROJECT_ROOT, data_dir
from helpers.data.results import results_dir
print(helpers.WHOSE, PROJECT_ROOT, results_dir(), data_dir())
"""


def course_copy(folder, whose: str):
    """The parts of the project a kernel sees, copied as a clone would have them, marked as ``whose``."""
    shutil.copytree(PROJECT_ROOT / "helpers", folder / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    with open(folder / "helpers" / "__init__.py", "a") as init:
        init.write(f"\nWHOSE = {whose!r}\n")
    shutil.copytree(PROJECT_ROOT / "notebooks", folder / "notebooks", symlinks=True,
                    ignore=shutil.ignore_patterns("*.ipynb"))
    return folder


def run_in_kernel(cwd, code: str) -> str:
    """What ``code`` prints (or the error it raises) in a kernel of this environment started in ``cwd``."""
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(cwd))
    printed = []
    try:
        reply = client.execute_interactive(code, timeout=60, output_hook=lambda message: printed.append(
            message["content"].get("text") or message["content"].get("ename", "")))
        if reply["content"]["status"] == "error":
            printed.append(reply["content"]["ename"])
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(printed)


def test_two_copies_in_one_environment_each_import_their_own_helpers(tmp_path, monkeypatch):
    for setting in ("BACKPROP_LAB_RESULTS", "BACKPROP_LAB_DATA"):  # the defaults: inside each copy
        monkeypatch.delenv(setting, raising=False)
    assert (PROJECT_ROOT / "notebooks" / "helpers").resolve() == PROJECT_ROOT / "helpers"  # the link as committed
    first, second = (course_copy(tmp_path / name, name) for name in ("first", "second"))
    for copy in (first, second):
        whose, root, results, data = run_in_kernel(copy / "notebooks", PROBE).split()
        assert whose == copy.name and root == str(copy)  # its own helpers
        assert (results, data) == (str(copy / "results"), str(copy / "data"))  # and its own folders to write in
    assert "ModuleNotFoundError" in run_in_kernel(tmp_path, "import helpers")  # nothing installed to fall back on
