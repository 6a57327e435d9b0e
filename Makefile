# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up.
# `make bench` measures what each request costs against its budgets (README "Benchmark").
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PORT ?= 8000
export LOCAL_AWS_PORT ?= 5000

# 1 once the clinic_emails stream handler is merged: a build without it then fails `make bench`.
BENCH_REQUIRE_STREAM ?= 0

.PHONY: run test bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)  ## the whole service on the embedded AWS emulator, with demo data
	exec $(BIN)/python -m local.run

test: $(STAMP)  ## the whole suite
	$(BIN)/python -m pytest

bench: $(STAMP)  ## requests, items read, latency, imports and bundle size, against budgets
	BENCH_REQUIRE_STREAM=$(BENCH_REQUIRE_STREAM) $(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) out .pytest_cache bench-results
