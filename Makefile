# Two commands: `make run` starts the whole service, `make test` runs the whole suite.
# Both install into .venv first (once, and again when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint pytest bench openapi starter clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[ml,dev]'
	touch $@

run: install
	$(BIN)/dfdetect run

test: install lint pytest

lint: install
	$(BIN)/ruff check contract models workers service training bench cli tests
	$(BIN)/ruff format --check contract models workers service training bench cli tests
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: install
	$(BIN)/python -m pytest -q -ra

# Reference vs fast path per stage; e.g. make bench BENCH_ARGS='--repeats 3 --lengths 10'.
bench: install
	$(BIN)/dfdetect bench --json var/bench/report.json $(BENCH_ARGS)

# Rebuild the starter ensemble in models/starter from ../shared/data (resumable; ~45 min on 2 cores).
starter: install
	$(BIN)/dfdetect train starter $(STARTER_ARGS)

openapi: install
	$(BIN)/dfdetect openapi --out openapi/openapi.json

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
