# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both create .venv and install edgelab into it on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test lint demo bench bench-cache bench-locust clean compile

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The compiled modules (edgelab/compiled.py), compiled again in place after editing them
# (setup.py; the test suite refuses to run an older build). EDGELAB_PURE=1 removes them.
compile: $(VENV)/.installed
	find edgelab -name '*.so' -delete; rm -f edgelab*__mypyc*.so
	if [ -z "$$EDGELAB_PURE" ]; then $(PY) setup.py --quiet build_ext --inplace; fi

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

demo: $(VENV)/.installed
	$(VENV)/bin/edgelab demo

bench: $(VENV)/.installed
	$(PY) benchmarks/proxy.py

bench-cache: $(VENV)/.installed
	$(PY) benchmarks/cache.py

bench-locust: $(VENV)/.installed
	$(PY) benchmarks/locust_rps.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build edgelab*__mypyc*.so
	find edgelab -name '*.so' -delete

# The README's picture of a report: `make screenshot RUN=runs/<stamp>-cloudflare-2025-11-18`
screenshot:
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
	  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
	  --user-data-dir="$$(mktemp -d)" --window-size=1280,1500 \
	  --screenshot="$(CURDIR)/docs/report.png" "file://$(abspath $(RUN))/report.html"
