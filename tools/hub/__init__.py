"""The tested hub recipe: a class on one machine's JupyterHub, graded with nbgrader's exchange.

- ``jupyterhub_config.py``: JupyterHub's configuration (PAM logins, ``LocalProcessSpawner``, the shared course
  environment, the workspace written at each login, nbgrader's settings per role);
- ``demo.py``: ``python -m tools.hub start|stop`` (``make hub``, ``make hub-stop``): a demo class on loopback,
  real Unix users created and removed;
- ``package.json``: configurable-http-proxy, JupyterHub's proxy, from npm (``make hub-proxy``).

``tests/test_hub.py`` runs a term's loop through it end to end. docs/deployment.md says how to deploy it.
"""
