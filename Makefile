# backprop-lab: `make report` builds everything and writes report/; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Headless: widgets collapse to their defaults, progress bars stay silent (stable stored outputs).
export BACKPROP_LAB_HEADLESS := 1
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 600

.PHONY: setup report test unit nbval refresh student

setup: $(STAMP)

# Re-installs only when requirements.txt or pyproject.toml changed; otherwise a no-op in seconds.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

report: $(STAMP)
	$(PY) -m tools.report

test: $(STAMP)
	$(PY) -m pytest tests notebooks $(PYTEST_NBVAL)

unit: $(STAMP)
	$(PY) -m pytest tests

nbval: $(STAMP)
	$(PY) -m pytest notebooks $(PYTEST_NBVAL)

# After changing a notebook or a helper it calls: re-execute and store fresh outputs.
# `make refresh NB=notebooks/01_spiral_gradient_descent.ipynb` for one notebook.
NB ?= notebooks/*.ipynb
refresh: $(STAMP)
	$(PY) -m tools.refresh $(NB)

# Student versions: solution blocks replaced by stubs, outputs cleared (report/student/).
student: $(STAMP)
	$(PY) -m tools.editions
