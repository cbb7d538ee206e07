# The README's commands. Everything installs into .venv from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo bench lint unit e2e infra clean

$(STAMP): requirements.txt requirements-dev.txt functions/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Two workers (the machine has two cores); a file's tests stay together in one worker.
test: lint
	$(BIN)/pytest -q -n 2 --dist loadfile

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

demo: $(STAMP)
	$(BIN)/cloudsync demo

# rclone (Debian) is one of the peers; the bench reports "not installed" when it cannot be had.
bench: $(STAMP)
	command -v rclone >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && apt-get install -y -qq rclone >/dev/null; } || true
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
