# syntax=docker/dockerfile:1
# Two images from one file:
#   target "service": the local SageMaker-compatible service (`airflow-automl serve`), installed
#                     from requirements-service.lock: the library versions CI trains with, and no
#                     Airflow (the service never imports it).
#   target "airflow": the official Apache Airflow image with this provider added, the way the
#                     Airflow docs describe extending the image.
ARG PYTHON_VERSION=3.11
ARG AIRFLOW_VERSION=3.3.2

FROM python:${PYTHON_VERSION}-slim AS service
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# LightGBM and XGBoost need the OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements-service.lock ./
RUN pip install --no-cache-dir -r requirements-service.lock
COPY pyproject.toml README.md ./
COPY airflow_automl ./airflow_automl
RUN pip install --no-cache-dir --no-deps . \
    && useradd --create-home --uid 50000 automl \
    && mkdir -p /data/automl \
    && chown automl /data/automl
USER automl
EXPOSE 8787
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8787/health', timeout=4)"]
ENTRYPOINT ["airflow-automl"]
# Listening beyond the container needs credentials: the service then accepts only requests signed
# with them (SigV4), and without them it exits saying so. Give them in the environment, e.g.
#   docker run -p 8787:8787 -e AIRFLOW_AUTOML_ACCESS_KEY_ID=key -e AIRFLOW_AUTOML_SECRET_ACCESS_KEY=secret IMAGE
# and sign with the same ones (the Airflow connection's login and password).
CMD ["serve", "--host", "0.0.0.0", "--port", "8787", "--data-dir", "/data/automl"]

FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS airflow
# An ARG before FROM names the base image only; declared again it is seen by RUN below.
ARG AIRFLOW_VERSION
COPY --chown=airflow:root pyproject.toml README.md /opt/airflow-automl/
COPY --chown=airflow:root airflow_automl /opt/airflow-automl/airflow_automl
# Pinning apache-airflow to the image's own version keeps pip from upgrading or downgrading it.
# pandas: the example DAG generates its data with it (airflow_automl.examples.datasets).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" pandas /opt/airflow-automl
