# regenome: make demo | make test | make bench
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_OUT ?= runs/demo

.PHONY: demo test install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	$(BIN)/regenome validate workflows/ndfeb-ce-la-motor.toml
	$(BIN)/regenome screen workflows/ndfeb-ce-la-motor.toml --out $(DEMO_OUT)
	@echo "Open the report: $(DEMO_OUT)/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -c "import matminer" 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python benchmarks/bench_predict_curie.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
