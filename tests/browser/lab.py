"""A throw-away JupyterLab for the browser test: loopback port, token, temp notebook folder.

The notebooks are copied into a temporary folder, which the test compares with the committed ones at the
end. The lab runs on the project's own settings (jupyter/: no autosave, no widget state, the pre-save hook
that keeps static fallbacks, kernels over IPC), installed where `make setup` installs them for the venv's
JupyterLab; on top, as a user's settings, only what the test needs (:data:`TEST_SETTINGS`).
:meth:`JupyterLab.stop` shuts down every kernel and the server, and kills the server's process group if it
does not exit in time.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from helpers.data.paths import PROJECT_ROOT
from helpers.runtime.headless import HEADLESS_ENV

PROJECT_SETTINGS = PROJECT_ROOT / "jupyter"  # overrides.json, jupyter_server_config.json (jupyter/README.md)
# Autosave's interval (s), were autosave on: short, so that waiting a little past it while the test drives the
# widgets shows that the project's settings keep autosave off.
AUTOSAVE_INTERVAL_S = 3
DOCMANAGER = "@jupyterlab/docmanager-extension/plugin"
# User settings of the throw-away lab, over the project's: {plugin id: {setting: value}}.
TEST_SETTINGS = {
    DOCMANAGER: {"autosaveInterval": AUTOSAVE_INTERVAL_S},
    # every cell stays in the page, so the test sees all outputs without scrolling
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
START_TIMEOUT_S = 60


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_user_setting(settings_dir: Path, plugin: str, values: dict) -> None:
    path = settings_dir / f"{plugin}.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))


def install_project_settings(workdir: Path) -> tuple[Path, Path]:
    """The project's settings where this lab reads them, as `make setup` installs them into the venv:
    returns (JupyterLab's app settings folder, the Jupyter config folder)."""
    app_settings, config = workdir / "app-settings", workdir / "config"
    for folder in (app_settings, config):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_SETTINGS / "overrides.json", app_settings / "overrides.json")
    shutil.copy(PROJECT_SETTINGS / "jupyter_server_config.json", config / "jupyter_server_config.json")
    return app_settings, config


class JupyterLab:
    """``with JupyterLab(notebooks, workdir) as lab:`` serves copies of ``notebooks`` at ``lab.url(name)``."""

    def __init__(self, notebooks: list[Path], workdir: Path):
        self.workdir = Path(workdir)
        self.root = self.workdir / "notebooks"
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "helpers").symlink_to(PROJECT_ROOT / "helpers")  # as in a checkout's notebooks/
        for notebook in notebooks:
            shutil.copy2(notebook, self.root / notebook.name)
        self.user_settings = self.workdir / "settings"
        for plugin, values in TEST_SETTINGS.items():
            write_user_setting(self.user_settings, plugin, values)
        self.app_settings, self.config = install_project_settings(self.workdir)
        self.port, self.token = free_loopback_port(), secrets.token_hex(16)
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "jupyterlab.log"

    @contextlib.contextmanager
    def autosave_on(self):
        """Within the block, a page opened afterwards autosaves (a user's setting over the project's)."""
        write_user_setting(self.user_settings, DOCMANAGER, {**TEST_SETTINGS[DOCMANAGER], "autosave": True})
        try:
            yield
        finally:
            write_user_setting(self.user_settings, DOCMANAGER, TEST_SETTINGS[DOCMANAGER])

    @property
    def base_url(self) -> str:
        """What the address of every page of this lab starts with."""
        return f"http://127.0.0.1:{self.port}/lab"

    def url(self, notebook_name: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook_name}?token={self.token}&reset"

    def __enter__(self) -> "JupyterLab":
        env = {key: value for key, value in os.environ.items() if key != HEADLESS_ENV}  # live widgets
        env.update(JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"), JUPYTER_CONFIG_DIR=str(self.config))
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}", f"--LabApp.user_settings_dir={self.user_settings}",
                   f"--LabApp.app_settings_dir={self.app_settings}",
                   f"--LabApp.workspaces_dir={self.workdir / 'workspaces'}",
                   "--LabApp.news_url=", "--ServerApp.open_browser=False"]
        if os.geteuid() == 0:  # CI and containers run as root
            command.append("--allow-root")
        log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited at start (code {self.process.returncode}); "
                                   f"log:\n{self.log_path.read_text()[-3000:]}")
            try:
                self.api("status")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {START_TIMEOUT_S} s; log:\n"
                           f"{self.log_path.read_text()[-3000:]}")

    def shutdown_kernels(self) -> None:
        for kernel in self.api("kernels") or []:
            self.api(f"kernels/{kernel['id']}", method="DELETE")

    def stop(self) -> None:
        """Shut down every kernel, then the server; kill its process group if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.shutdown_kernels()
            self.api("shutdown", method="POST")
            self.process.wait(timeout=20)
        except Exception:  # noqa: BLE001 - whatever went wrong, the processes must not outlive the test
            pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
