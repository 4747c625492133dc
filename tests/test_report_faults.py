"""Fault injection: the report builder, run as a subprocess on two tiny notebooks, is interrupted
(SIGINT, SIGTERM, SIGKILL; to the builder alone or to its process group) while the notebooks execute
and while it publishes. Afterwards no process it started is left (workers, kernels: found by a token
in their environment, which every descendant inherits), ``report/`` holds the old report or the new
one, never a mix, and no staging or backup folder is left (after SIGKILL: once the next build, here
its first step :func:`tools.report.publish.recover`, has run).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from helpers.data.paths import PROJECT_ROOT
from tools.report import publish

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
TOKEN_ENV, MARKS_ENV = "BACKPROP_LAB_FAULT_TOKEN", "BACKPROP_LAB_FAULT_MARKS"
# The builder, its publishing renames slowed down (and announced) so that a signal can land among them, its
# PDF printed by a stand-in.
# (jsonschema's optional IRI checker, rfc3987_syntax, takes seconds of CPU to import; nothing here uses it.)
RUNNER = """
import os, pathlib, sys, time
sys.modules["rfc3987_syntax"] = None
from tools.report import build
marks, rename = pathlib.Path(os.environ["BACKPROP_LAB_FAULT_MARKS"]), pathlib.Path.rename
def slow_rename(self, target):
    (marks / "publishing").touch()
    time.sleep(0.15)
    return rename(self, target)
def slow_publish(staging, output_dir, replace=build.replace_report):
    pathlib.Path.rename = slow_rename
    try:
        return replace(staging, output_dir)
    finally:
        pathlib.Path.rename = rename
build.replace_report = slow_publish
# Printing the PDF (Chromium, seconds) is tested in test_report.py; here a stand-in keeps the runs short,
# announced and long enough for a signal to land while it prints.
def stand_in_print(index, pdf, figures):
    (marks / "printing").touch()
    time.sleep(0.3)
    pdf.write_bytes(b"%PDF-1.4 stand-in")
    print("stand-in printed", flush=True)
    return {"figures": [], "clipped_tables": [], "raw_tex": [], "smallest_figure_text_pt": None}
build.print_pdf = stand_in_print
sys.exit(build.main(sys.argv[1:]))
"""
OLD_REPORT = {"README.md": "kept\n", "index.html": "OLD", "metrics.json": '{"old": true}',
              "only-in-the-old-report.txt": "old", "notebooks/01_a.html": "OLD"}


def _cell_source(stem: str, sleep_s: float) -> str:
    return (f"import os, pathlib, time\n"
            f"pathlib.Path(os.environ[{MARKS_ENV!r}], {stem + '-started'!r}).touch()\n"
            f"time.sleep({sleep_s})\nprint('{stem} done')")


@pytest.fixture
def project(tmp_path):
    """Two notebooks, the previous report, and where the notebooks leave their marks."""
    notebooks, out, marks = tmp_path / "notebooks", tmp_path / "report", tmp_path / "marks"
    for folder in (notebooks, out / "notebooks", marks):
        folder.mkdir(parents=True)
    for name, text in OLD_REPORT.items():
        (out / name).write_text(text)
    return {"notebooks": notebooks, "out": out, "marks": marks, "log": tmp_path / "build.log"}


def _write_notebooks(project, sleep_s):
    for stem in ("01_a", "02_b"):
        notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
        notebook.cells = [nbformat.v4.new_markdown_cell(f"# {stem}"),
                          nbformat.v4.new_code_cell(_cell_source(stem, sleep_s))]
        nbformat.write(notebook, project["notebooks"] / f"{stem}.ipynb")


def _start(project, token):
    env = {**os.environ, TOKEN_ENV: token, MARKS_ENV: str(project["marks"]), "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-c", RUNNER, "--jobs", "2", "--notebooks", str(project["notebooks"]),
               "--output", str(project["out"])]
    with open(project["log"], "w") as log:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group, as a shell job has


def _wait_for(condition, process, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, f"the build ended early:\n{Path(process.args[-1]).parent}"
        assert time.monotonic() < deadline, "timed out waiting for the build"
        time.sleep(0.05)


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ, stat = (entry / "environ").read_bytes(), (entry / "stat").read_bytes()
        except OSError:
            continue
        if f"{TOKEN_ENV}={token}".encode() in environ.split(b"\0") and b") Z " not in stat:
            found.append(int(entry.name))
    return found


def _survivors(token: str, timeout_s: float = 10.0) -> list[int]:
    """Processes of the build still alive after ``timeout_s`` (killed then, so that no test leaks them)."""
    deadline = time.monotonic() + timeout_s
    while (left := _processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _holds(out: Path) -> str:
    """"old" or "new", asserting that ``out`` is exactly one of them."""
    files = {name: data for name, data in _files(out).items() if not name.startswith("mathjax/")}
    if files == {name: text.encode() for name, text in OLD_REPORT.items()}:
        assert not (out / "mathjax").exists(), "the old report with the new one's MathJax"
        return "old"
    metrics = json.loads(files["metrics.json"])
    assert set(metrics["sections"]) == {"01_a", "02_b"}
    assert set(files) == {"README.md", "index.html", "metrics.json", "report.pdf", "notebooks/01_a.ipynb",
                          "notebooks/01_a.html", "notebooks/02_b.ipynb", "notebooks/02_b.html"}, sorted(files)
    assert files["index.html"].lower().startswith(b"<!doctype html>") and files["README.md"] == b"kept\n"
    assert (out / "mathjax" / "MathJax.js").is_file()
    return "new"


CASES = [  # signal, to the group?, when, what report/ must hold afterwards
    (signal.SIGINT, False, "executing", "old"),
    (signal.SIGTERM, False, "executing", "old"),
    (signal.SIGINT, True, "executing", "old"),
    (signal.SIGTERM, True, "executing", "old"),
    (signal.SIGKILL, False, "executing", "old"),
    (signal.SIGTERM, False, "printing", "old"),  # the printing finishes first, then the build stops
    (signal.SIGTERM, False, "publishing", "new"),  # the renames finish first
    (signal.SIGINT, True, "publishing", "new"),
    (signal.SIGKILL, False, "publishing", "old or new"),
]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum, to_group, when, expected", CASES,
                         ids=[f"{s.name}-{'group' if g else 'parent'}-{w}" for s, g, w, _ in CASES])
def test_an_interrupted_build_leaves_no_process_and_the_old_or_the_new_report(project, signum, to_group, when,
                                                                             expected):
    _write_notebooks(project, sleep_s=60 if when == "executing" else 0)
    token = uuid.uuid4().hex
    process = _start(project, token)
    try:
        marks = project["marks"]
        point = ((lambda: (marks / "01_a-started").exists() and (marks / "02_b-started").exists())
                 if when == "executing" else (lambda: (marks / when).exists()))
        _wait_for(point, process)
        if to_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        status = process.wait(timeout=30)
    finally:
        survivors = _survivors(token)
    log = project["log"].read_text()
    assert not survivors, f"processes left: {survivors}\n{log}"
    if signum == signal.SIGKILL:
        assert status == -signal.SIGKILL
        with publish.locked(project["out"]):  # what the next build does first
            publish.recover(project["out"], log=lambda line: None)
    else:
        assert status == 128 + signum, log
        assert log.count(f"interrupted ({signal.Signals(signum).name}): ") == 1, log  # said once,
        assert "Traceback" not in log and "ZMQ" not in log, log  # with no worker's or kernel's traceback
    if when == "printing":  # held back until printed (raised inside Playwright's event loop, it would be lost)
        assert "stand-in printed" in log, log
    assert not [p.name for p in project["out"].iterdir() if p.name.startswith(".")]  # no staging or backup
    assert _holds(project["out"]) in expected.split(" or ")


# ---------------------------------------------------------------------------------------------------
# Fast: a publish cut at every step, leftovers of killed builds, the lock, write errors
# ---------------------------------------------------------------------------------------------------
class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no rollback."""


def _old_and_staged(root: Path) -> tuple[Path, Path]:
    out, staging = root / "report", root / "report" / ".staging-7"
    for name, text in OLD_REPORT.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    for name, text in {"index.html": "NEW", "metrics.json": "{}", "report.pdf": "%PDF", "notebooks/01_a.html": "NEW",
                       "metrics/01_a.json": "{}", ".runs/01_a.log": "chatter"}.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_text(text)
    return out, staging


NEW_REPORT = {"README.md": b"kept\n", "index.html": b"NEW", "metrics.json": b"{}", "report.pdf": b"%PDF",
              "notebooks/01_a.html": b"NEW"}


def _renames_in_a_publish(tmp_path) -> int:
    out, staging = _old_and_staged(tmp_path / "count")
    calls = []
    original = Path.rename
    Path.rename = lambda self, target: (calls.append(self), original(self, target))[1]
    try:
        publish.replace_report(staging, out)
    finally:
        Path.rename = original
    return len(calls)


def test_a_publish_killed_at_any_rename_is_recovered_to_the_old_or_the_new_report(tmp_path, monkeypatch):
    renames = _renames_in_a_publish(tmp_path)
    assert renames == 4 + 4 + 1  # old entries parked, new ones moved in, the parked folder discarded
    outcomes = []
    for step in range(renames + 1):
        out, staging = _old_and_staged(tmp_path / str(step))
        calls, original = [], Path.rename

        def rename(self, target):
            calls.append(self)
            if len(calls) > step:
                raise _Killed
            return original(self, target)
        monkeypatch.setattr(Path, "rename", rename)
        with pytest.raises(_Killed) if step < renames else _no_raise():
            publish.replace_report(staging, out)
        monkeypatch.setattr(Path, "rename", original)
        with publish.locked(out):
            publish.recover(out, log=lambda line: None)
        files = _files(out)
        assert files in ({k: v.encode() for k, v in OLD_REPORT.items()}, NEW_REPORT), (step, sorted(files))
        outcomes.append("old" if files["index.html"] == b"OLD" else "new")
        assert not [p.name for p in out.iterdir() if p.name.startswith(".")], step
    assert outcomes == ["old"] * 4 + ["new"] * 6  # rolled back until every old entry is parked


def test_a_publish_keeps_what_other_commands_wrote_under_report(tmp_path):
    out, staging = _old_and_staged(tmp_path)
    for other in ("browser/01_a/after.png", "student/.student-edition"):
        (out / other).parent.mkdir(parents=True, exist_ok=True)
        (out / other).write_text("not the report's")
    publish.replace_report(staging, out)
    files = _files(out)
    assert files["browser/01_a/after.png"] == files["student/.student-edition"] == b"not the report's"
    assert files["index.html"] == b"NEW" and "only-in-the-old-report.txt" not in files


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_next_build_removes_staging_and_trash_folders_of_killed_builds(tmp_path, monkeypatch):
    from tools.report import build as builder
    from tools.report.running import Outcome
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.ipynb").write_text("{}")
    out = tmp_path / "report"
    for leftover in (".staging-999999999", ".staging-1", ".trash-3"):
        (out / leftover / "figures").mkdir(parents=True)
    monkeypatch.setattr(builder, "execute_notebooks", lambda notebooks, *a, **k: [
        Outcome(notebooks[0], error="01_a.ipynb: cell 1 raised ValueError")])
    with pytest.raises(builder.ReportBuildError, match="cell 1 raised ValueError"):
        builder.build_report(tmp_path / "notebooks", out, log=lambda line: None)
    assert list(out.iterdir()) == []


def test_a_second_build_is_refused_naming_the_running_one(tmp_path):
    from tools.report import build as builder
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.ipynb").write_text("{}")
    out = tmp_path / "report"
    with publish.locked(out):  # the running build: its lock and its staging folder
        (out / ".staging-4242").mkdir()
        with pytest.raises(builder.ReportBuildError) as refused:
            builder.build_report(tmp_path / "notebooks", out, log=lambda line: None)
    assert str(refused.value) == (f"another report build (pid 4242) is writing {out}; wait for it to finish or "
                                  f"stop it (kill 4242) and run this again")
    assert [p.name for p in out.iterdir()] == [".staging-4242"]  # the running build's work untouched


def test_a_full_disk_or_read_only_folder_is_named_with_the_fix(tmp_path, monkeypatch):
    import errno
    from tools.report import build as builder, execute
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.ipynb").write_text("{}")

    def full(output_dir):
        raise OSError(errno.ENOSPC, "No space left on device")  # as a write() reports it: no file name
    monkeypatch.setattr(builder, "new_staging", full)
    out = tmp_path / "report"
    with pytest.raises(builder.ReportBuildError) as failure:
        builder.build_report(tmp_path / "notebooks", out, log=lambda line: None)
    assert str(failure.value).startswith(f"could not tidy the report folder: No space left on device: {out}\n")
    assert f"Make {out} writable" in str(failure.value) and f"df -h {out}" in str(failure.value)

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(builder.ReportBuildError, match=f"could not create the report folder: .*{blocked}/report"):
        builder.build_report(tmp_path / "notebooks", blocked / "report", log=lambda line: None)

    def read_only(*args):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "s" / "figures"))
    monkeypatch.setattr(execute, "_run", read_only)
    result = execute.run_one(tmp_path / "notebooks" / "01_a.ipynb", tmp_path / "s", tmp_path / "s.log")
    assert not result["ok"]
    assert result["message"].startswith(f"01_a.ipynb: could not write {tmp_path / 's' / 'figures'}: Permission denied")


def test_kernels_use_absolute_ipc_sockets_and_stale_ones_are_removed(tmp_path, monkeypatch):
    from tools import notebook_runner
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # its pid is now free: no process of that id
    stale = tmp_path / f"nbclient-{finished.pid}-abcd-ipc-1"
    mine = tmp_path / f"nbclient-{os.getpid()}-abcd-ipc-1"
    stale.touch()
    mine.touch()
    kernel = notebook_runner.kernel_config().KernelManager
    assert kernel.transport == "ipc" and Path(kernel.ip).is_absolute() and Path(kernel.ip).parent == tmp_path
    assert not stale.exists() and mine.exists()  # a live process's sockets are left alone
