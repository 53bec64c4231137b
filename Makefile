# Kameng: `make demo` runs the platform, `make test` runs every check. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench lint typecheck pytest browser install stop clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[embedded,test,dev]"
	touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/python -m kameng.dev demo

test: lint typecheck browser pytest

pytest: $(INSTALLED)
	$(BIN)/python -m kameng.dev test $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	KAMENG_DEV=1 KAMENG_COLLECTSTATIC=1 $(BIN)/mypy

# Page tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || scripts/install-chromium

bench: $(INSTALLED)
	$(BIN)/python -m kameng.dev bench $(BENCH_ARGS)

stop: $(INSTALLED)
	$(BIN)/python -c "from kameng import devstack; devstack.stop()"

clean: stop
	rm -rf $(VENV) .dev staticfiles
