"""A folder the helpers or the tools must write in and cannot: one error naming the folder and the setting that
fixes it (helpers.runtime.writable), wherever they write: results/, the report hooks, data/cache, tools.editions.

Read-only folders are made two ways: a file where the folder (or its parent) should be, which stops root too
(CI runs as root, where chmod stops nothing), and chmod, which is skipped as root.
"""
import errno
import os
import subprocess
import sys

import pytest

import tools.editions
import tools.workspace
from helpers.data import paths, results
from helpers.data.paths import PROJECT_ROOT
from helpers.runtime import report_hooks
from helpers.runtime.writable import NotWritableError, writing_in

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def blocked(tmp_path, how):
    """A folder path that cannot be written in, made ``how``."""
    if how == "a file in its place":
        (tmp_path / "results").write_text("not a folder")
        return tmp_path / "results"
    if how == "under a file":
        (tmp_path / "file").write_text("not a folder")
        return tmp_path / "file" / "results"
    if AS_ROOT:
        pytest.skip("chmod does not stop root from writing; the other two ways cover this as root")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "results"


HOWS = ["a file in its place", "under a file", "a read-only parent"]


@pytest.fixture(autouse=True)
def restore_modes(tmp_path):
    yield
    for path in tmp_path.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)


def test_a_not_writable_error_names_the_folder_the_file_and_the_setting(tmp_path):
    with pytest.raises(NotWritableError) as error:
        with writing_in(tmp_path / "out", "SOME_SETTING", "the answers"):
            raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out" / "a.txt"))
    message = str(error.value)
    assert message == (f"cannot write the answers in {tmp_path / 'out'}: Permission denied ({tmp_path / 'out' / 'a.txt'}). "
                       f"Make that folder writable, or set $SOME_SETTING to a writable folder")
    assert isinstance(error.value, PermissionError) and error.value.errno == errno.EACCES


def test_other_errors_pass_through_unchanged(tmp_path):
    full = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError) as error:
        with writing_in(tmp_path, "SOME_SETTING", "x"):
            raise full
    assert error.value is full


@pytest.mark.parametrize("how", HOWS)
def test_a_deliverable_in_a_results_folder_that_cannot_be_written_names_the_setting(tmp_path, monkeypatch, how):
    folder = blocked(tmp_path, how)
    monkeypatch.setenv(results.RESULTS_ENV, str(folder))
    with pytest.raises(NotWritableError, match=rf"cannot write q2_ytest\.txt in {folder}: .*"
                                               rf"set \$BACKPROP_LAB_RESULTS to a writable folder"):
        results.save_result("q2_ytest.txt", "1.0\n")
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path / "elsewhere"))  # the fix the message names works
    assert results.save_result("q2_ytest.txt", "1.0\n").status == "written"


@pytest.mark.parametrize("how", HOWS)
def test_the_report_hooks_name_the_report_setting_and_the_option(tmp_path, monkeypatch, how):
    folder = blocked(tmp_path, how)
    monkeypatch.setenv(report_hooks.REPORT_ENV, str(folder))
    for write in (lambda: report_hooks.record_metrics("01_spiral", accuracy=0.9),
                  lambda: report_hooks.write_deliverable("q2_ytest.txt", "1.0\n")):
        with pytest.raises(NotWritableError, match=rf"in {folder}: .*--output DIR \(it sets \$BACKPROP_LAB_REPORT_DIR\)"):
            write()


@pytest.mark.parametrize("how", HOWS)
def test_a_cache_folder_that_cannot_be_made_names_the_data_setting(tmp_path, monkeypatch, how):
    folder = blocked(tmp_path, how)
    monkeypatch.setenv(paths.DATA_ENV, str(folder))
    with pytest.raises(NotWritableError, match=rf"cannot write the cache folder in {folder}: .*\$BACKPROP_LAB_DATA"):
        paths.cache_dir()


@pytest.mark.parametrize("how", HOWS[1:])  # a file in its place: refused as not a workspace (tests of tools.workspace)
def test_editions_with_a_default_folder_that_cannot_be_written_says_so_and_exits_1(tmp_path, monkeypatch, capsys, how):
    folder = blocked(tmp_path, how)
    monkeypatch.setattr(tools.workspace, "DEFAULT_FOLDER", folder)
    assert tools.editions.cli([]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"python -m tools.editions: cannot write the student workspace in {folder}: ")
    assert "give a writable folder: python -m tools.editions FOLDER" in err and len(err.strip().splitlines()) == 1


def test_editions_from_the_command_line_prints_no_traceback(tmp_path):
    folder = blocked(tmp_path, "under a file")
    run = subprocess.run([sys.executable, "-m", "tools.editions", str(folder)], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr and f"in {folder}: " in run.stderr


def test_the_start_hint_quotes_a_path_with_spaces(tmp_path):
    folder = tmp_path / "my course" / "student's work"
    hint = tools.workspace.summary(folder, tools.workspace.WorkspaceUpdate()).splitlines()[-1]
    assert hint.startswith("start with: cd ") and hint.endswith(" lab")
    command = hint.removeprefix("start with: ")
    words = subprocess.run(["bash", "-c", f"printf '%s\\n' {command.split(' && ')[0].removeprefix('cd ')}"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert words == [str(folder)], "the shell must read the folder as one word"
    folder.mkdir(parents=True)
    where = subprocess.run(["bash", "-c", command.split(" && ")[0] + " && pwd"], capture_output=True, text=True)
    assert where.returncode == 0 and where.stdout.strip() == str(folder)


def test_a_hub_writes_the_workspace_without_the_start_line(tmp_path):
    """The hub (and the Kubernetes start hook) start the server themselves: their log gets no "start with" line."""
    folder = tmp_path / "workspace"
    assert not tools.workspace.parse_arguments([tools.workspace.NO_START_LINE, str(folder)]).start_line
    quiet = tools.workspace.summary(folder, tools.workspace.WorkspaceUpdate(), start_line=False)
    assert quiet.startswith(f"student workspace {folder}: ") and "start with" not in quiet
    for recipe in ("tools/hub/jupyterhub_config.py", "deploy/z2jh/start-workspace.sh"):
        assert f"tools.editions {tools.workspace.NO_START_LINE}" in (PROJECT_ROOT / recipe).read_text().replace(
            '", "', " "), recipe
