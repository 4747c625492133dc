"""The student workspace: where it imports from, where its data comes from, and what a re-run keeps."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.data.paths import PROJECT_ROOT, shared_datasets_dir
from tools import workspace
from tools.workspace import MANIFEST, PARTIAL, ForeignFolderError, summary, update_workspace, upstream_name

LESSON = "def step(x):\n    ### BEGIN SOLUTION\n    return {}\n    ### END SOLUTION\n"


def write_project(root: Path, answer: str = "x - 1", notebook_text: str = "print(1)") -> Path:
    """A miniature project: one lesson module, one notebook, one committed data file, a cache folder."""
    (root / "helpers").mkdir(parents=True, exist_ok=True)
    (root / "helpers" / "__init__.py").write_text('"""tiny"""\n')
    (root / "helpers" / "lesson.py").write_text(LESSON.format(answer))
    (root / "notebooks").mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(notebook_text)])
    nbformat.write(notebook, root / "notebooks" / "00_tiny.ipynb")
    (root / "data" / "cache").mkdir(parents=True, exist_ok=True)
    (root / "data" / "small.pt").write_bytes(b"\x00data")
    (root.parent / "shared" / "datasets").mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "project")


def assert_self_contained(student: Path, project: Path) -> None:
    """No file of the workspace names the project's path, and no link leads into the project."""
    spellings = {str(project), str(project.resolve()), project.as_posix()}
    for path in student.rglob("*"):
        if path.is_symlink():
            target = path.resolve()
            assert target != project.resolve() and project.resolve() not in target.parents, (path, target)
        elif path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert not [s for s in spellings if s in text], f"{path} names the project's path"


def test_a_new_workspace_holds_notebooks_beside_the_stubbed_helpers_and_the_data(project, tmp_path):
    update = update_workspace(tmp_path / "student", project)
    student = tmp_path / "student"
    assert sorted(update.written) == ["00_tiny.ipynb", "START_HERE.md", "data/small.pt", "helpers/__init__.py",
                                      "helpers/lesson.py"]
    assert "x - 1" not in (student / "helpers" / "lesson.py").read_text()
    assert (student / "data" / "small.pt").read_bytes() == b"\x00data"
    cache = student / "data" / "cache"
    assert cache.is_dir() and not cache.is_symlink() and not any(cache.iterdir())  # the workspace's own
    assert (student / "data" / "shared-datasets").resolve() == (tmp_path / "shared" / "datasets").resolve()
    assert update.linked == ["data/shared-datasets"]
    assert_self_contained(student, project)
    assert sorted(json.loads((student / MANIFEST).read_text())["files"]) == sorted(update.written)
    again = update_workspace(student, project)
    assert sorted(again.unchanged) == sorted(update.written)
    assert not (again.written + again.updated + again.kept + again.linked)


def test_an_older_workspaces_link_into_the_projects_cache_becomes_its_own_folder(project, tmp_path):
    student = tmp_path / "student"
    update_workspace(student, project)
    (project / "data" / "cache" / "built.pt").write_bytes(b"instructor's")
    cache = student / "data" / "cache"
    cache.rmdir()
    cache.symlink_to(project / "data" / "cache", target_is_directory=True)  # what older editions made
    update = update_workspace(student, project)
    assert update.unlinked == ["data/cache"]
    assert cache.is_dir() and not cache.is_symlink() and not any(cache.iterdir())
    assert (project / "data" / "cache" / "built.pt").read_bytes() == b"instructor's"  # untouched
    assert_self_contained(student, project)


def test_a_rerun_updates_what_the_student_left_alone_and_keeps_what_they_changed(project, tmp_path):
    student = tmp_path / "student"
    update_workspace(student, project)
    mine = "def step(x):\n    return x - 1  # my answer\n"
    (student / "helpers" / "lesson.py").write_text(mine)
    write_project(project, answer="x - 2", notebook_text="print(2)")  # the instructor edits both files
    update = update_workspace(student, project)
    assert update.kept == ["helpers/lesson.py"] and update.updated == ["00_tiny.ipynb"]
    assert (student / "helpers" / "lesson.py").read_text() == mine
    assert "print(2)" in (student / "00_tiny.ipynb").read_text()
    assert update_workspace(student, project).kept == ["helpers/lesson.py"]  # still the student's next time


def test_a_file_dropped_from_the_edition_is_removed_only_if_the_student_left_it_alone(project, tmp_path):
    student = tmp_path / "student"
    (project / "helpers" / "extra.py").write_text("A = 1\n")
    (project / "helpers" / "notes.py").write_text("B = 1\n")
    update_workspace(student, project)
    (student / "helpers" / "notes.py").write_text("B = 1  # I wrote this\n")
    (project / "helpers" / "extra.py").unlink()
    (project / "helpers" / "notes.py").unlink()
    update = update_workspace(student, project)
    assert update.removed == ["helpers/extra.py"] and update.kept == ["helpers/notes.py"]
    assert not (student / "helpers" / "extra.py").exists() and (student / "helpers" / "notes.py").exists()


def test_a_file_the_student_created_where_the_edition_later_adds_one_is_kept_and_in_conflict(project, tmp_path):
    student = tmp_path / "student"
    update_workspace(student, project)
    (student / "helpers" / "later.py").write_text("MINE = True\n")
    (project / "helpers" / "later.py").write_text("THEIRS = True\n")
    assert update_workspace(student, project).conflicts == ["helpers/later.py"]
    assert (student / "helpers" / "later.py").read_text() == "MINE = True\n"
    assert (student / "helpers" / "later.upstream.py").read_text() == "THEIRS = True\n"


def four_files(project: Path, version: str) -> None:
    """Plain helpers (no solution blocks: the student's copy is the file itself), one per three-way case."""
    for name in "abcd":
        (project / "helpers" / f"{name}.py").write_text(f"{name.upper()} = {version!r}\n")


def leftovers(student: Path) -> list[Path]:
    return [p for p in student.rglob("*") if p.name.endswith(PARTIAL)]


def test_an_update_is_three_way_upstream_only_student_only_both_and_both_the_same(project, tmp_path):
    student = tmp_path / "student"
    four_files(project, "v1")
    update_workspace(student, project)
    (student / "helpers" / "b.py").write_text("B = 'mine'\n")     # b: the student only
    (student / "helpers" / "c.py").write_text("C = 'mine'\n")     # c: both, differently
    (student / "helpers" / "d.py").write_text("D = 'v2'\n")       # d: both, the same way
    notebook = nbformat.read(student / "00_tiny.ipynb", as_version=4)
    notebook.cells[0].source = "print('my notebook')"
    nbformat.write(notebook, student / "00_tiny.ipynb")             # the notebook: both, differently
    for name in "acd":
        (project / "helpers" / f"{name}.py").write_text(f"{name.upper()} = 'v2'\n")
    write_project(project, notebook_text="print(2)")
    update = update_workspace(student, project)
    assert "helpers/a.py" in update.updated and update.kept == ["helpers/b.py"]
    assert sorted(update.conflicts) == ["00_tiny.ipynb", "helpers/c.py"] and "helpers/d.py" in update.unchanged
    assert (student / "helpers" / "a.py").read_text() == "A = 'v2'\n"
    assert (student / "helpers" / "b.py").read_text() == "B = 'mine'\n"
    assert (student / "helpers" / "c.py").read_text() == "C = 'mine'\n"  # the student's, as it was
    assert (student / "helpers" / "c.upstream.py").read_text() == "C = 'v2'\n"  # the course's, beside it
    assert "my notebook" in (student / "00_tiny.ipynb").read_text()
    beside = nbformat.read(student / "00_tiny.upstream.ipynb", as_version=4)  # a notebook Jupyter opens
    assert beside.cells[0].source == "print(2)" and upstream_name("00_tiny.ipynb") == "00_tiny.upstream.ipynb"
    text = summary(student, update)
    assert "2 in conflict" in text and "helpers/c.py  <->  helpers/c.upstream.py" in text
    assert "merge" in text and "delete the .upstream file" in text
    (project / "helpers" / "d.py").write_text("D = 'v3'\n")  # d's new base is v2: a course change updates it
    assert "helpers/d.py" in update_workspace(student, project).updated
    assert not leftovers(student)


def conflicted(project, tmp_path):
    """A workspace whose helpers/c.py both the student ('mine') and the course (v1 -> v2) changed."""
    student = tmp_path / "student"
    four_files(project, "v1")
    update_workspace(student, project)
    (student / "helpers" / "c.py").write_text("C = 'mine'\n")
    (project / "helpers" / "c.py").write_text("C = 'v2'\n")
    return student


def test_a_conflict_lasts_until_the_student_deletes_the_upstream_file_and_loses_nothing(project, tmp_path):
    student = conflicted(project, tmp_path)
    assert update_workspace(student, project).conflicts == ["helpers/c.py"]
    assert update_workspace(student, project).conflicts == ["helpers/c.py"]  # unresolved: still listed
    (project / "helpers" / "c.py").write_text("C = 'v3'\n")
    update = update_workspace(student, project)
    assert update.conflicts == ["helpers/c.py"] and not update.kept
    assert (student / "helpers" / "c.upstream.py").read_text() == "C = 'v3'\n"  # refreshed
    assert (student / "helpers" / "c.py").read_text() == "C = 'mine'\n"
    (student / "helpers" / "c.py").write_text("C = 'mine and v3'\n")  # merged by hand...
    (student / "helpers" / "c.upstream.py").unlink()                     # ...and resolved
    update = update_workspace(student, project)
    assert update.kept == ["helpers/c.py"] and not update.conflicts
    assert not (student / "helpers" / "c.upstream.py").exists()
    (project / "helpers" / "c.py").write_text("C = 'v4'\n")  # merged from v3: a new course change conflicts
    assert update_workspace(student, project).conflicts == ["helpers/c.py"]
    assert (student / "helpers" / "c.upstream.py").read_text() == "C = 'v4'\n"
    (student / "helpers" / "c.py").write_text("C = 'v4'\n")  # took the course's version: nothing left to merge
    update = update_workspace(student, project)
    assert "helpers/c.py" in update.unchanged and update.removed == ["helpers/c.upstream.py"]
    assert not (student / "helpers" / "c.upstream.py").exists()


def test_an_upstream_file_the_student_edited_is_theirs_and_not_overwritten(project, tmp_path):
    student = conflicted(project, tmp_path)
    update_workspace(student, project)
    (student / "helpers" / "c.upstream.py").write_text("C = 'merging here'\n")
    (project / "helpers" / "c.py").write_text("C = 'v3'\n")
    update = update_workspace(student, project)
    assert update.conflicts == ["helpers/c.py"] and update.kept == ["helpers/c.upstream.py"]
    assert (student / "helpers" / "c.upstream.py").read_text() == "C = 'merging here'\n"


def test_a_write_that_fails_before_its_rename_leaves_the_old_file_whole_and_no_temporary(project, tmp_path,
                                                                                        monkeypatch):
    student = tmp_path / "student"
    four_files(project, "v1")
    update_workspace(student, project)
    four_files(project, "v2")
    real_replace = os.replace

    def dies_on_b(source, target):
        if Path(target).name == "b.py":
            assert Path(source).read_text() == "B = 'v2'\n"  # the new content, complete, in a temporary file
            raise OSError("killed mid-write")
        real_replace(source, target)
    monkeypatch.setattr(workspace.os, "replace", dies_on_b)
    with pytest.raises(OSError, match="killed mid-write"):
        update_workspace(student, project)
    assert (student / "helpers" / "b.py").read_text() == "B = 'v1'\n"  # whole: the old version
    assert not leftovers(student)
    monkeypatch.setattr(workspace.os, "replace", real_replace)
    update = update_workspace(student, project)
    assert not update.kept and not update.conflicts
    assert {"helpers/b.py", "helpers/c.py"} <= set(update.updated)
    assert all((student / "helpers" / f"{n}.py").read_text() == f"{n.upper()} = 'v2'\n" for n in "abcd")


KILLED_UPDATE = """import os, signal, sys
from pathlib import Path
from tools import workspace
real_replace, seen = os.replace, []
def replace(source, target):
    seen.append(Path(target).name)
    if seen.count(sys.argv[3]) == int(sys.argv[4]):
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target)
workspace.os.replace = replace
workspace.update_workspace(Path(sys.argv[1]), Path(sys.argv[2]))
"""


@pytest.mark.parametrize("killed_at", [("small.pt", 1), (MANIFEST, 2)])
def test_an_update_killed_mid_write_is_never_taken_for_the_students_change(project, tmp_path, killed_at):
    """A real SIGKILL: before the rename of a data file (after the helpers and the notebook were written), or
    before the final manifest (every file written, none recorded). The course then changes again: the next
    update takes every file to the new version, with nothing kept, no conflict, and no temporary file left."""
    student = tmp_path / "student"
    four_files(project, "v1")
    update_workspace(student, project)
    four_files(project, "v2")
    (project / "data" / "small.pt").write_bytes(b"\x00data v2")
    killed = subprocess.run([sys.executable, "-c", KILLED_UPDATE, str(student), str(project), *map(str, killed_at)],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert (student / "helpers" / "a.py").read_text() == "A = 'v2'\n"  # written before the kill
    assert (student / "data" / "small.pt").read_bytes() in (b"\x00data", b"\x00data v2")  # whole
    four_files(project, "v3")
    (project / "data" / "small.pt").write_bytes(b"\x00data v3")
    update = update_workspace(student, project)
    assert not update.kept and not update.conflicts, update
    assert all((student / "helpers" / f"{n}.py").read_text() == f"{n.upper()} = 'v3'\n" for n in "abcd")
    assert (student / "data" / "small.pt").read_bytes() == b"\x00data v3"
    assert not leftovers(student) and not list(student.rglob("*.upstream*"))


def test_a_foreign_folder_or_a_file_is_refused_and_left_alone(project, tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(ForeignFolderError, match="not a student workspace"):
        update_workspace(foreign, project)
    assert [p.name for p in foreign.iterdir()] == ["mine.txt"] and (foreign / "mine.txt").read_text() == "keep me"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ForeignFolderError, match="is a file"):
        update_workspace(tmp_path / "a_file", project)
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / MANIFEST).write_text("{")
    with pytest.raises(ForeignFolderError, match="is damaged"):
        update_workspace(tmp_path / "damaged", project)
    assert [p.name for p in (tmp_path / "damaged").iterdir()] == [MANIFEST]
    (tmp_path / "empty").mkdir()
    assert update_workspace(tmp_path / "empty", project).written


def test_the_command_refuses_the_project_itself_with_a_clear_message():
    result = subprocess.run([sys.executable, "-m", "tools.editions", str(PROJECT_ROOT / "notebooks")],
                            capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert result.returncode == 1 and "not a student workspace written by this command" in result.stderr
    assert not (PROJECT_ROOT / "notebooks" / MANIFEST).exists()


PROBE = """import helpers, torch
from helpers.data.paths import cache_dir
from helpers.data.rainfall import load_rainfall
from helpers.spiral import spiral_grad
print(helpers.__file__)
print(cache_dir().resolve())
print(tuple(load_rainfall()["x_train"].shape))
if CATCAR_ARCHIVE:  # built from the offline archive into the workspace's own cache
    from helpers.data.catcar import load_catcar
    print(len(load_catcar().test))
from helpers.runtime.exercises import student_code_only
try:
    with student_code_only():  # no labelled reference stands in: the stub's own message
        spiral_grad(torch.tensor([0.5, 0.5], dtype=torch.float64))
except NotImplementedError as error:
    print(error)
"""


def class_cache_of_cifar_tensors(folder: Path) -> Path:
    """A class's shared cache holding the project's CIFAR-10 tensor caches (links), but not the cat/car one."""
    folder.mkdir()
    for built in (PROJECT_ROOT / "data" / "cache").glob("cifar10_*_v*.pt*"):
        if not built.name.endswith(".lock"):
            (folder / built.name).symlink_to(built)
    return folder


def test_a_kernel_started_in_the_workspace_imports_the_students_helpers_and_loads_the_data(tmp_path, monkeypatch):
    """As JupyterLab runs a student notebook on a hub: a kernel whose working folder is the notebook's, reading the
    CIFAR-10 tensors from the class's shared cache and building the cat/car cache in the workspace. The workspace
    is self-contained: its caches are its own (the project's cache is never written), no file names the project."""
    monkeypatch.setenv("BACKPROP_LAB_SHARED_CACHE", str(class_cache_of_cifar_tensors(tmp_path / "class-cache")))
    student = tmp_path / "student"
    update_workspace(student, PROJECT_ROOT)
    assert_self_contained(student, PROJECT_ROOT)
    project_cache = PROJECT_ROOT / "data" / "cache"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in project_cache.iterdir()) if project_cache.is_dir() else None
    shared = shared_datasets_dir()
    archive = shared is not None and (shared / "cifar10-images.tar.gz").is_file()
    probe = PROBE.replace("CATCAR_ARCHIVE", str(archive))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    folder = next(student.rglob("03_mynet_delta_rule.ipynb")).parent  # JupyterLab starts its kernel here
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}},
                   ).execute()
    printed = "".join(output.get("text", "") for output in notebook.cells[0].outputs).splitlines()
    # the split of the cat/car data is exercise 4.1: until it is done a labelled reference makes it
    lines = [line for line in printed if not line.startswith("[not done yet]")]
    assert lines[0] == str(student / "helpers" / "__init__.py")  # not the instructor's editable install
    assert lines[1] == str((student / "data" / "cache").resolve())  # the workspace's own cache
    assert not (student / "data" / "cache").is_symlink()
    shape = tuple(__import__("helpers.data.rainfall", fromlist=["x"]).load_rainfall()["x_train"].shape)
    assert lines[2] == str(shape)
    if archive:
        assert lines.pop(3) == "2000"  # the 2,000 test images, built in the workspace
        assert (student / "data" / "cache" / "catcar_v1.pt").is_file()
        if (tmp_path / "class-cache" / "cifar10_train_v1.pt").exists():  # built by make data: read, not rebuilt
            assert not list((student / "data" / "cache").glob("cifar10*"))
    link = student / "data" / "shared-datasets"
    assert (link.resolve() if link.is_symlink() else None) == shared  # the offline archive's, outside the project
    assert lines[3].startswith("not done yet: implement `spiral_grad` in helpers/spiral.py")
    after = sorted((p.name, p.stat().st_mtime_ns) for p in project_cache.iterdir()) if project_cache.is_dir() else None
    assert after == before  # the student's run wrote nothing into the project's cache
    assert_self_contained(student, PROJECT_ROOT)


def test_a_check_cell_follows_an_edit_of_the_helper_file_without_a_kernel_restart(tmp_path):
    """In a live kernel: the check of exercise 1.1 says "not done yet"; the student saves their solution in
    helpers/spiral.py; the same check cell, run again in the same kernel, passes (the sandbox imports the
    file afresh for every check)."""
    from jupyter_client.manager import start_new_kernel
    student = tmp_path / "student"
    update_workspace(student, PROJECT_ROOT)
    folder = next(student.rglob("01_spiral_gradient_descent.ipynb")).parent
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(folder))
    try:
        def run_check() -> str:
            printed = []
            client.execute_interactive('from helpers.checks.exercises import check_exercise\ncheck_exercise("1.1")',
                                       timeout=120, output_hook=lambda message: printed.append(
                                           message["content"].get("text", "")))
            return "".join(printed)
        assert "not done yet: implement `spiral_grad`" in run_check()
        (student / "helpers" / "spiral.py").write_text((PROJECT_ROOT / "helpers" / "spiral.py").read_text())
        assert "3/3 checks passed, all passed" in run_check()
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
