from importlib.metadata import entry_points


def test_provider_entry_point_is_registered():
    eps = entry_points(group="apache_airflow_provider")
    (ep,) = [e for e in eps if e.value.startswith("airflow_automl")]
    info = ep.load()()
    assert info["package-name"] == "airflow-automl"


def test_ui_plugin_is_registered_with_its_three_views():
    (ep,) = [e for e in entry_points(group="airflow.plugins") if e.value.startswith("airflow_automl")]
    plugin = ep.load()
    assert {view["name"]: view["destination"] for view in plugin.external_views} == {
        "AutoML job": "task_instance",
        "AutoML history": "dag",
        "AutoML jobs": "nav",
    }
    assert [app["url_prefix"] for app in plugin.fastapi_apps] == ["/automl"]
