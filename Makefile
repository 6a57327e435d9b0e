# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up.
# `make bench` measures what each request costs against its budgets (README "Benchmark").
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Checkov (the stack's security scan) in a virtualenv of its own: its boto3 pin cannot share ours.
CHECKOV_STAMP := .venv-checkov/.installed
AXE := tests/browser/node_modules/axe-core/axe.min.js
API_LINT := tests/api_lint/node_modules/.installed
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PORT ?= 8000
export LOCAL_AWS_PORT ?= 5000
STAGE ?= dev

.PHONY: run test bench package screenshots clean catalogs

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
$(CHROMIUM):
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium

# axe-core (the accessibility rules the browser tests check the page against), pinned in the lock file.
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	command -v npm >/dev/null || { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y npm; }
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	touch $@

# Spectral and Redocly (the API description's linters, run by tests/test_api_lint.py), pinned in the lock file.
$(API_LINT): tests/api_lint/package.json tests/api_lint/package-lock.json
	command -v npm >/dev/null || { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y npm; }
	npm ci --prefix tests/api_lint --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP)  ## the whole service on the embedded AWS emulator, with demo data
	exec $(BIN)/python -m local.run

test: $(STAMP) $(CHECKOV_STAMP) $(CHROMIUM) $(AXE) $(API_LINT)  ## lint, then the whole suite, browser tests, the API description's linters and the stack's checkov scan included
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

screenshots: $(STAMP)  ## docs/scheduling-*.png for the README, taken from the stack of `make run`
	$(BIN)/python -m tests.browser.screenshots

package: $(STAMP) $(CHECKOV_STAMP)  ## the stage's SAM template and deployment.zip in out/ (STAGE=dev|prod), checked
	rm -rf out
	$(BIN)/python -m deploy.package --stage $(STAGE) out
	$(BIN)/python -m deploy.stack out/sam.json
	$(BIN)/python -m deploy.scan out/sam.json

bench: $(STAMP)  ## requests, items read, latency, imports and bundle size, against budgets
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .venv-checkov out .pytest_cache test-artifacts tests/browser/node_modules tests/api_lint/node_modules bench-results

# The patient texts' catalogs (README "Languages"): extract the messages from the code and the
# templates, merge them into every language's .po (new ones empty, to translate), compile the .mo.
PYBABEL_KEYWORDS := --no-default-keywords -k _ -k gettext -k ngettext:1,2 -k N_
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(PYBABEL_KEYWORDS) --sort-by-file --omit-header -o chalicelib/locale/messages.pot .
	$(BIN)/pybabel update -i chalicelib/locale/messages.pot -d chalicelib/locale --no-fuzzy-matching --ignore-pot-creation-date
	$(BIN)/pybabel compile -d chalicelib/locale --statistics
