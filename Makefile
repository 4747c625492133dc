# backprop-lab: `make report` builds everything and writes report/; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Headless: widgets collapse to their defaults, progress bars stay silent (stable stored outputs).
export BACKPROP_LAB_HEADLESS := 1
# The project's JupyterLab settings (jupyter/README.md), installed into the venv's JupyterLab at setup
LAB_SETTINGS := jupyter/overrides.json jupyter/jupyter_server_config.json jupyter/backprop_lab_save_hook.py
# -rs: a skipped test says why (the browser test says how to enable it)
# make test runs in TEST_JOBS processes, one test file (or notebook) at a time each
TEST_JOBS ?= 2
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 600

.PHONY: setup data report test unit nbval refresh student hub hub-stop hub-proxy

setup: $(STAMP)

# Re-installs only when requirements.txt, pyproject.toml or jupyter/ changed; otherwise a no-op in seconds.
# pip shows each package and a progress bar: PyTorch alone takes minutes, and silence looks like a hang.
$(STAMP): requirements.txt pyproject.toml $(LAB_SETTINGS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing requirements.txt into $(VENV) (PyTorch is large: a few minutes the first time)..."
	$(PY) -m pip install --progress-bar on -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@# JupyterLab from this venv: no autosave or widget state (committed notebooks stay as committed), a save keeps
	@# widgets' static pictures, no news popup or update check, kernels over IPC (no unencrypted-TCP warning)
	mkdir -p $(VENV)/share/jupyter/lab/settings $(VENV)/etc/jupyter/jupyter_server_config.d
	cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	cp jupyter/jupyter_server_config.json $(VENV)/etc/jupyter/jupyter_server_config.d/backprop-lab.json
	cp jupyter/backprop_lab_save_hook.py "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/"
	@# The project itself is not installed (a kernel imports its own folder's helpers): drop an older editable install
	$(PY) -m pip uninstall --quiet --yes backprop-lab 2>/dev/null || true
	touch $(STAMP)

# The CIFAR-10 caches, built once before the notebooks (or a class, or the tests) need them.
data: $(STAMP)
	$(PY) -m tools.data

report: $(STAMP)
	$(PY) -m tools.report

# JupyterHub's proxy for the hub recipe (tools/hub), from npm; skipped where npm is missing (the hub test says so).
PROXY := tools/hub/node_modules/.bin/configurable-http-proxy
hub-proxy: $(if $(shell command -v npm),$(PROXY))

$(PROXY): tools/hub/package.json tools/hub/package-lock.json
	npm ci --prefix tools/hub --no-audit --no-fund
	touch $(PROXY)

# A demo class on this machine's loopback (as root: it creates the Unix users): an instructor and STUDENTS
# students, logins printed; `make hub-stop` stops it and removes the users it created (tools/hub).
STUDENTS ?= 3
hub: $(STAMP) data hub-proxy
	$(PY) -m tools.hub start --students $(STUDENTS)

hub-stop:
	$(PY) -m tools.hub stop

# The caches are built first (a separate step), so the tests read them instead of each building its own.
test: $(STAMP) data hub-proxy
	$(PY) -m pytest -rs -n $(TEST_JOBS) --dist loadfile tests notebooks $(PYTEST_NBVAL)

# The quick loop (≤ 2 minutes): every test but the end-to-end ones (tests/conftest.py, END_TO_END).
unit: $(STAMP)
	$(PY) -m pytest -rs -n $(TEST_JOBS) -m "not end_to_end" tests

nbval: $(STAMP)
	$(PY) -m pytest notebooks $(PYTEST_NBVAL)

# After changing a notebook or a helper it calls: re-execute and store fresh outputs.
# `make refresh NB=notebooks/01_spiral_gradient_descent.ipynb` for one notebook.
NB ?= notebooks/*.ipynb
refresh: $(STAMP)
	$(PY) -m tools.refresh $(NB)

# The student workspace: notebooks beside stubbed helpers in student/ (git-ignored); re-running keeps the student's changes.
student: $(STAMP)
	$(PY) -m tools.editions
