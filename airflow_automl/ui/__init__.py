"""The Airflow UI plugin: an "AutoML job" task tab, an "AutoML history" DAG tab, an "AutoML jobs" page."""
