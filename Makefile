# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both create .venv and install edgelab into it on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test lint demo bench bench-cache bench-locust clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
