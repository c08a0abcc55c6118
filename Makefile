# iscc-lab: `make serve` runs the REST API, `make test` runs every test.
# Both do all set-up themselves (idempotently); `make venv` does the set-up alone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.iscc-lab-installed
PORT   ?= 8000
ARGS   ?=

.PHONY: venv tools test serve bench clean

venv: tools $(STAMP)

tools:
	@bash scripts/install-tools.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,dask]"
	@# editable installs skip data files: enable the extension in the venv explicitly
	install -D -m 644 jupyter-config/jupyter_server_config.d/iscc_lab.json \
		$(VENV)/etc/jupyter/jupyter_server_config.d/iscc_lab.json
	@touch $(STAMP)

test: venv
	@# the widget test runs JupyterLab in Debian's Chromium (never a downloaded browser)
	@bash scripts/install-tools.sh chromium fonts-liberation
	$(PY) -m pytest

serve: venv
	$(VENV)/bin/iscc-lab serve --port $(PORT) $(ARGS)

bench: venv
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
