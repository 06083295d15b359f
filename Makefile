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

.PHONY: env lint docs test test-fast test-torch demo up stack stack-test lock bench clean reliability

env: $(STAMP)

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

# The package's version (airflow_automl/__init__.py) is in its installed metadata: reinstall when it changes.
$(STAMP): requirements.lock pyproject.toml airflow_automl/__init__.py | $(UV)
	$(UV) venv -q --allow-existing $(VENV) --python python3
	$(UV) pip sync -q --python $(PY) requirements.lock
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
	@# The SageMaker Python SDK v2 the conformance suite drives: its own lock (it pins protobuf<7, packaging<25).
	$(UV) pip compile -q tests/conformance/requirements-sdk.in --python-version 3.11 -o requirements-sdk.lock
	rm -rf airflow_automl.egg-info

$(TORCH_STAMP): requirements-torch.lock pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing $(TORCH_VENV) --python python3
	$(UV) pip sync -q --python $(TORCH_PY) requirements-torch.lock
	$(UV) pip install -q --python $(TORCH_PY) --no-deps -e .
	rm -rf airflow_automl.egg-info
	touch $@

# The slowest tests are listed at the end: the suite has a time budget (15 minutes on 2 cores).
test: $(STAMP)
	$(PY) -m pytest -q --durations=30

# The unit tier: no processes, no servers (a test that starts one fails unless marked integration).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not integration and not slow and not stack and not torch"

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
	rm -rf $(VENV) $(TORCH_VENV) $(TOOLS) .automl .airflow .stack
