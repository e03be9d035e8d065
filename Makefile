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
	rm -rf site .pytest_cache public site-base .pr-base new-data-report.md

# --- The GitHub workflows, step by step ------------------------------------------------------
# Each workflow in .github/workflows/ runs these targets in this order (tests/test_workflows.py
# checks it), so a run can be repeated here:
#   make publish     nightly and on push to main (publish.yml): build strictly, then report
#   make pr-check    a pull request (pull-request.yml): validate, build before and after, report
#   make new-data FETCH_COMMAND='...'   the scheduled new-data job (new-data.yml), before its
#                    commit and pull request
# TODAY is the build date (freshness and corrections); BASE_URL the public address of the site;
# PREVIOUS the previously published site (folder or address); PUBLISH_DIR what publish uploads;
# STRICT=false publishes despite warnings; SUMMARY where reports go.
TODAY ?= $(shell date -u +%F)
BASE_URL ?=
PREVIOUS ?= site
PUBLISH_DIR ?= public
STRICT ?= true
SUMMARY ?= /dev/stdout
BASE_REF ?= HEAD
FETCH_COMMAND ?=
REPORT ?= new-data-report.md
SITE_OPTIONS = --today $(TODAY) $(if $(BASE_URL),--base-url $(BASE_URL))

.PHONY: publish publish-build publish-report pr-check pr-validate pr-build-base pr-build pr-report new-data fetch-data new-data-report

publish: publish-build publish-report

publish-build: install
	$(BIN)/perfgen build $(if $(filter true,$(STRICT)),--strict) $(SITE_OPTIONS) --previous $(PREVIOUS) --output $(PUBLISH_DIR)

# What tonight's build changes on the published site (nothing to compare with the first time).
publish-report: install
	$(BIN)/perfgen diff $(PREVIOUS) $(PUBLISH_DIR) --format markdown --title "What this build changes on the published site" >> $(SUMMARY) \
	  || echo "Nothing was published at $(PREVIOUS) before: this is the first publication." >> $(SUMMARY)

pr-check: pr-validate pr-build-base pr-build pr-report

pr-validate: install
	$(BIN)/perfgen validate --format github --today $(TODAY)

# The site as it is at BASE_REF, built by that commit's own perfgen (so code changes show too;
# options older versions lack are passed in the environment).
pr-build-base: install
	rm -rf .pr-base site-base && mkdir .pr-base
	git archive $(BASE_REF) | tar -x -C .pr-base
	mkdir -p .perfgen-cache && ln -s ../.perfgen-cache .pr-base/.perfgen-cache  # charts drawn once for both builds
	cd .pr-base && PERFGEN_TODAY=$(TODAY) PYTHONPATH=src $(abspath $(BIN))/python -m perfgen build --quiet --output ../site-base

pr-build: install
	$(BIN)/perfgen build $(SITE_OPTIONS) --previous site-base --output site

pr-report: install
	$(BIN)/perfgen diff site-base site --format markdown >> $(SUMMARY)

new-data: fetch-data pr-build-base new-data-report

export FETCH_COMMAND
fetch-data: install
	@test -n "$$FETCH_COMMAND" || { echo "Set FETCH_COMMAND to the command that writes the new export into data/" >&2; exit 2; }
	sh -c "$$FETCH_COMMAND"

# The pull request's description: the validation result, then what the new data changes.
new-data-report: install
	{ echo "## Validation"; echo; echo '```'; $(BIN)/perfgen validate --today $(TODAY) 2>&1; echo '```'; echo; } > $(REPORT); \
	if $(BIN)/perfgen build --quiet $(SITE_OPTIONS) --previous site-base --output site; then \
	  $(BIN)/perfgen diff site-base site --format markdown --title "What this data changes on the published site" >> $(REPORT); \
	else echo "The site could not be built from this data: see the validation above." >> $(REPORT); fi
	@echo "Wrote $(REPORT)"
