# The two commands of the README. Each creates the virtual environment when it is missing (or when a
# requirements file changed) and is safe to run again.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
DEV_READY := $(VENV)/.dev-ready

.PHONY: test demo format clean

$(READY): requirements.txt requirements-fairseq.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-fairseq.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(READY)

$(DEV_READY): $(READY) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_READY)

test: $(DEV_READY)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	PYTHON=$(PYTHON) bash tests/check_install.sh
	$(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder tests


demo: $(READY)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH bash examples/demo/run.sh

format: $(DEV_READY)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) .venv-install-check runs
