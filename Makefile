# Set-up and main jobs. Everything dcom needs is installed into $(VENV) by these targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
JOBS ?= auto

.PHONY: generate test install install-test clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "dcom needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

generate: install
	$(BIN)/dcom generate --lint --out $(OUT)/rtl

test: install-test
	$(BIN)/python -m pytest -n $(JOBS) --durations=30

clean:
	rm -rf build $(OUT)
