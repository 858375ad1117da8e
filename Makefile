# Tooling of the template repository: its tests render the template and run the results' gates.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
BOOTSTRAP := .venv-bootstrap
# uv from PATH when it runs (a pyenv shim may exist without it), else one installed by pip.
ifndef UV
UV := $(shell uv --version >/dev/null 2>&1 && command -v uv || echo $(BOOTSTRAP)/bin/uv)
endif
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

.PHONY: help
help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BOOTSTRAP)/bin/uv:
	$(PYTHON) -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/python -m pip install --quiet 'uv>=0.13.9,<0.14'

.PHONY: install
install: | $(UV) ## Install the locked tools into .venv (uv sync --frozen)
	$(UV) sync --frozen

# One worker more than the cores: the tests spend part of their time waiting on what they
# start (renders, installs, servers). On 2 cores, three workers ran the suite in 800 s where
# two took 933 s, the same day.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

.PHONY: test
test: install ## Render the template and run every test, in parallel
	$(RUN) pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: install ## The tests without the rendered projects' own gates
	$(RUN) pytest -n auto -m "not slow" $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff, black --check and mypy over hooks/, tests/ and scripts/
	$(RUN) ruff check .
	$(RUN) black --check .
	$(RUN) mypy

.PHONY: fmt
fmt: install ## Apply ruff's safe fixes and black
	$(RUN) ruff check --fix .
	$(RUN) black .

.PHONY: docs
docs: install ## Build the documentation site into site/ (mkdocs --strict)
	$(RUN) mkdocs build --strict --site-dir site

.PHONY: docs-options
docs-options: install ## Regenerate the options tables of README.md and docs/options.md
	$(RUN) python scripts/options_page.py

.PHONY: example
example: install ## Regenerate examples/orders-service from this work tree
	$(RUN) python scripts/example.py

.PHONY: bench
bench: install ## Time `copier copy` of the default answers
	$(RUN) python scripts/bench_render.py

.PHONY: bench-service
bench-service: install ## The service's cached read (with and without auth) and /livez against bare FastAPI
	$(RUN) python scripts/bench.py

.PHONY: bench-libraries
bench-libraries: install ## The service's hand-written pieces against maintained libraries
	$(RUN) python scripts/bench_libraries.py

.PHONY: clean
clean: ## Remove the tools' environments and caches
	rm -rf .venv $(BOOTSTRAP) .pytest_cache .mypy_cache .ruff_cache site
