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
	$(BIN)/python -m pip install --quiet -e ".[test,dask]"
	$(BIN)/python -m pip install --quiet "ray>=2.9" || echo "ray did not install here; its backend test will skip"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	$(BIN)/regenome validate workflows/ndfeb-ce-la-motor.toml
	$(BIN)/regenome screen workflows/ndfeb-ce-la-motor.toml --out $(DEMO_OUT)
	@echo "Open the report: $(DEMO_OUT)/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# every benchmark, one run, ratios against named baselines -> docs/benchmarks.md (see benchmarks/README.md);
# make bench BENCH_ARGS="--quick --out /tmp/b.md" for a smoke run, BENCH_ARGS="--only featurize" for one
bench: $(STAMP)
	$(BIN)/python -c "import matminer, distributed" 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[test,bench,dask]"
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
