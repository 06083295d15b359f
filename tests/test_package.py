from importlib.metadata import entry_points


def test_provider_entry_point_is_registered():
    eps = entry_points(group="apache_airflow_provider")
    (ep,) = [e for e in eps if e.value.startswith("airflow_automl")]
    info = ep.load()()
    assert info["package-name"] == "airflow-automl"
