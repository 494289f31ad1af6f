# Qunlive: `make run` starts the platform, `make test` runs every test.
# Both create .venv and install the pinned dependencies when missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Three workers (a test file each, so a file's fixtures stay together) on 2 cores: 9.7
# minutes on a quiet machine, 13.8 on a loaded one (1414 tests, PostgreSQL and Chromium on). The run is CPU-bound (vmstat: 6-7% idle), so more workers would not make it faster.
# `make test TEST_PARALLEL=` runs it in one process.
TEST_PARALLEL ?= -n 3 --dist loadfile
SERVICES := ingest live orders analytics

.PHONY: help run test lint format docs bench demo vendor clean

help:  ## this menu
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)  ## start NATS + the four services on this machine (Ctrl-C stops all)
	$(BIN)/python -m services.launcher

demo: $(STAMP)  ## a whole simulated show on the embedded default, report printed (< 2 min)
	$(BIN)/python -m services.demo

test: $(STAMP)  ## the whole test suite (PostgreSQL variants need TEST_POSTGRES_URL)
	$(BIN)/python -m pytest $(TEST_PARALLEL)

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check shared services tests bench
	$(BIN)/ruff format --check shared services tests bench
	$(BIN)/mypy shared services bench

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix shared services tests bench
	$(BIN)/ruff format shared services tests bench

docs: $(STAMP)  ## regenerate the AsyncAPI and OpenAPI documents under docs/api/
	@mkdir -p docs/api
	@for s in $(SERVICES); do \
		$(BIN)/faststream docs gen --factory services.$$s.main:asyncapi -o docs/api/$$s.asyncapi.json >/dev/null && \
		$(BIN)/python -c "import json, services.$$s.main as m; print(json.dumps(m.create_app().openapi(), indent=2, ensure_ascii=False))" > docs/api/$$s.openapi.json && \
		echo "docs/api/$$s.{asyncapi,openapi}.json"; \
	done
	@$(BIN)/python -c "import json, services.live.protocol as p; print(json.dumps(p.json_schema(), indent=2, ensure_ascii=False))" > docs/api/live.websocket.json
	@echo docs/api/live.websocket.json

# Each benchmark's options, e.g. `make bench BENCH_ANALYTICS="--runs 3 --events 200000"`.
# PostgreSQL figures (orders, analytics) need TEST_POSTGRES_URL in the environment.
# Live serves without permessage-deflate (decision 0011): its references run without it too;
# --join-storm adds 1,000 viewers joining within 10 s while chat runs (decision 0046).
BENCH_LIVE      ?= --runs 3 --no-compression --join-storm
# Two bursts per run: sell-out (10,000 units, 20,000 buyers) and all-win (20,000 / 20,000);
# the same checkout solved by FastAPI (decision 0049) and the in-memory stock owner
# prototype (decision 0051, PostgreSQL only) in the same run.
BENCH_ORDERS    ?= --repeat 3 --compare-fastapi --owner-prototype
# One hot offer on 1, 2 and 3 orders processes (the capacity model's checkout sizes).
BENCH_SCALE_OUT ?= --procs 1,2,3
# The capacity model's other sizes: one live process at 250/500/1,000 viewers, one ingest at
# 8/32/128 connections, shows of 100,000/300,000/1,000,000 events (docs/CAPACITY.md).
BENCH_CAPACITY  ?=
BENCH_INGEST    ?= --runs 3
# The report goal is for one show of 1,000,000 events: one show holds them all.
BENCH_ANALYTICS ?= --runs 3 --events 1000000 --events-per-show 1000000
# The video benchmark needs Chromium (apt-get install chromium) and wrk; nginx, when
# installed, is measured as a second static-file ceiling.
BENCH_VIDEO     ?= --runs 3
# Pictures: uploads (Pillow), a cached picture served (wrk), RSS with 50 slow readers.
BENCH_MEDIA     ?= --runs 3
# Messages to 100 groups: the queue + limiter against httpx straight, and Telegram's limits.
BENCH_OUTBOUND  ?= --runs 3
# A claim's reply in its group: a Telegram +1 -> order placed -> reply (20 groups, 10/s).
BENCH_CLAIM_REPLY ?= --runs 3

bench: $(STAMP)  ## every benchmark under bench/ (needs wrk, Chromium), then docs/PERFORMANCE.md and CAPACITY.md
	failed=""; \
	$(BIN)/python -m bench.live_fanout $(BENCH_LIVE) || failed="$$failed live_fanout"; \
	$(BIN)/python -m bench.orders_flash_sale $(BENCH_ORDERS) || failed="$$failed orders_flash_sale"; \
	$(BIN)/python -m bench.ingest_webhook $(BENCH_INGEST) || failed="$$failed ingest_webhook"; \
	$(BIN)/python -m bench.analytics_projection $(BENCH_ANALYTICS) || failed="$$failed analytics_projection"; \
	$(BIN)/python -m bench.video $(BENCH_VIDEO) || failed="$$failed video"; \
	$(BIN)/python -m bench.media $(BENCH_MEDIA) || failed="$$failed media"; \
	$(BIN)/python -m bench.outbound $(BENCH_OUTBOUND) || failed="$$failed outbound"; \
	$(BIN)/python -m bench.claim_reply $(BENCH_CLAIM_REPLY) || failed="$$failed claim_reply"; \
	$(BIN)/python -m bench.orders_scale_out $(BENCH_SCALE_OUT) || failed="$$failed orders_scale_out"; \
	$(BIN)/python -m bench.capacity $(BENCH_CAPACITY) || failed="$$failed capacity"; \
	$(BIN)/python -m bench.report || exit 1; \
	if [ -n "$$failed" ]; then echo "failed:$$failed (docs/PERFORMANCE.md shows their last results, dated, or says not run)"; exit 1; fi

vendor:  ## update the vendored hls.js and jsQR (npm pack; HLS_VERSION=1.7.4, JSQR_VERSION=1.4.0 for exact ones)
	scripts/vendor-hls.sh $(HLS_VERSION)
	scripts/vendor-jsqr.sh $(JSQR_VERSION)

clean:  ## remove local data (.data/) and caches; keeps .venv
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache test-artifacts
