# The two commands a new user types: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
XDIST ?= -n 2 --dist loadfile  # pytest-xdist workers for the in-process suites (XDIST= for one)
# tests/federation on two workers (XDIST_FEDERATION= for one): it is the suite's critical path,
# mostly waiting on its processes (docs/architecture.md)
XDIST_FEDERATION ?= -n 2 --dist loadfile
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install system demo test screenshots lint format clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

## System packages (CJK font, poppler, SoftHSM2, NSS tools, zbar): installed only when missing.
system:
	@bash deploy/system-packages.sh || echo "警告：系统软件包未能安装（需要 root 或 sudo）；证照文件渲染与签章将不可用" >&2

install: $(VENV)/.installed system

## Run the federation: the hub (:8000), 郑州 410100 (:8001) and 洛阳 410300 (:8002), with
## Celery workers and beat, on embedded SQLite and a filesystem broker (REDIS_URL to use Redis).
demo: install
	$(PY) deploy/demo.py

## The whole suite against a real PostgreSQL and Redis: one pytest run per deployment, each
## folder under the settings it needs (tests mirror the code: docs/architecture.md).
## The shared library and the node's uplink under the node's settings, then the hub's
## aggregation under the hub's, each on two pytest-xdist workers; beside them, the federation
## of real processes (mostly waiting on its processes), whose output follows at the end.
test: install
	$(PY) deploy/check_services.py
	@mkdir -p var
	@$(PY) -m pytest tests/federation --ds=municipal_node.settings.test $(XDIST_FEDERATION) $(PYTEST_ARGS) \
		> var/test-federation.log 2>&1 & fed=$$!; \
	$(PY) -m pytest tests/shared tests/node --ds=municipal_node.settings.test $(XDIST) $(PYTEST_ARGS); node=$$?; \
	$(PY) -m pytest tests/hub --ds=provincial_hub.settings.test $(XDIST) $(PYTEST_ARGS); hub=$$?; \
	echo "== tests/federation (var/test-federation.log)"; wait $$fed; federation=$$?; \
	cat var/test-federation.log; \
	echo "== exit codes: node $$node, hub $$hub, federation $$federation"; \
	test $$node -eq 0 -a $$hub -eq 0 -a $$federation -eq 0

## PNGs of the main screens into docs/screenshots/ (a real Chromium against the test live
## server, as the browser tests): landing, sign-in, dashboards, issue form, licence, holder portal.
screenshots: install
	$(PY) deploy/check_services.py
	$(PY) -m pytest tests/screenshots/shoot_node.py --ds=municipal_node.settings.test -q $(PYTEST_ARGS)
	$(PY) -m pytest tests/screenshots/shoot_hub.py --ds=provincial_hub.settings.test -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var/demo var/test
