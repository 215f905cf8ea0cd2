# The two commands a newcomer needs: `make run` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: install run test bench fuzz lint audit screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# The embedded default: SQLite in instance/, in-process cache, inline jobs, pushes recorded not sent.
run: install
	APP_ENV=development $(BIN)/flask db upgrade
	APP_ENV=development $(BIN)/flask seed
	APP_ENV=development $(BIN)/flask run --host 127.0.0.1 --port $(PORT)

test: install
	$(BIN)/pytest

bench: install
	bash bench/run.sh

# Long property-based fuzzing of every operation in the OpenAPI spec (make test runs a short version).
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(BIN)/pytest -p no:cacheprovider tests/test_fuzz.py

# Every page of the officers' console at desktop and phone width (Debian's chromium), into docs/console/.
screenshots: install
	$(BIN)/python -m tests.console.screenshots docs/console

lint: install
	$(BIN)/ruff check .

# Known vulnerabilities in the pinned dependencies (fails when any is reported).
audit: install
	$(BIN)/pip-audit --progress-spinner off --no-deps --disable-pip -r requirements.txt -r requirements-dev.txt

clean:
	rm -rf $(VENV) instance .pytest_cache
