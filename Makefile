# Two commands do all set-up on a machine with python3 and make:
#   make run   - the embedded local stack (Temporal dev server + TikTok simulator + S3 + worker)
#   make test  - lint, type-check, schema freshness, and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck schema schema-check pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tiktok-publisher dev

test: $(STAMP) lint typecheck schema-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy workflows activities worker starter simulator

schema: $(STAMP)
	$(BIN)/tiktok-publisher schema --write

schema-check: $(STAMP)
	$(BIN)/tiktok-publisher schema --check

pytest: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .temporal .pytest_cache .mypy_cache .ruff_cache
