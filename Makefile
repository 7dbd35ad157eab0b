# Two commands do all set-up: `make run` and `make test`. Both create .venv
# (Python 3.10 + the pinned set in constraints.txt) when it is missing or stale.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DEPS_HASH := $(shell cat requirements.txt requirements-dev.txt constraints.txt setup.py | sha256sum | cut -c1-16)
STAMP := $(VENV)/.deps-$(DEPS_HASH)
ARGS ?=

.PHONY: venv run test bench constraints clean

venv: $(STAMP)

$(STAMP):
	@set -e; py=$$(scripts/find-python310); \
	if [ ! -x "$(PY)" ] || ! "$(PY)" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
	  echo "Creating $(VENV) with $$py"; rm -rf "$(VENV)"; "$$py" -m venv "$(VENV)"; fi; \
	echo "Installing the pinned set into $(VENV) (a cold install takes ~3 minutes)"; \
	"$(PY)" -m pip install -q --upgrade pip wheel setuptools -c constraints.txt; \
	"$(PY)" -m pip install -q -r requirements-dev.txt -c constraints.txt; \
	"$(PY)" -m pip install -q --no-deps -e .; \
	"$(PY)" -m pip check; \
	rm -f $(VENV)/.deps-*; touch "$(STAMP)"

run: venv
	$(VENV)/bin/imgpipe run $(ARGS)

# Two workers, one test module each at a time, longest modules first (tests/conftest.py).
# A worker that crashes (a native abort in TensorFlow) fails its test and is not replaced: the suite
# ends red with the crash's trace instead of restarting workers until CI's time limit.
test: venv
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --max-worker-restart=0 tests

bench: venv
	$(PY) -m bench.suite $(ARGS)

# Re-resolve and freeze the whole set after changing requirements.txt.
constraints:
	@set -e; py=$$(scripts/find-python310); tmp=$$(mktemp -d); "$$py" -m venv $$tmp; \
	$$tmp/bin/pip install -q --upgrade pip wheel setuptools; $$tmp/bin/pip install -q -r requirements-dev.txt; \
	{ echo "# The whole resolved set for Python 3.10 + TFX 1.16.0, frozen from requirements-dev.txt"; \
	  echo "# (pip freeze --all, so pip/setuptools/wheel are pinned too). Regenerate: make constraints"; \
	  $$tmp/bin/pip freeze --all; } > constraints.txt; rm -rf $$tmp

clean:
	rm -rf output .pytest_cache
