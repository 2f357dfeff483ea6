# FAOS Workflows. `make run` sets up and starts everything; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run setup test lint format bench chaos clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Development and test tools (requirements-dev.txt includes requirements.txt): only test, lint and format need them.
$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# var/local.env (written once, git-ignored) turns DEBUG on and holds this checkout's generated keys;
# without it, settings are production's and refuse to start without SECRET_KEY and FAOS_ENCRYPTION_KEYS.
setup: $(BIN)/.installed
	mkdir -p var
	$(BIN)/python -m faos.local_env
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py load_templates
	$(BIN)/python manage.py load_demo

run: setup
	@$(BIN)/python manage.py ensure_admin
	$(BIN)/honcho start -f Procfile

# Two pytest-xdist workers, a test file each at a time, the costliest files first (tests/conftest.py; tests/xdist_workers.py
# gives each its own broker; pytest-django its own test database). TEST_WORKERS=0 runs everything in one process.
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: each real worker, server and command a test starts
# would otherwise compile the project again (~0.4 s a process here).
TEST_WORKERS ?= 2
test: $(BIN)/.installed-dev
	PYTHONDONTWRITEBYTECODE= FAOS_BROKER_DIR=var/test-broker $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Chaos (bench/chaos.py, bench/README.md): runs under SIGKILLed workers, then PostgreSQL and Redis restarts, on a
# PostgreSQL cluster and a Redis of its own (CHAOS_ARGS="--services shared" uses DATABASE_URL/CELERY_BROKER_URL and
# restarts the machine's; CHAOS_ARGS=--short is the test's version). Non-zero on failure.
chaos: $(BIN)/.installed-dev
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Keeps var/local.env: its key may still be needed by a database outside this folder (DATABASE_URL).
clean:
	[ ! -d var ] || find var -mindepth 1 -maxdepth 1 ! -name local.env -exec rm -rf {} +
	rm -rf db.sqlite3* staticfiles .pytest_cache
