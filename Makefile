# semcom — every target creates .venv and installs the project when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.semcom-installed
PYTEST_ARGS ?=

.PHONY: install run test test-slow test-all bench lint typecheck clean

$(STAMP): pyproject.toml scripts/install_torch.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	bash scripts/install_torch.sh $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: get the default data (Fashion-MNIST) and run the default experiment.
run: $(STAMP)
	$(BIN)/semcom data fashion-mnist --install
	$(BIN)/semcom run $(ARGS)

## make test: the fast suite (slow tests are marked and excluded; exit code 5 = no tests = failure).
## Fashion-MNIST is fetched first when it can be (the golden quick runs of the default configs use
## it; without it those tests skip with the reason).
test: $(STAMP)
	-@$(BIN)/semcom data fashion-mnist --install > /dev/null 2>&1 || echo "note: Fashion-MNIST unavailable; its golden quick runs will skip"
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m 'slow or not slow' $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

## make lint: ruff, then the type checker (make typecheck).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(MAKE) --no-print-directory typecheck

## make typecheck: mypy on src/semcom ([tool.mypy] in pyproject.toml says how strict).
typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf runs .pytest_cache
