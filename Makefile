# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when it is
# missing and install loancore with its extras; on a ready machine the install step is skipped
# (the stamp file is newer than pyproject.toml).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install lint browser test demo docs bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The static checks: ruff (lint and format) over the code, mypy --strict over the library.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src

# The browser test's Chromium (Debian's package, installed as root when missing; a no-op when
# one is there): CI's fresh machine has none until this runs.
browser:
	bash scripts/install-chromium

# The static checks and the browser, then: starts a throwaway PostgreSQL on 127.0.0.1 for the session (unless
# LOANCORE_TEST_POSTGRES_URL is already set), runs every test, and stops the server.
test: lint browser
	bash scripts/with-postgres $(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/loancore demo

# The documentation site (mkdocs-material, API reference from the docstrings) into site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	LOANCORE_PG_DURABLE=1 bash scripts/with-postgres $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist site src/*.egg-info
