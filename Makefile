# The two commands the README gives: `make demo` and `make test`.
# Both build the environment from requirements.lock first, on a machine that has only python3.

VENV   := .venv
PY     := $(VENV)/bin/python
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: env test demo up stack stack-test lock bench clean reliability

env: $(STAMP)

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

$(STAMP): requirements.lock pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing $(VENV) --python python3
	$(UV) pip sync -q --python $(PY) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	@# Building the package leaves an egg-info in the checkout; where the checkout is on sys.path
	@# (python -m ... from here) Airflow would find the UI plugin's entry point twice.
	rm -rf airflow_automl.egg-info
	touch $@

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock: | $(UV)
	$(UV) pip compile -q pyproject.toml --extra local --extra dev --python-version 3.11 -o requirements.lock
	rm -rf airflow_automl.egg-info

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

# The whole reliability suite: long fuzzing runs and the repeated kills `make test` leaves out.
reliability: $(STAMP)
	AIRFLOW_AUTOML_RELIABILITY=full $(PY) -m pytest tests/reliability -q

demo: $(STAMP)
	$(PY) -m airflow_automl.demo

# The local service and `airflow standalone` with dags/, state kept in .automl/, until Ctrl-C.
up: $(STAMP)
	$(PY) -m airflow_automl.demo --up

# The production topology without containers (PostgreSQL, Redis, Celery workers, a separate
# triggerer, moto as S3, the signed service), state kept in .stack/, until Ctrl-C.
stack: $(STAMP)
	$(PY) -m airflow_automl.stack

# The stack's fault tests (a killed triggerer or worker, a restarted scheduler, the service down
# for 30 s): too heavy for `make test`.
stack-test: $(STAMP)
	AIRFLOW_AUTOML_STACK_TESTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/stack

clean:
	rm -rf $(VENV) $(TOOLS) .automl .airflow .stack
