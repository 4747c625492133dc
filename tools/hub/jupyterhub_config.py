"""JupyterHub's configuration for a class: ``jupyterhub -f tools/hub/jupyterhub_config.py`` (``python -m tools.hub
start`` runs it; see :mod:`tools.hub`).

Everything site-specific comes from the settings file named by ``BACKPROP_LAB_HUB_SETTINGS`` (JSON, written by
:func:`tools.hub.demo.write_settings`): ports, the state folder, the course folder and its environment, who
teaches and who studies, nbgrader's exchange. A university's hub keeps this file and writes its own settings
(its authenticator in place of PAM, its users from the registry).

What each part is:

- the proxy is configurable-http-proxy from npm (``tools/hub/package.json``), started and stopped by the hub;
- users log in with their Unix password (PAM) and each server runs as that Unix user (``LocalProcessSpawner``),
  from the one course environment every user can run (``settings["python"]``'s folder), read-only to them;
- before a server starts, :func:`prepare_user` gives it its role's environment and runs the editions tool as
  the user into ``~/<settings["workspace"]>``: the first login creates the workspace, later ones update it
  three ways (the student's changes are kept; see :mod:`tools.workspace`);
- nbgrader's settings (the exchange, the course id) reach every server through ``JUPYTER_CONFIG_PATH``: the
  instructors' folder also enables the formgrader, the students' folder switches it and assignment creation
  off, server and JupyterLab side.
"""
import asyncio
import json
import os
import pwd
import shutil
from pathlib import Path

settings = json.loads(Path(os.environ["BACKPROP_LAB_HUB_SETTINGS"]).read_text())
state = Path(settings["state"])
runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")  # util-linux; root's tools folder

c = get_config()  # noqa: F821 (JupyterHub provides it)

# Loopback only: a demo class on this machine (a real hub puts TLS in front, or binds a public address).
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server and the proxy

c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login sessions to account for: servers are plain processes
c.Authenticator.allowed_users = set(settings["instructors"]) | set(settings["students"])
c.Authenticator.admin_users = set(settings["instructors"])

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(Path(settings["python"]).parent / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = f"/lab/tree/{settings['workspace']}"
c.Spawner.start_timeout = 120  # a first login writes the workspace, then the server imports JupyterLab
c.Spawner.http_timeout = 120


async def prepare_user(spawner) -> None:
    """Give the user's server its role's environment (``settings["environments"]``, written by
    :func:`tools.hub.demo.user_environment`), then run the editions tool as the user into ``~/<workspace>``
    (create on first login, update after), with the course folder as the working folder so that the course's own
    ``tools`` and ``helpers`` write it. Async: a class logging in at once does not queue behind one student's
    copy."""
    role = "instructor" if spawner.user.name in settings["instructors"] else "student"
    spawner.environment.update(settings["environments"][role])
    home = pwd.getpwnam(spawner.user.name).pw_dir
    process = await asyncio.create_subprocess_exec(
        runuser, "-u", spawner.user.name, "--", settings["python"], "-m", "tools.editions", "--no-start-line",
        str(Path(home) / settings["workspace"]),
        cwd=settings["course"], env={"HOME": home, "PATH": spawner.environment["PATH"], "LANG": "C.UTF-8"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    spawner.log.info("workspace for %s:\n%s", spawner.user.name, output.decode(errors="replace"))
    if process.returncode != 0:
        raise RuntimeError(f"the workspace for {spawner.user.name} could not be written: "
                           f"{output.decode(errors='replace')[-2000:]}")


c.Spawner.pre_spawn_hook = prepare_user
