# The two commands the README gives: `make demo` and `make test`.
# Both build the environment from requirements.lock first, on a machine that has only python3.

VENV   := .venv
PY     := $(VENV)/bin/python
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
STAMP  := $(VENV)/.installed
# The torch extra (PyTorch with its CUDA libraries: several GB) lives in a venv of its own, so the
# default one, which `make test` and CI use, stays without it.
TORCH_VENV  := .venv-torch
TORCH_PY    := $(TORCH_VENV)/bin/python
TORCH_STAMP := $(TORCH_VENV)/.installed
UV_VERSION := 0.13.9
# The oldest supported Airflow and Amazon provider (devtools/requirements-compat.in): a venv of its own.
COMPAT_VENV  := .venv-compat
COMPAT_PY    := $(COMPAT_VENV)/bin/python
COMPAT_STAMP := $(COMPAT_VENV)/.installed
# The provider's tests (unit, and dag.test() runs of it and of the example DAGs); not the engine's.
COMPAT_TESTS := tests/test_package.py tests/hooks tests/operators tests/sensors tests/triggers tests/links \
	tests/utils tests/ui tests/examples tests/dags
DIST := dist
# `make test-dist` checks the long description as a package index renders it.
TWINE_VERSION := 6.2.0

.PHONY: env bytecode lint docs test test-fast test-torch test-dist test-compat dist demo up stack stack-test lock bench clean reliability

env: $(STAMP)

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

# The package's version (airflow_automl/__init__.py) is in its installed metadata: reinstall when it changes.
# Bytecode is compiled at install (uv does not by default): every service, job worker and Airflow
# process would otherwise compile what it imports from source again wherever the environment sets
# PYTHONDONTWRITEBYTECODE (AutoGluon's import: 8 s of CPU instead of 2.5 s).
$(STAMP): requirements.lock pyproject.toml airflow_automl/__init__.py | $(UV)
	$(UV) venv -q --allow-existing $(VENV) --python python3
	$(UV) pip sync -q --compile-bytecode --python $(PY) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	@# Building the package leaves an egg-info in the checkout; where the checkout is on sys.path
	@# (python -m ... from here) Airflow would find the UI plugin's entry point twice.
	rm -rf airflow_automl.egg-info
	touch $@

# Re-resolve the locks after changing dependencies in pyproject.toml. The torch extra's lock keeps
# every pin of the default one and adds what the extra brings; the service image's lock keeps them too.
lock: | $(UV)
	$(UV) pip compile -q pyproject.toml --extra local --extra dev --python-version 3.11 -o requirements.lock
	$(UV) pip compile -q pyproject.toml --extra local --extra dev --extra torch -c requirements.lock \
		--python-version 3.11 -o requirements-torch.lock
	@# The service image's lock: the local extra and the service's own dependencies, without Airflow
	@# (the service never imports it), at the versions of the default lock.
	python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		print("\n".join(["boto3", "botocore", *p["optional-dependencies"]["local"]]))' \
		| $(UV) pip compile -q - -c requirements.lock --python-version 3.11 -o requirements-service.lock
	@# The oldest versions the pins allow, for `make test-compat`.
	$(UV) pip compile -q pyproject.toml --extra local --extra dev --extra examples -c devtools/requirements-compat.in \
		--python-version 3.11 -o requirements-compat.lock
	@# The SageMaker Python SDK v2 the conformance suite drives: its own lock (it pins protobuf<7, packaging<25).
	$(UV) pip compile -q tests/conformance/requirements-sdk.in --python-version 3.11 -o requirements-sdk.lock
	rm -rf airflow_automl.egg-info

$(TORCH_STAMP): requirements-torch.lock pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing $(TORCH_VENV) --python python3
	$(UV) pip sync -q --compile-bytecode --python $(TORCH_PY) requirements-torch.lock
	$(UV) pip install -q --python $(TORCH_PY) --no-deps -e .
	rm -rf airflow_automl.egg-info
	touch $@

$(COMPAT_STAMP): requirements-compat.lock pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing $(COMPAT_VENV) --python python3
	$(UV) pip sync -q --compile-bytecode --python $(COMPAT_PY) requirements-compat.lock
	$(UV) pip install -q --python $(COMPAT_PY) --no-deps -e .
	rm -rf airflow_automl.egg-info
	touch $@

# The slowest tests are listed at the end: the suite has a time budget (15 minutes on 2 cores).
# Three pytest-xdist workers: 13 min 54 s and 25 CPU-minutes on an idle 2-core machine once the
# bytecode is compiled (21 min and 38 CPU-minutes before), so on 2 cores the suite is bound by its CPU
# work, not by waiting: more workers would not shorten it. Each test file stays on one worker
# (--dist loadfile), so a module's service, api-server or demo run is started once;
# tests/conftest.py hands out the slowest files first, in that order.
TEST_WORKERS ?= 3
test: $(STAMP) bytecode
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=30

# The checkout's own modules compiled once, for the same reason as the venv's (__pycache__ is ignored by git).
bytecode: $(STAMP)
	$(PY) -m compileall -q -j 0 airflow_automl dags devtools tests

# The unit tier: no processes, no servers (a test that starts one fails unless marked integration).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not integration and not slow and not stack and not torch"

# The release artifacts: the sdist, and the wheel built from it (so the sdist is shown to be complete).
dist: | $(UV)
	rm -rf $(DIST)
	$(UV) build -q -o $(DIST) .
	rm -rf airflow_automl.egg-info

# The wheel as a user gets it: its contents and index metadata, then installed with [local] into a
# new venv (pinned by the lock, no editable install) and run from outside the repository: the
# provider and UI plugin registered, `airflow-automl serve` up, a training DAG run with dag.test().
test-dist: dist $(STAMP)
	$(UV) tool run -q --from twine==$(TWINE_VERSION) twine check --strict $(DIST)/*
	$(PY) devtools/check_dist.py --dist $(DIST) --uv $(abspath $(UV)) --lock requirements.lock

# The provider's tests at the oldest Airflow and Amazon provider the pins allow (the versions are printed first).
test-compat: $(COMPAT_STAMP)
	$(UV) pip list -q --python $(COMPAT_PY) | grep -E '^apache-airflow(-core|-task-sdk|-providers-amazon|-providers-common-compat)? '
	$(COMPAT_PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -rfE $(COMPAT_TESTS)

# Formatter, linter and type checker: the same gates CI runs.
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The docs site from docs/ (Sphinx, Markdown pages), offline; warnings are errors (-W), every reference must
# resolve (-n), and --keep-going reports them all. A broken link or an include whose markers are gone fails it.
docs: $(STAMP)
	rm -rf docs/_build
	$(VENV)/bin/sphinx-build -q -b html -W -n --keep-going docs docs/_build/html

# The tests that need PyTorch (marked torch; `make test` skips them), in the torch extra's venv.
test-torch: $(TORCH_STAMP)
	$(TORCH_PY) -m pytest -q -m torch

# The whole reliability suite: long fuzzing runs and the repeated kills `make test` leaves out.
reliability: $(STAMP)
	$(PY) -m pytest -q -m reliability --hypothesis-profile=full

demo: $(STAMP)
	$(PY) -m devtools.demo

# The local service and `airflow standalone` with dags/, state kept in .automl/, until Ctrl-C.
up: $(STAMP)
	$(PY) -m devtools.demo --up

# The production topology without containers (PostgreSQL, Redis, Celery workers, a separate
# triggerer, moto as S3, the signed service), state kept in .stack/ (or STATE_DIR=...), until Ctrl-C.
STATE_DIR ?=
stack: $(STAMP)
	$(PY) -m devtools.stack $(if $(STATE_DIR),--state-dir "$(STATE_DIR)")

# The stack's fault tests (a killed triggerer or worker, a restarted scheduler, the service down
# for 30 s): too heavy for `make test`.
stack-test: $(STAMP)
	$(PY) -m pytest -q -m stack

clean:
	rm -rf $(VENV) $(TORCH_VENV) $(COMPAT_VENV) $(TOOLS) $(DIST) .automl .airflow .stack
