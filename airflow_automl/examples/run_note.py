"""Set the note of the running DAG run from inside a task.

Airflow 3's Task SDK lets a task read its DAG run's note but not write it, and tasks have no
database access; Airflow's public REST API is the supported way
(``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}`` with ``update_mask=note``). The API server and
a user allowed to edit DAG runs come from an Airflow HTTP connection, ``airflow_api`` by default:
host ``http://api-server:8080``, login and password (a token is requested at ``/auth/token``, the
login route of Airflow's simple and FAB auth managers). Without that connection the note is not
set and the task says so in its log; the verdict stays in the task's XCom.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import requests

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "airflow_api"
TIMEOUT_SECONDS = 30


def _api_connection(conn_id: str):
    from airflow.providers.common.compat.sdk import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _base_url(connection) -> str:
    host = connection.host or ""
    if "://" not in host:
        host = f"{connection.schema or 'http'}://{host}"
    if connection.port:
        host = f"{host.rstrip('/')}:{connection.port}"
    return host.rstrip("/")


def set_run_note(dag_id: str, run_id: str, note: str, conn_id: str = DEFAULT_CONN_ID) -> bool:
    """Write ``note`` on the DAG run; False (and a log line saying how to enable it) without the
    connection. A refusal of the API server (wrong password, no permission) raises: a note asked
    for and silently missing would be worse."""
    connection = _api_connection(conn_id)
    if connection is None:
        log.info(
            "The run's note is not set: there is no Airflow connection %r (an http connection to the "
            "api-server with a login allowed to edit DAG runs). The verdict: %s",
            conn_id,
            note,
        )
        return False
    base = _base_url(connection)
    answer = requests.post(
        f"{base}/auth/token",
        json={"username": connection.login, "password": connection.password},
        timeout=TIMEOUT_SECONDS,
    )
    if answer.status_code >= 300:
        raise RuntimeError(
            f"connection {conn_id}: {base}/auth/token refused the login ({answer.status_code}: {answer.text[:200]})"
        )
    token = answer.json()["access_token"]
    answer = requests.patch(
        f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
        params={"update_mask": "note"},
        json={"note": note},
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_SECONDS,
    )
    if answer.status_code >= 300:
        raise RuntimeError(
            f"connection {conn_id}: setting the note of {dag_id}/{run_id} failed "
            f"({answer.status_code}: {answer.text[:200]})"
        )
    log.info("Run note: %s", note)
    return True


def hitl_answer(dag_id: str, run_id: str, task_id: str, conn_id: str = DEFAULT_CONN_ID) -> dict | None:
    """A human-in-the-loop task's answer (chosen_options, params_input, responded_by_user) from the REST
    API: on Reject the ApprovalOperator skips its downstream tasks and pushes no XCom to read it from."""
    connection = _api_connection(conn_id)
    if connection is None:
        return None
    base = _base_url(connection)
    answer = requests.post(
        f"{base}/auth/token",
        json={"username": connection.login, "password": connection.password},
        timeout=TIMEOUT_SECONDS,
    )
    answer.raise_for_status()
    detail = requests.get(
        f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
        f"{quote(task_id, safe='')}/-1/hitlDetails",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        timeout=TIMEOUT_SECONDS,
    )
    detail.raise_for_status()
    value = detail.json()
    return value if value.get("response_received") else None
