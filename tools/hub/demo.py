"""A demo class on this machine's loopback: ``python -m tools.hub start [--students N]`` / ``stop`` (``make hub``,
``make hub-stop``). Run as root: it creates real Unix users.

``start`` checks what the hub needs (root, the proxy from npm, a course environment every user can run, free
ports), then writes the state folder (default :data:`DEFAULT_STATE`)::

    STATE/.backprop-lab-hub          the marker: this folder is the demo's, so stop may remove it
    STATE/settings.json              read by tools/hub/jupyterhub_config.py (BACKPROP_LAB_HUB_SETTINGS)
    STATE/logins.json                user names and passwords (mode 600; also printed)
    STATE/users.json                 the Unix users this demo created (stop removes exactly these)
    STATE/exchange/                  nbgrader's exchange (mode 1777: everyone drops, nobody reads another's)
    STATE/jupyter-config/{instructors,students}/   nbgrader's settings and which extensions each role sees
    STATE/hub.log, hub.pid, jupyterhub.sqlite ...   the hub's own

creates the instructors and students (each recorded in ``users.json`` as soon as it exists, so an interrupted
start is still cleaned up), writes each instructor's nbgrader course in ``~/course`` (``tools.grading course``,
run as the instructor), starts JupyterHub in its own session and waits until it answers. ``stop`` ends the hub
(which stops every user's server and the proxy), ends anything the demo's users still run, removes those users
with their homes, and removes the state folder. A user that existed before is never touched: start refuses it.
"""
from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from helpers.data.paths import PROJECT_ROOT
from tools.grading import ASSIGNMENT

HUB_FOLDER = Path(__file__).resolve().parent
CONFIG = HUB_FOLDER / "jupyterhub_config.py"
PROXY = HUB_FOLDER / "node_modules" / ".bin" / "configurable-http-proxy"
DEFAULT_STATE = Path("/srv/backprop-lab-hub")
MARKER = ".backprop-lab-hub"
WORKSPACE = "backprop-lab-workspace"  # in each home; nbgrader fetches the assignment beside it (~/backprop-lab)
COURSE = "course"  # each instructor's nbgrader course folder, in their home
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
# what a student's server may not offer: the instructor's side of nbgrader (server extension, Lab plug-in)
INSTRUCTOR_ONLY_SERVER = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.create_assignment")
INSTRUCTOR_ONLY_LAB = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment")


class HubError(RuntimeError):
    """Something the demo needs is missing or in the way; the message says what and how to fix it."""


@dataclass(frozen=True)
class Login:
    name: str
    password: str
    role: str  # "instructor" or "student"


def unreadable_part(path: Path) -> Path | None:
    """The first folder on the way to ``path`` (or ``path`` itself) that other users cannot enter or read,
    or None: a shared course environment must be runnable by every student."""
    path = Path(path).resolve()
    for part in [*reversed(path.parents), path]:
        mode = part.stat().st_mode
        needed = 0o001 if part.is_dir() else 0o004
        if not mode & needed:
            return part
    return None


def course_environment_problem(python: Path) -> str | None:
    """Why other users cannot run the course environment's ``python`` (its interpreter or its standard
    library sit in a folder they cannot enter), or None."""
    base = subprocess.run([str(python), "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                          text=True, check=True).stdout.strip()
    for needed in (python, Path(base)):
        blocked = unreadable_part(needed)
        if blocked is not None:
            return (f"other users cannot run the course environment {python.parent.parent}: {blocked} is closed "
                    f"to them (its Python comes from {base}). Rebuild it from a Python every user can run, e.g. "
                    f"`rm -rf .venv && make setup PYTHON=/usr/bin/python3`")
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def preflight(course: Path, python: Path) -> None:
    """Raise :class:`HubError` naming the first thing the demo cannot do here."""
    if os.geteuid() != 0:
        raise HubError("the demo hub creates Unix users and starts servers as them: run it as root")
    if not PROXY.exists():
        raise HubError(f"JupyterHub's proxy is missing ({PROXY}): run `make hub-proxy` (needs npm)")
    for tool in ("useradd", "userdel", "chpasswd", "runuser"):
        if shutil.which(tool) is None:
            raise HubError(f"{tool} is missing: the demo needs the standard Linux user tools")
    problem = course_environment_problem(python)
    if problem:
        raise HubError(problem)
    blocked = unreadable_part(course)
    if blocked is not None:
        raise HubError(f"students cannot read the course folder {course}: {blocked} is closed to them")


def claim_state(state: Path) -> None:
    """Create ``state`` with its marker; refuse a non-empty folder that is not the demo's."""
    if state.exists() and any(state.iterdir()) and not (state / MARKER).exists():
        raise HubError(f"{state} holds files that are not the demo hub's: choose another --state")
    if (state / "hub.pid").exists():
        raise HubError(f"a demo hub already runs from {state}: `python -m tools.hub stop --state {state}` first")
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)  # the users' servers read their settings here
    (state / MARKER).write_text("the demo hub's state (tools/hub); `python -m tools.hub stop` removes it\n")


def run_as(user: str, argv: list[str], cwd: Path | str, environment: dict[str, str] | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``argv`` as the Unix ``user`` in ``cwd`` with a clean environment (``HOME``, ``PATH`` of the course
    environment, ``environment``); raise :class:`HubError` with its output when it fails."""
    home = pwd.getpwnam(user).pw_dir
    env = {"HOME": home, "USER": user, "LANG": "C.UTF-8", **(environment or {})}
    result = subprocess.run(["runuser", "-u", user, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()],
                             *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise HubError(f"as {user}: {shlex.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def user_environment(state: Path, course: Path, python: Path, role: str) -> dict[str, str]:
    """What every process of a user in ``role`` ("instructor" or "student") gets: their server (set by the hub's
    pre-spawn hook, tools/hub/jupyterhub_config.py) and the commands run as them."""
    return {"PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin",  # jupyter, nbgrader, python of the course
            # nbgrader's exchange and course id; for students also the instructor-only extensions switched off
            "JUPYTER_CONFIG_PATH": str(state / "jupyter-config" / f"{role}s"),
            # the class's read-only CIFAR-10 tensors: no student builds their own (helpers/data/cache.py)
            "BACKPROP_LAB_SHARED_CACHE": str(course / "data" / "cache"),
            # the checks' sandbox server (its own torch import) goes before a cell that trains or dreams beside
            # it: a kernel's peak memory is its own (helpers/checks/exercises.py, docs/pod_memory.md)
            "BACKPROP_LAB_STOP_SANDBOX_BETWEEN_CHECKS": "1"}


def create_user(login: Login, state: Path) -> None:
    """A new Unix user with a home and ``login``'s password, recorded in ``users.json`` at once."""
    try:
        pwd.getpwnam(login.name)
    except KeyError:
        pass
    else:
        raise HubError(f"user {login.name} exists already: the demo only removes users it created; choose "
                       f"another --prefix")
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", login.name], check=True)
    record = state / "users.json"
    created = json.loads(record.read_text()) if record.exists() else []
    record.write_text(json.dumps([*created, login.name]))
    subprocess.run(["chpasswd"], input=f"{login.name}:{login.password}\n", text=True, check=True)


def write_jupyter_config(state: Path, exchange: Path) -> None:
    """nbgrader's settings for each role, and the instructor-only extensions switched off for students."""
    nbgrader = (f"c = get_config()  # noqa: F821\n"
                f"c.CourseDirectory.course_id = {ASSIGNMENT!r}\n"
                f"c.Exchange.root = {str(exchange)!r}\n")
    for role in ("instructors", "students"):
        folder = state / "jupyter-config" / role
        (folder / "labconfig").mkdir(parents=True, exist_ok=True)
        (folder / "nbgrader_config.py").write_text(nbgrader)
        if role == "students":
            (folder / "jupyter_server_config.json").write_text(json.dumps(
                {"ServerApp": {"jpserver_extensions": {name: False for name in INSTRUCTOR_ONLY_SERVER}}}, indent=1))
            (folder / "labconfig" / "page_config.json").write_text(json.dumps(
                {"disabledExtensions": {name: True for name in INSTRUCTOR_ONLY_LAB}}, indent=1))
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def write_settings(state: Path, course: Path, python: Path, logins: list[Login], port: int) -> dict:
    exchange = state / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)  # nbgrader's own check: anyone may drop a submission, the sticky bit keeps them apart
    settings = {"port": port, "hub_port": free_port(), "proxy_api_port": free_port(), "state": str(state),
                "course": str(course), "python": str(python), "proxy": str(PROXY), "workspace": WORKSPACE,
                "environments": {role: user_environment(state, course, python, role)
                                 for role in ("instructor", "student")},
                "exchange": str(exchange),
                "instructors": [login.name for login in logins if login.role == "instructor"],
                "students": [login.name for login in logins if login.role == "student"]}
    (state / "settings.json").write_text(json.dumps(settings, indent=1))
    write_jupyter_config(state, exchange)
    logins_file = state / "logins.json"
    logins_file.touch(mode=0o600)
    logins_file.write_text(json.dumps([login.__dict__ for login in logins], indent=1))
    return settings


def write_course(settings: dict, instructor: str) -> Path:
    """The instructor's nbgrader course in ``~/course`` (written as the instructor), and the home's
    nbgrader_config.py that points the formgrader at it (the server starts in the home)."""
    home = Path(pwd.getpwnam(instructor).pw_dir)
    run_as(instructor, [settings["python"], "-m", "tools.grading", "course", str(home / COURSE)], cwd=settings["course"],
           environment=settings["environments"]["instructor"])
    config = home / "nbgrader_config.py"
    config.write_text(f"c = get_config()  # noqa: F821\nload_subconfig({str(home / COURSE / 'nbgrader_config.py')!r})\n")
    owner = pwd.getpwnam(instructor)
    os.chown(config, owner.pw_uid, owner.pw_gid)
    return home / COURSE


def hub_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hub/api", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start(students: int = 3, prefix: str = "", port: int = 8000, state: Path = DEFAULT_STATE,
          course: Path = PROJECT_ROOT, python: Path | None = None) -> list[Login]:
    """Start the demo class (see the module docstring) and return the logins; ``prefix`` starts every user
    name (``<prefix>instructor``, ``<prefix>student1`` …)."""
    python = Path(python or sys.executable)
    course, state = Path(course).resolve(), Path(state)
    preflight(course, python)
    claim_state(state)
    logins = [Login(f"{prefix}instructor", secrets.token_urlsafe(9), "instructor"),
              *[Login(f"{prefix}student{n}", secrets.token_urlsafe(9), "student") for n in range(1, students + 1)]]
    try:
        settings = write_settings(state, course, python, logins, port)
        for login in logins:
            create_user(login, state)
        write_course(settings, logins[0].name)
        with open(state / "hub.log", "ab") as log:
            hub = subprocess.Popen([str(python.parent / "jupyterhub"), "-f", str(CONFIG)], cwd=state, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, "BACKPROP_LAB_HUB_SETTINGS": str(state / "settings.json"),
                                        "PATH": f"{python.parent}:{os.environ.get('PATH', '')}"})
        (state / "hub.pid").write_text(str(hub.pid))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not hub_answers(port):
            if hub.poll() is not None or time.monotonic() > deadline:
                raise HubError(f"JupyterHub did not start; the end of {state / 'hub.log'}:\n"
                               f"{(state / 'hub.log').read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
    except BaseException:
        stop(state)
        raise
    return logins


def stop(state: Path = DEFAULT_STATE) -> list[str]:
    """Stop the demo started from ``state``; return the users removed. Safe to repeat, and after a failed start."""
    state = Path(state)
    if not (state / MARKER).exists():
        raise HubError(f"{state} is not a demo hub's state folder (no {MARKER}): nothing stopped")
    pid_file = state / "hub.pid"
    if pid_file.exists():
        _end_session(int(pid_file.read_text()))
        pid_file.unlink()
    record = state / "users.json"
    users = json.loads(record.read_text()) if record.exists() else []
    for user in users:
        subprocess.run(["pkill", "-KILL", "-u", user], check=False)  # a kernel left behind would block userdel
        for _ in range(50):
            if subprocess.run(["pgrep", "-u", user], capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        subprocess.run(["userdel", "--remove", user], check=False, capture_output=True)
    shutil.rmtree(state)
    return users


def _end_session(pid: int) -> None:
    """SIGTERM the hub (it stops the users' servers and the proxy), then anything left in its session."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)  # its session: the proxy or a server it could not stop in time
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs; reaps it when it is this process's child (start and stop in one process, as
    in the test) so that an exited hub is not taken for a running one."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:  # not our child: the hub of an earlier `tools.hub start`
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.hub", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    begin = commands.add_parser("start", help="create the users, start the hub, print the logins")
    begin.add_argument("--students", type=int, default=3)
    begin.add_argument("--prefix", default="", help="starts every user name (avoids clashing with real users)")
    begin.add_argument("--port", type=int, default=8000)
    begin.add_argument("--state", type=Path, default=DEFAULT_STATE)
    end = commands.add_parser("stop", help="stop the hub, remove the users it created and its state")
    end.add_argument("--state", type=Path, default=DEFAULT_STATE)
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "stop":
            removed = stop(arguments.state)
            print(f"stopped; removed the users {', '.join(removed) or '(none)'} and {arguments.state}")
            return 0
        logins = start(arguments.students, arguments.prefix, arguments.port, arguments.state)
    except HubError as error:
        print(f"tools.hub: {error}", file=sys.stderr)
        return 1
    print(f"JupyterHub runs at http://127.0.0.1:{arguments.port}/ (stop it: python -m tools.hub stop"
          f"{'' if arguments.state == DEFAULT_STATE else ' --state ' + shlex.quote(str(arguments.state))})")
    for login in logins:
        print(f"  {login.role:10}  {login.name:20}  {login.password}")
    return 0
