# Build and test entry points. CI runs `make test` through .ci/run.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Debian installs the PostgreSQL server binaries outside PATH, one folder per major version.
PG_BIN_GLOB := /usr/lib/postgresql/*/bin/initdb

.PHONY: venv run test test-k8s lint clean postgres plpython chromium

venv: $(VENV)/.installed

# --upgrade-deps: the pip bundled with Python 3.11 (23.2) gives up resolving the dev extras'
# boto3/aiobotocore pins (ResolutionImpossible) that a current pip resolves.
$(BIN)/python:
	$(PYTHON) -m venv --upgrade-deps $(VENV)

# Stamps newer than pyproject.toml skip pip until the dependencies change; `|` creates the
# venv only when missing, without its timestamp triggering reinstalls.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: venv
	$(BIN)/slipway demo

# The test fixtures start a real PostgreSQL server from these binaries (tests/conftest.py).
postgres:
	@if ! command -v initdb >/dev/null && ! ls $(PG_BIN_GLOB) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=; \
	  elif command -v sudo >/dev/null; then sudo=sudo; \
	  else echo "make: initdb missing; as root: apt-get install postgresql" >&2; exit 1; fi; \
	  $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	fi

# The SQL tests run PL/Python functions inside that server, so it needs the package of its
# major version (tests/test_sql_postgres.py).
plpython: postgres
	@major=$$(ls /usr/lib/postgresql | sort -n | tail -1); \
	if [ ! -e /usr/lib/postgresql/$$major/lib/plpython3.so ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=; \
	  elif command -v sudo >/dev/null; then sudo=sudo; \
	  else echo "make: PL/Python missing; as root: apt-get install postgresql-plpython3-$$major" >&2; exit 1; fi; \
	  $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-plpython3-$$major; \
	fi

# The Studio tests drive Debian's Chromium through Playwright (tests/test_studio.py);
# Playwright's own browser download is not used.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=; \
	  elif command -v sudo >/dev/null; then sudo=sudo; \
	  else echo "make: chromium missing; as root: apt-get install chromium" >&2; exit 1; fi; \
	  $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

# No `|| true` anywhere: pytest's exit 5 (no tests collected) must fail the run.
test: $(VENV)/.installed-dev postgres plpython chromium
	$(BIN)/python -m pytest -q --durations=15

# The operator end to end needs a real cluster (an API server, no nodes needed).
test-k8s: $(VENV)/.installed-dev
	KUBECONFIG=$${KUBECONFIG:?set KUBECONFIG to the cluster to test against} \
	  $(BIN)/python -m pytest -q tests/test_operator_e2e.py

# wildcard drops a folder git has not got yet (git keeps no empty folders), which ruff rejects.
LINT_PATHS := $(wildcard src tests bench)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

# Leaves .venv alone; `rm -rf .venv` for a full reinstall.
clean:
	rm -rf .pytest_cache .ruff_cache build dist test-output
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
