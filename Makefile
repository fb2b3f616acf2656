# make demo / make test create .venv when missing, install the project with the tested
# versions in constraints.txt, then run the demo / the whole test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_WORKERS ?= 2

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test lint format unit conformance docs bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python examples/demo.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests

conformance: install
	$(BIN)/python tests/conformance.py

# API reference from the docstrings into build/site; --strict fails on a broken reference,
# a missing page or a docstring griffe cannot read (a few seconds).
docs: install
	$(BIN)/mkdocs build --strict --quiet

test: lint docs unit conformance

bench: install
	$(BIN)/python benchmarks/routing.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
