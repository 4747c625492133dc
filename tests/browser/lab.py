"""A throw-away JupyterLab for the browser test: loopback port, token, temp notebook folder.

The notebooks are copied into a temporary folder, so JupyterLab's autosave can never touch the
committed ones. Settings switch off autosave, the news popup and the update check, and kernels talk over
IPC (no "running over TCP without encryption" warning). :meth:`JupyterLab.stop` shuts down every
kernel and the server, and kills the server's process group if it does not exit in time.
"""
from __future__ import annotations

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

from helpers.runtime.headless import HEADLESS_ENV

# User settings of the throw-away lab: {plugin id: {setting: value}}.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # every cell stays in the page, so the test sees all outputs without scrolling
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
START_TIMEOUT_S = 60


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_settings(settings_dir: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


class JupyterLab:
    """``with JupyterLab(notebooks, workdir) as lab:`` serves copies of ``notebooks`` at ``lab.url(name)``."""

    def __init__(self, notebooks: list[Path], workdir: Path):
        self.workdir = Path(workdir)
        self.root = self.workdir / "notebooks"
        self.root.mkdir(parents=True, exist_ok=True)
        for notebook in notebooks:
            shutil.copy2(notebook, self.root / notebook.name)
        write_settings(self.workdir / "settings")
        self.port, self.token = free_loopback_port(), secrets.token_hex(16)
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "jupyterlab.log"

    def url(self, notebook_name: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook_name}?token={self.token}&reset"

    def __enter__(self) -> "JupyterLab":
        env = {key: value for key, value in os.environ.items() if key != HEADLESS_ENV}  # live widgets
        env.update(JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"), JUPYTER_CONFIG_DIR=str(self.workdir / "config"))
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}", f"--LabApp.user_settings_dir={self.workdir / 'settings'}",
                   f"--LabApp.workspaces_dir={self.workdir / 'workspaces'}", "--KernelManager.transport=ipc",
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
