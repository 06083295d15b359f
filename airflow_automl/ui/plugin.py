"""The Airflow plugin that ships with the provider (entry point ``airflow.plugins``): installing
the package is enough for the api-server to mount the pages and the UI to show their tabs.

Airflow fills ``{DAG_ID}``, ``{RUN_ID}``, ``{TASK_ID}`` and, on a mapped task instance,
``{MAP_INDEX}`` in an external view's ``href`` before framing it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_automl.ui.app import URL_PREFIX, app

TASK_TAB = {
    "name": "AutoML job",
    "href": f"{URL_PREFIX}/tasks/{{DAG_ID}}/{{TASK_ID}}/{{RUN_ID}}?map_index={{MAP_INDEX}}",
    "destination": "task_instance",
    "url_route": "automl-job",
}
DAG_TAB = {
    "name": "AutoML history",
    "href": f"{URL_PREFIX}/dags/{{DAG_ID}}/history",
    "destination": "dag",
    "url_route": "automl-history",
}
NAV_PAGE = {
    "name": "AutoML jobs",
    "href": f"{URL_PREFIX}/jobs",
    "destination": "nav",
    "url_route": "automl-jobs",
}


class AutoMLUIPlugin(AirflowPlugin):
    name = "airflow_automl"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "AutoML (SageMaker Autopilot)"}]
    external_views = [TASK_TAB, DAG_TAB, NAV_PAGE]
