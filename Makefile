# Entry points for people and CI. On a fresh clone: `make dev` or `make test`.
#
# The virtualenv is (re)installed only when pyproject.toml is newer than its stamp file, so
# every target below is quick once the first install is done.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv dev test lint format bench clean i18n

help:
	@echo "make dev     Temporal dev server + database + worker + sample contracts (Ctrl-C stops)"
	@echo "make test    lint, format check, type check and the test suite"
	@echo "make lint    ruff check, ruff format --check, mypy"
	@echo "make format  ruff format and ruff check --fix"
	@echo "make bench   run the benchmark scripts in bench/"
	@echo "make i18n    extract the pages' messages into the catalogs, compile, list what is untranslated"
	@echo "make venv    create .venv and install the project with its dev extras"
	@echo "make clean   remove .venv and tool caches (data/ is kept)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e ".[dev]"
	@touch $(STAMP)

dev: venv
	$(BIN)/renewals dev

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every bench/*.py that is not a helper module (_*.py), with its default arguments.
bench: venv
	@found=0; for script in bench/*.py; do \
		case "$$(basename "$$script")" in _*) continue ;; esac; \
		[ -f "$$script" ] || continue; \
		found=1; echo "== $$script"; \
		PYTHONPATH="$(CURDIR)" $(BIN)/python "$$script" || exit $$?; \
	done; \
	if [ $$found = 0 ]; then echo "no benchmark scripts in bench/"; fi

# The pages' message catalogs (web/catalogs.py): update every area's .po from its templates
# and modules, compile the .mo files that ship in the package, then list what still needs a
# translation (an untranslated message fails tests/test_i18n_catalogs.py).
i18n: venv
	$(BIN)/python -m web.catalogs update
	$(BIN)/python -m web.catalogs compile
	$(BIN)/python -m web.catalogs check

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
