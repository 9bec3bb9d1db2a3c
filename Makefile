# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean package deploy-tools template capacity stream figures figures-stream

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

# The third-party deploy checkers, each pinned in tools/ and installed once (again when a pin
# changes): checkov in its own venv (it pins boto3 1.35), asl-validator from the npm lock.
CHECKOV_VENV := tools/.venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
ASL_STAMP := tools/node_modules/.installed

$(CHECKOV_STAMP): tools/requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-checkov.txt
	touch $@

$(ASL_STAMP): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	touch $@

deploy-tools: $(STAMP) $(CHECKOV_STAMP) $(ASL_STAMP)

# Offline deploy checks: the embedded values of the template are current, `chalice package` builds
# the prod stage (arm64 wheels come from PyPI) with infra/chalice-merge.json merged in (checkov's
# inline skips on chalice's resources), then infra/check_deploy.py runs cfn-lint (both templates;
# errors fail, warnings are printed), asl-validator (the handover ASL), checkov (both templates,
# offline) and parliament (every role policy): one line per tool, non-zero on any finding.
package: deploy-tools
	$(PY) infra/build_template.py --check
	set -e; dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	AWS_DEFAULT_REGION=us-east-1 $(VENV)/bin/chalice package --stage prod \
		--merge-template infra/chalice-merge.json "$$dir" >/dev/null; \
	echo "chalice package: prod stage packaged with infra/chalice-merge.json"; \
	$(PY) infra/check_deploy.py --sam "$$dir/sam.json"

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
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache tools/.venv-checkov tools/node_modules

# Run the quick benches, keep their JSON in docs/figures/, and render docs/performance.md from it.
figures: $(STAMP)
	$(PY) bench/keep_figure.py turn_overhead -- $(PY) bench/turn_overhead.py
	$(PY) bench/keep_figure.py cold_start -- $(PY) bench/cold_start.py
	$(PY) bench/keep_figure.py router_overhead -- $(PY) bench/router_overhead.py
	$(PY) bench/keep_figure.py router_eval -- $(PY) -m sim router-eval --json
	$(PY) bench/keep_figure.py redaction -- $(PY) bench/redaction.py
	$(PY) bench/keep_figure.py tool_gateways -- $(PY) bench/tool_gateways.py
	$(PY) bench/render_figures.py

# The streaming speech path, three runs at twice real time and one at real time (about 70 minutes;
# needs Debian's ffmpeg, espeak-ng and sox): nothing else should run on the machine meanwhile.
figures-stream: $(STAMP)
	$(PY) bench/keep_figure.py stream_speed2 -- $(PY) bench/stream_compare.py --runs 3 --speed 2
	$(PY) bench/keep_figure.py stream_speed1 -- $(PY) bench/stream_compare.py --runs 1 --speed 1
	$(PY) bench/render_figures.py
