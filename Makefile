# The project's verbs. `make demo` and `make test` work on a fresh machine (they install first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0
DEMO := out/demo.png
PACKAGE_SOURCES := $(wildcard src/painterly/*.py src/painterly/*/*.py src/painterly/*/*/*.py)

.PHONY: install demo test test-avx2 lint bench bench-web format web

# A recipe that fails or is stopped leaves no target behind: a demo run stopped with Ctrl-C saves its
# best image so far, which must not count as the finished demo.
.DELETE_ON_ERROR:

install: $(VENV)/.installed

# torch is pinned first so the open range in pyproject (torch>=2.2) never pulls a CUDA build here
# (gradio in the web extra depends on nothing that pulls torch). The demo needs only the package;
# the tests and the web UI add their extras.
$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed: $(VENV)/.base
	$(PY) -m pip install -q -e '.[test,web,video,ray]'
	touch $@

# The demo image is made once, and again only when the package or its install changed.
demo: $(DEMO)

$(DEMO): $(VENV)/.base $(PACKAGE_SOURCES)
	mkdir -p $(@D)
	$(VENV)/bin/painterly demo -o $@ --overwrite

# Two test processes, each test file in one of them (a file's server or cluster is started once).
test: install
	$(PY) -m pytest -q -n 2 --dist loadfile

# The tests whose floats depend on the CPU's kernels, again on the AVX2 kernels that most users' CPUs
# run (fp32): any x86-64 machine can be held to them.
test-avx2: install
	ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 $(PY) -m pytest -q -m numerics

lint: install
	$(VENV)/bin/ruff check src tests bench docs
	$(VENV)/bin/ruff format --check src tests bench docs

format: install
	$(VENV)/bin/ruff format src tests bench docs
	$(VENV)/bin/ruff check --fix src tests bench docs

bench: install
	$(PY) bench/passes.py

bench-web: install
	$(PY) bench/web_load.py

web: install
	$(VENV)/bin/painterly web
