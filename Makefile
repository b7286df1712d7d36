# Entry points: `make demo`, `make test` and `make docs`. Each creates .venv if missing and installs svdgan.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU torch is installed only when the venv has no torch yet: install your own (e.g. CUDA) torch
# into $(VENV) first and it is kept. Off this workplace, a CPU-only wheel comes with
#   make TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" ...
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=

.PHONY: demo test lint install docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/svdgan demo --out demo_out

# The serve tests run on SQLite and, where Debian's postgresql is installed, on a PostgreSQL that
# .ci/postgres starts on loopback (or the one $SVDGAN_TEST_POSTGRES names); without one, those are skipped.
test: $(VENV)/.installed
	SVDGAN_TEST_POSTGRES="$${SVDGAN_TEST_POSTGRES:-$$(bash .ci/postgres 2>/dev/null)}" $(PY) -m pytest -q

# The documentation site (docs/, mkdocs.yml); --strict fails on a broken link or a missing reference.
$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks research

clean:
	rm -rf demo_out site .pytest_cache
