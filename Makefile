# The two commands of the README: `make run` and `make test`.
PY := .venv/bin/python

.PHONY: setup run run-fresh test lint typecheck typecheck-firmware unit bench

setup:
	bash scripts/setup.sh

# The stack keeps its data in var/stack between runs; run-fresh starts from nothing.
run: setup
	$(PY) -m devservers.stack

run-fresh: setup
	$(PY) -m devservers.stack --fresh

lint: setup
	.venv/bin/ruff check .

typecheck: setup
	.venv/bin/mypy protocol timeseries broker deploy devservers gateway api alerts simulator bench dashboards

# pytest exits 5 when it collects nothing; make treats that as the failure it is.
unit: setup
	$(PY) -m pytest -q

test: lint typecheck unit

bench: setup
	$(PY) -m bench.ingest
	$(PY) -m bench.allocation
	$(PY) -m bench.alerts
	$(PY) -m bench.simulator
	$(PY) -m bench.web

# The firmware against the MicroPython ESP32 stubs (also run by tests/firmware/test_build.py).
typecheck-firmware: setup
	$(PY) tools/mpy/typeshed.py .venv/mp-typeshed
	.venv/bin/mypy --config-file firmware/mypy.ini --custom-typeshed-dir .venv/mp-typeshed \
		--explicit-package-bases firmware protocol
