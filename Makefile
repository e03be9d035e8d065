# perfgen's task runner. `make` (or `make site`) builds the bundled example; `make test` runs
# every test. Both create .venv on first use, so a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: site test install install-test lint schema example-data te-import clean

site: install
	$(BIN)/perfgen build

test: install-test
	$(BIN)/python -m pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

lint: install-test
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check src tests

# Regenerate the committed JSON Schema of services.yml from the typed config declaration.
schema: install
	$(BIN)/perfgen schema > schema/services.schema.json

# Regenerate the bundled real data from the Transactions Explorer spreadsheet.
te-import: install
	$(BIN)/perfgen import transactions-explorer ../shared/data/uk-transactions-explorer-2018/services.csv --out .

clean:
	rm -rf site .pytest_cache
