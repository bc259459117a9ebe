# Two commands do all set-up on a machine with python3 and make:
#   make run   - the embedded local stack (Temporal dev server + TikTok simulator + S3 + worker)
#   make test  - lint, type-check, schema freshness, and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck generate generate-check pytest histories bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tiktok-publisher dev

test: $(STAMP) lint typecheck generate-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy workflows activities worker starter simulator account_store

generate: $(STAMP)
	$(BIN)/tiktok-publisher generate

generate-check: $(STAMP)
	$(BIN)/tiktok-publisher generate --check

pytest: $(STAMP)
	$(BIN)/pytest -q

# Stage a generated 300 MB file through S3 (moto) and report throughput and peak memory.
bench: $(STAMP)
	$(BIN)/python -m bench.stage_large_file --size-mb 300

# Re-record the saved workflow histories that tests/test_replay.py replays. Only after an
# intentional workflow change that is safe for running posts (see README, Development).
histories: $(STAMP)
	RECORD_HISTORIES=1 $(BIN)/pytest -q tests/test_publish_post_schedule.py \
	  tests/test_publish_post_e2e.py -k "$(HISTORY_TESTS)"

HISTORY_TESTS := week_ahead or reschedule_moves or cancel_while or publish_now or \
	direct_video_is or inbox_draft_is or carousel_is or url_ownership or ambiguous_init or \
	content_fail_reason or token_expiring

clean:
	rm -rf $(VENV) .temporal .pytest_cache .mypy_cache .ruff_cache
