"""docker-compose.yaml cannot be started here (no Docker engine), so these tests read it and
check what `docker compose up` depends on: the services exist and wait for each other's health,
ports and volumes line up, and every command and setting points at something that exists."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from dotenv import dotenv_values

from tests.fixtures.service import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
AIRFLOW_COMPONENTS = (*AIRFLOW_SERVICES, "airflow-worker")
LONG_RUNNING = ("postgres", "redis", "minio", "automl-service", *AIRFLOW_COMPONENTS)
ONE_SHOT = ("minio-init", "airflow-init")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _env(service: dict) -> dict[str, str]:
    """The container's environment as compose makes it: its env_file(s), then `environment` over them."""
    files = service.get("env_file", [])
    merged: dict[str, str] = {}
    for name in [files] if isinstance(files, str) else files:
        merged.update({key: value or "" for key, value in dotenv_values(ROOT / name).items()})
    env = service.get("environment", {})
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) for item in env)
    merged.update({key: str(value) for key, value in env.items()})
    return merged


def _command_args(service: dict) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(arg) for arg in command]


def _container_ports(service: dict) -> set[int]:
    return {int(str(mapping).rsplit(":", 1)[-1]) for mapping in service.get("ports", [])}


def _dockerfile_stages() -> set[str]:
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE | re.IGNORECASE))


def test_every_component_of_the_stack_is_defined(services):
    assert set(LONG_RUNNING + ONE_SHOT) <= set(services)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_health_checks(services, name):
    check = services[name].get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) >= 2
    assert check.get("retries", 0) >= 3


def test_depends_on_names_real_services_and_waits_for_health(services):
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            condition = rule["condition"]
            if dependency in ONE_SHOT:
                assert condition == "service_completed_successfully", (name, dependency)
            else:
                assert condition == "service_healthy", (name, dependency)
                assert services[dependency].get("healthcheck"), (
                    f"{name} waits for {dependency}'s health, which has no check"
                )


def test_airflow_components_run_their_airflow_3_commands(services):
    assert _command_args(services["airflow-worker"]) == ["celery", "worker"]
    for name in AIRFLOW_COMPONENTS:
        expected = name.removeprefix("airflow-").replace("apiserver", "api-server").replace("worker", "celery worker")
        assert _command_args(services[name]) == expected.split()
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["automl-service"]["condition"] == "service_healthy"


def test_airflow_uses_the_official_image_extended_with_this_provider(services):
    for name in (*AIRFLOW_COMPONENTS, "airflow-init"):
        build = services[name]["build"]
        assert build["context"] == "."
        assert build["target"] in _dockerfile_stages()
    text = DOCKERFILE.read_text()
    airflow_stage = text[text.index("AS airflow") - 200 :]
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}", airflow_stage, flags=re.MULTILINE)
    assert "/opt/airflow-automl" in airflow_stage and "pip install" in airflow_stage


def test_local_service_image_installs_the_package_from_the_service_lock(services):
    build = services["automl-service"]["build"]
    assert build["target"] in _dockerfile_stages()
    text = DOCKERFILE.read_text()
    service_stage = text[: text.index("AS airflow")]
    assert "pip install --no-cache-dir -r requirements-service.lock" in service_stage
    assert "pip install --no-cache-dir --no-deps ." in service_stage
    for copied in re.findall(r"^COPY (?:--\S+ )?(.+) \S+$", text, flags=re.MULTILINE):
        for source in copied.split():
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


def test_airflow_settings_point_at_the_services_that_exist(services):
    env = _env(services["airflow-scheduler"])
    database = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    postgres_env = _env(services["postgres"])
    assert database.hostname == "postgres"
    assert database.username == postgres_env["POSTGRES_USER"]
    assert database.password == postgres_env["POSTGRES_PASSWORD"]
    assert database.path.lstrip("/") == postgres_env["POSTGRES_DB"]
    execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution_api.hostname == "airflow-apiserver"
    assert execution_api.port in _container_ports(services["airflow-apiserver"])
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"  # the scheduler's /health check needs it
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_aws_connection_sends_sagemaker_to_the_local_service_and_s3_to_minio(services):
    conn = json.loads(_env(services["airflow-triggerer"])["AIRFLOW_CONN_AWS_DEFAULT"])
    assert conn["conn_type"] == "aws"
    sagemaker = urlsplit(conn["extra"]["endpoint_url"])
    assert sagemaker.hostname == "automl-service"
    assert str(sagemaker.port) in _command_args(services["automl-service"])
    s3 = urlsplit(conn["extra"]["service_config"]["s3"]["endpoint_url"])
    assert s3.hostname == "minio" and s3.port in _container_ports(services["minio"])
    minio_env = _env(services["minio"])
    assert (conn["login"], conn["password"]) == (minio_env["MINIO_ROOT_USER"], minio_env["MINIO_ROOT_PASSWORD"])


def test_local_service_reads_s3_from_minio_with_its_credentials(services):
    args = _command_args(services["automl-service"])
    endpoint = urlsplit(args[args.index("--s3-endpoint-url") + 1])
    assert endpoint.hostname == "minio" and endpoint.port in _container_ports(services["minio"])
    env, minio_env = _env(services["automl-service"]), _env(services["minio"])
    assert env["AWS_ACCESS_KEY_ID"] == minio_env["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio_env["MINIO_ROOT_PASSWORD"]


def test_local_service_listening_beyond_loopback_requires_the_connections_credentials(services):
    # The CLI refuses a non-loopback --host without credentials; Airflow must sign with them.
    args, env = _command_args(services["automl-service"]), _env(services["automl-service"])
    assert args[args.index("--host") + 1] == "0.0.0.0"
    conn = json.loads(_env(services["airflow-triggerer"])["AIRFLOW_CONN_AWS_DEFAULT"])
    assert args[args.index("--access-key-id") + 1] == conn["login"]
    assert env["AIRFLOW_AUTOML_SECRET_ACCESS_KEY"] == conn["password"]


def test_bucket_made_at_start_is_the_one_the_dag_uses(services):
    storage = urlsplit(_env(services["airflow-scheduler"])["AIRFLOW_VAR_AUTOML_STORAGE_URI"])
    assert storage.scheme == "s3"
    init = services["minio-init"]
    script = " ".join(_command_args(init))
    assert "mc mb" in script and "local/$$AUTOML_BUCKET" in script
    assert _env(init)["AUTOML_BUCKET"] == storage.hostname


@pytest.mark.integration
def test_service_command_uses_only_flags_the_cli_accepts(services):
    args = _command_args(services["automl-service"])
    assert args[0] == "serve"
    flags = [arg for arg in args if arg.startswith("--")]
    assert {"--host", "--port", "--data-dir", "--s3-endpoint-url"} <= set(flags)
    help_text = subprocess.run(
        [sys.executable, "-m", "airflow_automl.local.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    for flag in flags:
        assert re.search(rf"(^|[\s,\[]){re.escape(flag)}\b", help_text), f"`airflow-automl serve` has no {flag} option"
    # The port it serves on is the one published and health-checked.
    port = args[args.index("--port") + 1]
    assert int(port) in _container_ports(services["automl-service"])
    assert f":{port}/health" in " ".join(services["automl-service"]["healthcheck"]["test"])
    assert args[args.index("--data-dir") + 1] in {v.split(":", 1)[1] for v in services["automl-service"]["volumes"]}


def test_volumes_are_declared_or_exist_in_the_repository(compose, services):
    declared = set(compose.get("volumes", {}))
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in declared, f"{name} mounts undeclared volume {source}"


def test_mounted_dags_folder_holds_the_retraining_dag(services):
    mounts = dict(v.split(":", 1) for v in services["airflow-scheduler"]["volumes"])
    assert mounts["./dags"] == "/opt/airflow/dags"
    assert (ROOT / "dags" / "automl_retrain.py").is_file()


def test_published_ports_do_not_collide(services):
    host_ports = [str(m).split(":")[0] for s in services.values() for m in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports))
    assert {"8080", "8787", "9000"} <= set(host_ports)


def test_example_dag_runs_with_laptop_sized_budget_and_path_style_s3(services):
    env = _env(services["airflow-triggerer"])
    assert int(env["AUTOML_DEFAULT_MAX_RUNTIME_SECONDS"]) <= 600
    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    # MinIO serves buckets by path, not as virtual hosts.
    assert conn["extra"]["config_kwargs"]["s3"]["addressing_style"] == "path"
    # The DAG reads these names.
    dag_source = (ROOT / "dags" / "automl_retrain.py").read_text()
    for name in (
        "AUTOML_DEFAULT_MAX_RUNTIME_SECONDS",
        "AUTOML_POLL_INTERVAL_SECONDS",
        "automl_storage_uri",
        "automl_role_arn",
    ):
        assert name in dag_source
    assert "AIRFLOW_VAR_AUTOML_ROLE_ARN" in env


def test_airflow_resolves_the_connection_to_the_service_and_minio(services):
    """Read by the Amazon provider itself, as the hooks will."""
    from airflow.models.connection import Connection
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

    raw = _env(services["airflow-scheduler"])["AIRFLOW_CONN_AWS_DEFAULT"]
    wrapper = AwsConnectionWrapper(Connection.from_json(raw, conn_id="aws_default"))
    assert wrapper.get_service_endpoint_url("sagemaker") == "http://automl-service:8787"
    assert wrapper.get_service_endpoint_url("s3") == "http://minio:9000"
    assert wrapper.region_name == "us-east-1"
    assert wrapper.botocore_config.s3 == {"addressing_style": "path"}


def test_service_on_all_interfaces_requires_the_connections_signature(services):
    args = _command_args(services["automl-service"])
    assert args[args.index("--host") + 1] == "0.0.0.0"
    from airflow_automl.local import cli

    env = _env(services["automl-service"])
    access_key = args[args.index("--access-key-id") + 1] if "--access-key-id" in args else env[cli.ACCESS_KEY_ENV_VAR]
    secret = args[args.index("--secret-access-key") + 1] if "--secret-access-key" in args else env[cli.SECRET_ENV_VAR]
    conn = json.loads(_env(services["airflow-scheduler"])["AIRFLOW_CONN_AWS_DEFAULT"])
    # The CLI refuses a non-loopback host without credentials; Airflow must sign with the same ones.
    assert (access_key, secret) == (conn["login"], conn["password"])


def test_celery_executor_with_two_workers_and_redis_as_broker(services):
    for name in AIRFLOW_COMPONENTS:
        env = _env(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert broker.scheme == "redis" and broker.hostname == "redis", name
        backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))
        assert backend.scheme == urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).scheme, name
        assert (
            backend.hostname == "postgres" and backend.path == urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).path
        )
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name
    assert services["airflow-worker"]["deploy"]["replicas"] == 2


def test_images_are_pinned_and_minio_comes_from_where_it_is_still_published(services):
    for name, service in services.items():
        image = service.get("image", "")
        if "build" in service:
            continue  # built here, tagged by this repository
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: image {image!r} is not pinned to a version"
    # Docker Hub's minio/minio and minio/mc were removed; the project publishes them on quay.io.
    assert services["minio"]["image"].startswith("quay.io/minio/minio:RELEASE.")
    assert services["minio-init"]["image"].startswith("quay.io/minio/mc:RELEASE.")
    guide = (ROOT / "docs" / "howto" / "stack-and-compose.md").read_text()
    assert services["minio"]["image"] in guide and services["minio-init"]["image"] in guide


def test_airflow_components_share_their_secrets(services):
    """One [api] secret_key for all: the UI reads a running or deferred task's log from the worker's or
    triggerer's log server, which checks the request's token with its own key (403 if it differs)."""
    for key in ("AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        values = {_env(services[name]).get(key) for name in (*AIRFLOW_COMPONENTS, "airflow-init")}
        assert len(values) == 1 and None not in values and "" not in values, (key, values)


def test_airflow_image_tag_names_the_version_it_is_built_from(compose, services):
    common = compose["x-airflow-common"]
    version = re.fullmatch(r"airflow-automl/airflow:(\$\{AIRFLOW_VERSION[^}]*\})", common["image"]).group(1)
    assert common["build"]["args"]["AIRFLOW_VERSION"] == version
    text = DOCKERFILE.read_text()
    airflow_stage = text[text.index("AS airflow") :]
    # Declared again inside the stage, or RUN sees it empty.
    assert re.search(r"^ARG AIRFLOW_VERSION\s*$", airflow_stage, flags=re.MULTILINE)
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in airflow_stage


def _dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_build_context_leaves_out_local_state_and_keeps_what_the_dockerfile_copies():
    patterns = _dockerignore_patterns()
    for local_state in (".git", ".venv", ".tools", ".automl", ".stack"):
        assert local_state in patterns, f".dockerignore does not leave out {local_state}"
    for copied in re.findall(r"^COPY (?:--\S+ )?(.+) \S+$", DOCKERFILE.read_text(), flags=re.MULTILINE):
        for source in copied.split():
            assert not any(fnmatch(source, pattern) for pattern in patterns), (
                f".dockerignore leaves out {source}, which the Dockerfile copies"
            )


def _service_image_default_command() -> list[str]:
    text = DOCKERFILE.read_text()
    service_stage = text[: text.index("AS airflow")]
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", service_stage, flags=re.MULTILINE).group(1))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", service_stage, flags=re.MULTILINE).group(1))
    assert entrypoint == ["airflow-automl"]
    return cmd


@pytest.mark.integration
def test_service_image_default_command_says_what_it_needs(tmp_path):
    args = _service_image_default_command()
    args[args.index("--data-dir") + 1] = str(tmp_path / "data")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_AUTOML_")}
    result = subprocess.run(
        [sys.executable, "-m", "airflow_automl.local.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "AIRFLOW_AUTOML_ACCESS_KEY_ID" in result.stderr and "AIRFLOW_AUTOML_SECRET_ACCESS_KEY" in result.stderr


@pytest.mark.integration
def test_service_image_default_command_serves_signed_requests_with_credentials_from_the_environment(tmp_path):
    import boto3

    args = _service_image_default_command()
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    args[args.index("--data-dir") + 1] = str(tmp_path / "data")
    env = dict(os.environ, AIRFLOW_AUTOML_ACCESS_KEY_ID="image-key", AIRFLOW_AUTOML_SECRET_ACCESS_KEY="image-secret")
    log_path = tmp_path / "service.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow_automl.local.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            assert process.poll() is None, log_path.read_text()
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        client = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="image-key",
            aws_secret_access_key="image-secret",
        )
        assert client.list_auto_ml_jobs()["AutoMLJobSummaries"] == []
        stranger = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="other",
            aws_secret_access_key="other",
        )
        with pytest.raises(stranger.exceptions.ClientError):
            stranger.list_auto_ml_jobs()
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- compose and `make stack` (devtools/stack.py) start the same topology from the same settings --

HOST_SETTINGS = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
)
# Set by compose only: the official image's auth manager (the stack uses Airflow's simple one with
# the same login), and dumb-init's signal handling inside the worker container.
COMPOSE_ONLY = {"AIRFLOW__CORE__AUTH_MANAGER", "DUMB_INIT_SETSID"}


@pytest.fixture(scope="module")
def stack_env():
    from devtools.stack import Ports, airflow_environment, read_settings, service_environment

    settings = read_settings()
    ports = Ports(
        postgres=15432,
        redis=16379,
        s3=19000,
        service=18787,
        api=18080,
        scheduler_health=18974,
        triggerer_logs=18794,
        worker_logs=(18793, 18795),
    )
    return (
        settings,
        airflow_environment(settings, ports, Path("/nonexistent/airflow-home")),
        service_environment(settings, ports),
    )


def _comparable(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme, parts.username, parts.password, parts.path


def test_every_stack_setting_reaches_every_compose_service_unchanged(services, stack_env):
    settings, airflow_env, _ = stack_env
    assert settings, "stack.env is empty"
    for name, service in services.items():
        if "build" in service or name in ("postgres", "minio", "minio-init"):
            env = _env(service)
            assert {key: env.get(key) for key in settings} == settings, f"{name} does not read stack.env as it is"
    for key, value in settings.items():
        assert airflow_env[key] == value, f"make stack changes {key}"


def test_compose_and_stack_airflow_settings_differ_only_in_hosts_and_ports(services, stack_env):
    _, airflow_env, _ = stack_env
    for name in AIRFLOW_COMPONENTS:
        env = _env(services[name])
        assert set(env) - set(airflow_env) <= COMPOSE_ONLY, f"{name} has settings make stack lacks"
        for key in HOST_SETTINGS:
            assert _comparable(env[key]) == _comparable(airflow_env[key]), (name, key)
        compose_conn, stack_conn = (
            json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"]),
            json.loads(airflow_env["AIRFLOW_CONN_AWS_DEFAULT"]),
        )
        for conn in (compose_conn, stack_conn):
            conn["extra"]["endpoint_url"] = urlsplit(conn["extra"]["endpoint_url"]).scheme
            s3 = conn["extra"]["service_config"]["s3"]
            s3["endpoint_url"] = urlsplit(s3["endpoint_url"]).scheme
        assert compose_conn == stack_conn, name


def test_compose_and_stack_run_the_service_with_the_same_credentials(services, stack_env):
    _, _, service_env = stack_env
    env = _env(services["automl-service"])
    args = _command_args(services["automl-service"])
    compose_credentials = (args[args.index("--access-key-id") + 1], env["AIRFLOW_AUTOML_SECRET_ACCESS_KEY"])
    assert compose_credentials == (
        service_env["AIRFLOW_AUTOML_ACCESS_KEY_ID"],
        service_env["AIRFLOW_AUTOML_SECRET_ACCESS_KEY"],
    )
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        assert env[key] == service_env[key], key


def test_stack_settings_file_refuses_a_line_without_a_value(tmp_path):
    from devtools.stack import read_settings

    broken = tmp_path / "stack.env"
    broken.write_text("AIRFLOW__CORE__EXECUTOR=CeleryExecutor\nPOSTGRES_PASSWORD\n")
    with pytest.raises(ValueError, match=r"stack\.env: POSTGRES_PASSWORD: each line must be KEY=value"):
        read_settings(broken)
