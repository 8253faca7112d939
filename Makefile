# regenome: make demo | make test | make bench | make lock | make docs
# LOCK=1 (make demo LOCK=1, make test LOCK=1, make install LOCK=1): install the exact versions of
# requirements.lock, then regenome itself with --no-deps, instead of resolving pyproject.toml's ranges.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCKFILE := requirements.lock
LOCKED := $(if $(filter 1,$(LOCK)),$(LOCKFILE))
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCKED) | cksum | cut -d' ' -f1)
DEMO_OUT ?= runs/demo

.PHONY: demo test install clean bench lock docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml $(LOCKED) | $(BIN)/python
ifeq ($(LOCK),1)
	$(BIN)/python -m pip install --quiet -r $(LOCKFILE)
	$(BIN)/python -m pip install --quiet --no-deps -e .
else
	$(BIN)/python -m pip install --quiet -e ".[test,dask]"
	$(BIN)/python -m pip install --quiet "ray>=2.9" || echo "ray did not install here; its backend test will skip"
endif
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

# the documentation site (mkdocs.yml) -> site/, every warning an error; installs the docs extra if missing
docs: | $(BIN)/python
	$(BIN)/python -c "import mkdocs, material, mkdocstrings_handlers.python, regenome" 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

# pin every package of .venv as it is now (make clean && make lock: resolve pyproject.toml afresh first)
lock: $(STAMP)
	{ echo "# requirements.lock: exact versions of every package in the test environment (.venv), written by"; \
	  echo "# \`make lock\` as \`.venv/bin/python -m pip freeze --exclude-editable\` minus regenome itself, on"; \
	  echo "# Python $$($(BIN)/python -c 'import platform; print(platform.python_version(), platform.system(), platform.machine())')."; \
	  echo "# Install from it: make test LOCK=1 / make demo LOCK=1 (pip install -r requirements.lock, then"; \
	  echo "# pip install --no-deps -e .). Refresh: make lock pins .venv as it is; make clean && make lock"; \
	  echo "# first resolves pyproject.toml's ranges afresh. ray and dask are pinned as installed here."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E '^(regenome[=@ ]|-e |# Editable)'; \
	} > $(LOCKFILE).tmp && mv $(LOCKFILE).tmp $(LOCKFILE)
	@echo "wrote $(LOCKFILE) ($$(grep -c '==' $(LOCKFILE)) pins)"

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
