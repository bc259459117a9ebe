# Two commands do all set-up on a machine with python3 and make:
#   make run   - the embedded local stack (Temporal dev server + TikTok simulator + S3 + worker)
#   make test  - lint, type-check, schema freshness, and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck generate generate-check pytest histories freeze-histories \
	bench clean \
	bench-burst bench-sleepers bench-rolling bench-ambiguity bench-webhooks bench-staging \
	bench-due

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
	$(BIN)/mypy workflows activities worker starter simulator telemetry account_store

generate: $(STAMP)
	$(BIN)/tiktok-publisher generate

generate-check: $(STAMP)
	$(BIN)/tiktok-publisher generate --check

# Two processes, each with its own Temporal servers, simulator, S3 and PostgreSQL; a file's
# tests stay together in one (module fixtures, order). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile

# Every benchmark and one table of ratios (bench/README.md); BENCH_ARGS=--quick for a smoke run.
bench: $(STAMP)
	$(BIN)/python -m bench.suite $(BENCH_ARGS)

# Stage a generated 1 GB file through S3 (moto): throughput against a raw single-thread
# upload_fileobj of the same bytes (ratio >= 1.0) and peak memory growth (bound).
bench-staging: $(STAMP)
	$(BIN)/python -m bench.stage_large_file --size-mb 1000

# Posts on many accounts due in the same second, against a bare timer+activities workflow.
bench-due: $(STAMP)
	$(BIN)/python -m bench.due_time --posts 100

# 50 posts for one account due at once, TikTok's default limits (simulator): 429s, inits per
# rolling minute, published / waiting / failed, time to drain.
# API calls per published post: webhooks on against polling only, and a fault run.
bench-webhooks: $(STAMP)
	$(BIN)/python -m bench.webhooks --posts 25 --time-scale 0.1

bench-burst: $(STAMP)
	$(BIN)/python -m bench.burst --posts 50 --workers 1

# 10 000 posts sleeping a week ahead: worker memory against idle, and the starter's submit
# rate against a raw start_workflow (bench/README.md). POSTS=1000 for a quick run.
POSTS ?= 10000
bench-sleepers: $(STAMP)
	$(BIN)/python -m bench.sleepers --posts $(POSTS)

# Workers replaced one at a time (SIGTERM and kill -9) while 500 posts publish against the
# simulator: none lost or published twice; throughput of 2 workers against 1.
ROLLING_POSTS ?= 500
bench-rolling: $(STAMP)
	$(BIN)/python -m bench.rolling_restarts --posts $(ROLLING_POSTS)

# Freeze the saved histories as the release's (tests/histories/released/<version>/): they
# are replayed by every later version and never re-recorded. Run it for each release.
freeze-histories: $(STAMP)
	$(BIN)/python -m tests.freeze_histories

# Re-record the saved workflow histories that tests/test_replay.py replays. Only after an
# intentional workflow change that is safe for running posts (see README, Development).
histories: $(STAMP)
	RECORD_HISTORIES=1 $(BIN)/pytest -q tests/test_publish_post_schedule.py \
	  tests/test_publish_post_e2e.py tests/test_tiktok_webhooks.py tests/test_webhooks_out.py \
	  tests/test_analytics.py tests/test_followers.py tests/test_operator_truth.py \
	  tests/test_accounts.py tests/test_prepare_before_due.py tests/test_ambiguity_evidence.py \
	  -k "$(HISTORY_TESTS)"

HISTORY_TESTS := week_ahead or reschedule_moves or cancel_while or publish_now or \
	direct_video_is or inbox_draft_is or carousel_is or url_ownership or lost_file_upload or pulled_media or \
	content_fail_reason or token_expiring or webhooks_publish or faulty_delivery \
	or fails_hangs_and_recovers or followed_and_its_numbers or needs_reconnecting \
	or keeps_failing or summary or no_answer or ready_before or rescheduling_a_ready \
	or pulled_copies_made or daily_follower_schedule or ghost_that_went_live \
	or pull_failed_is_retried or two_claimants or can_be_cancelled

clean:
	rm -rf $(VENV) .temporal .pytest_cache .mypy_cache .ruff_cache

# Lost init answers under kill -9, played twice in one run: without ghost retries (the rule
# before issue 15) and with them; the share of posts left AMBIGUOUS_INIT, duplicates, lost.
AMBIGUITY_POSTS ?= 40
bench-ambiguity: $(STAMP)
	$(BIN)/python -m bench.ambiguity --posts $(AMBIGUITY_POSTS)
