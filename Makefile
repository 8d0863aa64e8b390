# qframe: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test test-unit install install-test services bench chaos mutation lint format docs clean image

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(TSTAMP): pyproject.toml examples/plugin-template/pyproject.toml | $(PY)
	$(PIP) install -q -e '.[test]'
	touch $@ $(STAMP)

install: $(STAMP)

install-test: $(TSTAMP)

## run the embedded default pipeline (or ./qframe.yml when present)
run: $(STAMP)
	$(VENV)/bin/qframe run $(ARGS)

## install the system services the integration tests start (apt; skipped when present)
services:
	sh tests/services/install.sh

## the whole suite: unit + integration (services started and stopped by the tests)
test: $(TSTAMP) services
	$(VENV)/bin/ruff check src tests bench examples chaos deploy
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

## the unit tests only: no apt step, no services (the contributor's inner loop)
test-unit: $(TSTAMP)
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not integration" tests/unit $(PYTEST_ARGS)

## throughput and memory benchmarks (numbers go to the README and issue notes)
bench: $(TSTAMP) services
	$(PY) bench/run.py $(BENCH_ARGS)

## the chaos suite (issue #21): kills, outages, reloads, hostile clients, broken disks and
## configs against the real daemon; a table of sent/delivered/lost/duplicated/peak RSS.
## Not part of `make test`. CHAOS_ARGS="--quick" (about 2 min), or scenario names.
chaos: $(TSTAMP) services
	$(PY) -m chaos $(CHAOS_ARGS)

## mutation testing (issue #23): mutmut over the modules that decide correctness (the list
## and the tests each is checked against: [tool.mutmut] in pyproject.toml), bounded to 20 min;
## a score per module and the surviving mutants. Not part of `make test`. Results are kept in
## mutants/ (a second run only checks what changed); `make mutation MUTATION_ARGS=NAME` one mutant.
MSTAMP := $(VENV)/.installed-mutation
$(MSTAMP): pyproject.toml $(TSTAMP)
	$(PIP) install -q -e '.[test,mutation]'
	touch $@

mutation: $(MSTAMP)
	QFRAME_MUTATION=1 timeout -s INT 1200 $(VENV)/bin/mutmut run --max-children 2 $(MUTATION_ARGS) \
	  > .mutmut.log 2>&1; status=$$?; \
	if [ $$status -eq 124 ]; then echo "stopped at the 20 min bound: make mutation again goes on"; \
	elif [ $$status -ne 0 ]; then tail -c 2000 .mutmut.log; exit $$status; fi
	$(PY) tests/mutation_score.py

## the container image localhost/qframe:latest (issue #16): a debootstrap'ed Debian 12 base
## (cached in ~/.cache/qframe-image), qframe as wheels; PODMAN="podman --root …" to choose storage
image: $(STAMP)
	PYTHON=$(PY) sh deploy/build-image.sh

lint: $(TSTAMP)
	$(VENV)/bin/ruff check src tests bench examples chaos deploy
	$(VENV)/bin/ruff format --check src tests bench examples chaos deploy

format: $(TSTAMP)
	$(VENV)/bin/ruff format src tests bench examples chaos deploy
	$(VENV)/bin/ruff check --fix src tests bench examples chaos deploy

docs: $(STAMP)
	$(PY) -m qframe.docs > docs/plugins.md

clean:
	rm -rf $(VENV) .qframe build dist src/*.egg-info mutants .mutmut.log
