# iscc-lab: `make serve` runs the REST API, `make test` runs every test.
# Both do all set-up themselves (idempotently); `make venv` does the set-up alone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BOOT   ?= .bootstrap
UV_VERSION ?= 0.13.9
PORT   ?= 8000
ARGS   ?=

.PHONY: venv tools test serve bench lock clean

# exactly the versions in uv.lock (all extras), installed by uv from PyPI
venv: tools
	@PYTHON=$(PYTHON) VENV=$(VENV) BOOT=$(BOOT) UV_VERSION=$(UV_VERSION) bash scripts/venv.sh
	@# editable installs skip data files: enable the extension in the venv explicitly
	@install -D -m 644 jupyter-config/jupyter_server_config.d/iscc_lab.json \
		$(VENV)/etc/jupyter/jupyter_server_config.d/iscc_lab.json

tools:
	@bash scripts/install-tools.sh

# refresh uv.lock from the ranges in pyproject.toml; then `make test` shows whether they pass
lock:
	@PYTHON=$(PYTHON) VENV=$(VENV) BOOT=$(BOOT) UV_VERSION=$(UV_VERSION) bash scripts/venv.sh --boot-only
	$(BOOT)/bin/uv lock --upgrade --python $(PYTHON)

test: venv
	@# the widget test runs JupyterLab in Debian's Chromium (never a downloaded browser)
	@bash scripts/install-tools.sh chromium fonts-liberation fonts-noto-cjk
	@# style and the import contract first: seconds, where the suite takes minutes
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

serve: venv
	$(VENV)/bin/iscc-lab serve --port $(PORT) $(ARGS)

bench: venv
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) $(BOOT) build *.egg-info .pytest_cache
