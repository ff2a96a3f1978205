VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test
PORT ?= 8000

.PHONY: run test lint typecheck bench vendor clean system-deps check-uvicorn screenshots

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(TESTSTAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(STAMP)
	$(VENV)/bin/checkin serve --demo --port $(PORT)

lint: $(TESTSTAMP)
	$(VENV)/bin/ruff check checkin tests bench
	$(VENV)/bin/ruff format --check checkin tests bench

typecheck: $(TESTSTAMP)
	$(VENV)/bin/mypy

system-deps:
	scripts/system-deps.sh test

test: lint typecheck system-deps
	$(VENV)/bin/pytest --cov=checkin --cov-branch --cov-report=term:skip-covered

bench: $(TESTSTAMP)
	scripts/system-deps.sh bench
	$(PY) -m bench

screenshots: $(TESTSTAMP)
	$(PY) -m tests.screenshots

check-uvicorn:
	scripts/check-uvicorn.sh

vendor:
	scripts/vendor.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
