"""A term's loop on the tested hub recipe (tools/hub), end to end: JupyterHub with configurable-http-proxy on
loopback, real Unix users, each student's workspace written at first login, nbgrader's exchange.

The instructor releases the assignment; both students fetch it. Student 1 does notebook 01's exercises (the
course's own ``spiral.py`` and ``experiments/spiral_sweep.py``) and, in Chromium, logs in, opens the fetched
notebook, runs it (its check cells say pass), saves and submits from nbgrader's Assignments panel (the checks' sandbox server has gone by then: the hub's memory
setting). Student 2 submits the untouched stubs from the
command line. The instructor collects, autogrades notebook 01 (in the grading sandbox), generates and releases
feedback; student 1 fetches it from the panel, student 2 from the command line, and each feedback page shows
that student's own score (all of 01's points; none). The formgrader answers the instructor and not a student.
Then the hub stops, and the users it created are gone with their processes.

Needs root (it creates users), the proxy (``make hub-proxy``) and a course environment every user can run; in
CI a missing part fails the test, elsewhere it is skipped saying what is missing.
"""
from __future__ import annotations

import json
import pwd
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers.data.paths import PROJECT_ROOT
from tools.grading import ASSIGNMENT
from tools.hub.demo import WORKSPACE, HubError, free_port, preflight, run_as, start, stop

from .conftest import cannot_run, in_ci
from .driver import open_notebook, run_all, wait_until

NOTEBOOK = "01_spiral_gradient_descent"
EXERCISES = ("1.1", "1.2", "1.3", "1.4")  # notebook 01's (helpers/checks/nb01_spiral.py)
LOGIN_TIMEOUT_S, OPEN_TIMEOUT_S, RUN_TIMEOUT_S, PANEL_TIMEOUT_S = 120, 90, 300, 60
VIEWPORT = {"width": 1280, "height": 720}


@pytest.fixture(scope="module")
def hub():
    try:
        preflight(PROJECT_ROOT, Path(sys.executable))  # what `make hub` checks first: root, the proxy, the env
    except HubError as missing:
        cannot_run(str(missing)) if in_ci() else pytest.skip(f"hub test skipped: {missing}")
    state = Path(tempfile.mkdtemp(prefix="backprop-lab-hub-", dir="/tmp"))  # outside pytest's root-only folder
    port = free_port()
    started = time.monotonic()
    try:
        logins = start(students=2, prefix=f"bpl{secrets.token_hex(2)}", port=port, state=state)
    except HubError as error:
        pytest.fail(str(error), pytrace=False)
    settings = json.loads((state / "settings.json").read_text())
    print(f"hub up in {time.monotonic() - started:.1f} s")
    yield {"url": f"http://127.0.0.1:{port}", "state": state, "settings": settings,
           "instructor": logins[0], "students": logins[1:]}
    if (state / ".backprop-lab-hub").exists():  # the test failed before it stopped the hub itself
        stop(state)


def home(user: str) -> Path:
    return Path(pwd.getpwnam(user).pw_dir)


def nbgrader(hub, user: str, role: str, *arguments: str, cwd: Path | None = None) -> str:
    settings = hub["settings"]
    result = run_as(user, [str(Path(settings["python"]).parent / "nbgrader"), *arguments], cwd or home(user),
                    settings["environments"][role])
    return result.stdout + result.stderr


def log_in(browser, hub, login):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{hub['url']}/hub/login")
    page.fill("input[name=username]", login.name)
    page.fill("input[name=password]", login.password)
    page.click("#login_submit")
    page.wait_for_selector(".jp-DirListing-item", timeout=LOGIN_TIMEOUT_S * 1000)  # the server and JupyterLab are up
    return context, page


def output_text(page) -> str:
    """Every output's text (``textContent``: JupyterLab does not render cells scrolled out of view)."""
    return page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                         ".map(n => n.textContent).join('\\n')")


def assignments_panel(page):
    """Open nbgrader's Assignments panel (Nbgrader ▸ Assignment List) and return its locator."""
    page.click("#jp-MainMenu >> text=Nbgrader")
    page.click(".lm-Menu-content >> text=Assignment List")
    panel = page.locator("#nbgrader-assignment-list")
    panel.wait_for(timeout=PANEL_TIMEOUT_S * 1000)
    return panel


def feedback_score(student: str) -> tuple[float, float]:
    """(score, max score) that the feedback page fetched into the student's assignment folder shows for 01."""
    pages = sorted((home(student) / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html"))
    assert pages, f"no feedback fetched for {student}"
    found = re.search(rf"{NOTEBOOK} \(Score: ([\d.]+) / ([\d.]+)\)", pages[-1].read_text())
    assert found, f"{pages[-1]} shows no score for {NOTEBOOK}"
    return float(found[1]), float(found[2])


def points(course: Path) -> tuple[float, float]:
    """(autograded points, all points) of notebook 01 as the course's nbgrader source assigns them."""
    cells = json.loads((course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text())["cells"]
    graded = [(cell["cell_type"], cell["metadata"]["nbgrader"]["points"]) for cell in cells
              if cell["metadata"].get("nbgrader", {}).get("grade")]
    return float(sum(p for kind, p in graded if kind == "code")), float(sum(p for _, p in graded))


def processes_of(uid: int) -> list[str]:
    return subprocess.run(["pgrep", "-a", "-U", str(uid)], capture_output=True, text=True).stdout.splitlines()


class Phases:
    """Wall time of each phase of the term, printed at the end (the test's time is reported, not asserted)."""

    def __init__(self):
        self.last, self.seconds = time.monotonic(), {}

    def done(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase], self.last = round(now - self.last, 1), now


def test_a_term_on_the_hub(hub, browser):
    started, phases = time.monotonic(), Phases()
    instructor, (first, second) = hub["instructor"].name, [login.name for login in hub["students"]]
    course = home(instructor) / "course"
    nbgrader(hub, instructor, "instructor", "generate_assignment", ASSIGNMENT, cwd=course)
    nbgrader(hub, instructor, "instructor", "release_assignment", ASSIGNMENT, cwd=course)
    for student in (first, second):
        nbgrader(hub, student, "student", "fetch_assignment", ASSIGNMENT)
    # student 1's work: the course's own solution of notebook 01, written as that student
    for solved in ("helpers/spiral.py", "helpers/experiments/spiral_sweep.py"):  # 1.1-1.2, then 1.3-1.4
        run_as(first, ["cp", str(PROJECT_ROOT / solved), solved], home(first) / ASSIGNMENT)
    phases.done("release and fetch")

    context, page = log_in(browser, hub, hub["students"][0])
    try:
        workspace = home(first) / WORKSPACE  # written by the hub's pre-spawn hook, as the student
        assert (workspace / f"{NOTEBOOK}.ipynb").is_file() and (workspace / "helpers" / "spiral.py").is_file()
        assert (workspace / "helpers" / "spiral.py").stat().st_uid == pwd.getpwnam(first).pw_uid
        phases.done("student 1 logs in (workspace written, server started)")
        open_notebook(page, f"{hub['url']}/user/{first}/lab/tree/{ASSIGNMENT}/{NOTEBOOK}.ipynb", OPEN_TIMEOUT_S)
        run_all(page, RUN_TIMEOUT_S)
        for exercise in EXERCISES:
            assert re.search(rf"Exercise {re.escape(exercise)} .*all passed", output_text(page)), exercise
        # the hub's memory setting: the checks' sandbox server went before the cells after the checks ran
        sandbox_servers = [p for p in processes_of(pwd.getpwnam(first).pw_uid) if "worker.py" in p]
        assert sandbox_servers == [], sandbox_servers
        page.keyboard.press("Control+s")
        panel = assignments_panel(page)
        panel.locator("button:has-text('Submit')").first.click()
        wait_until(lambda: list((Path(hub["settings"]["exchange"]) / ASSIGNMENT / "inbound").glob(f"{first}+*")),
                   PANEL_TIMEOUT_S, "student 1's submission never reached the exchange")
        nbgrader(hub, second, "student", "submit", ASSIGNMENT)
        phases.done("student 1 runs 01 and submits in the browser, student 2 submits")

        nbgrader(hub, instructor, "instructor", "collect", ASSIGNMENT, cwd=course)
        nbgrader(hub, instructor, "instructor", "autograde", ASSIGNMENT, "--notebook", NOTEBOOK, cwd=course)
        nbgrader(hub, instructor, "instructor", "generate_feedback", ASSIGNMENT, "--notebook", NOTEBOOK, cwd=course)
        nbgrader(hub, instructor, "instructor", "release_feedback", ASSIGNMENT, cwd=course)
        phases.done("collect, autograde, feedback")

        panel.locator("#refresh_assignments_list").click()
        fetch = panel.locator("button:has-text('Fetch Feedback')").first
        fetch.wait_for(timeout=PANEL_TIMEOUT_S * 1000)
        fetch.click()
        wait_until(lambda: list((home(first) / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html")),
                   PANEL_TIMEOUT_S, "student 1's feedback never arrived")
        nbgrader(hub, second, "student", "fetch_feedback", ASSIGNMENT)
        autograded, most = points(course)
        assert feedback_score(first) == (autograded, most)  # every check passed (the written answers await a grader)
        assert feedback_score(second) == (0.0, most)  # the stubs: none

        student_formgrader = page.goto(f"{hub['url']}/user/{first}/formgrader")
        assert student_formgrader.status == 404  # switched off for students (tools/hub/demo.py)
        phases.done("feedback fetched")
    finally:
        context.close()
    context, page = log_in(browser, hub, hub["instructor"])
    try:
        page.goto(f"{hub['url']}/user/{instructor}/formgrader")  # Manage Assignments: one row per assignment
        row = page.locator("tr", has=page.locator("td", has_text=ASSIGNMENT)).first
        row.wait_for(timeout=PANEL_TIMEOUT_S * 1000)
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == ASSIGNMENT and "released" in cells and "2" in cells, cells  # two submissions
    finally:
        context.close()

    phases.done("the formgrader")
    uids = {user: pwd.getpwnam(user).pw_uid for user in (instructor, first, second)}
    removed = stop(hub["state"])
    assert sorted(removed) == sorted([instructor, first, second])
    for user in removed:
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
        assert processes_of(uids[user]) == []
    assert not hub["state"].exists()
    phases.done("stop")
    print(f"the term's loop took {time.monotonic() - started:.1f} s: {phases.seconds}")
