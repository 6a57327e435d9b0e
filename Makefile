# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PORT ?= 8000
export LOCAL_AWS_PORT ?= 5000
STAGE ?= dev

.PHONY: run test package clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)  ## the whole service on the embedded AWS emulator, with demo data
	exec $(BIN)/python -m local.run

test: $(STAMP)  ## the whole suite
	$(BIN)/python -m pytest

package: $(STAMP)  ## the stage's SAM template and deployment.zip in out/ (STAGE=dev|prod), checked
	rm -rf out
	$(BIN)/python -m deploy.package --stage $(STAGE) out
	$(BIN)/python -m deploy.stack out/sam.json

clean:
	rm -rf $(VENV) out .pytest_cache
