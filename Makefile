# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# chalice 1.34 pins pip<26.3: keep pip inside that range so installs do not flip-flop.
	$(PY) -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m sim replay events/calls --json out/replay.json --html out/report.html
	$(PY) -m sim cost --report out/replay.json

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy chalicelib/domain chalicelib/usecases

bench: $(STAMP)
	$(PY) bench/turn_overhead.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
