# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean package template capacity stream

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

# Offline deploy checks: the dashboard is embedded in the template, `chalice package` builds the
# prod stage (arm64 wheels come from PyPI), cfn-lint finds no error in the generated SAM template
# nor in infra/template.json (warnings are printed, not fatal: cfn-lint exit bits 4 and 8).
package: $(STAMP)
	$(PY) infra/build_template.py --check
	set -e; dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	AWS_DEFAULT_REGION=us-east-1 $(VENV)/bin/chalice package --stage prod "$$dir"; \
	rc=0; $(VENV)/bin/cfn-lint "$$dir/sam.json" infra/template.json || rc=$$?; \
	if [ $$((rc & ~12)) -ne 0 ]; then echo "cfn-lint found errors (exit $$rc)"; exit 1; fi; \
	echo "package: chalice package and cfn-lint passed (cfn-lint exit $$rc)"

# Rewrite infra/template.json's dashboard body from infra/dashboard.json.
template: $(STAMP)
	$(PY) infra/build_template.py

capacity: $(STAMP)
	$(PY) -m sim capacity events/volume/contact-center-week.csv --scheduled-actions out/turn-pc-schedule.json

# Recorded calls through the streaming speech path (needs Debian's ffmpeg, espeak-ng and sox):
# reply-ready with and without speculation, the wasted speculations, the added cost per minute.
stream: $(STAMP)
	$(PY) -m sim stream events/calls --json out/stream.json

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
