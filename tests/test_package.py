from importlib.metadata import entry_points


def test_provider_entry_point_is_registered():
    eps = entry_points(group="apache_airflow_provider")
    (ep,) = [e for e in eps if e.value.startswith("airflow_automl")]
    info = ep.load()()
    assert info["package-name"] == "airflow-automl"


def test_the_provider_does_not_import_the_local_engines_libraries():
    """Workers and DAG parsing import the operator: scikit-learn and friends stay out of that path."""
    import subprocess
    import sys

    modules = ("airflow_automl.operators.automl", "airflow_automl.sensors.automl", "airflow_automl.triggers.automl")
    probe = f"import sys; import {', '.join(modules)}; print(sorted(m for m in ('sklearn', 'autogluon', 'optuna') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_ui_plugin_is_registered_with_its_three_views():
    (ep,) = [e for e in entry_points(group="airflow.plugins") if e.value.startswith("airflow_automl")]
    plugin = ep.load()
    assert {view["name"]: view["destination"] for view in plugin.external_views} == {
        "AutoML job": "task_instance",
        "AutoML history": "dag",
        "AutoML jobs": "nav",
    }
    assert [app["url_prefix"] for app in plugin.fastapi_apps] == ["/automl"]
