"""Data-quality monitoring in SageMaker Model Monitor's file formats: a baseline (statistics.json,
constraints.json) suggested from a model's training data, captured endpoint requests read back
into a table, and the checks Model Monitor documents (constraint_violations.json). Imports no
Airflow: the drift operator (airflow_automl.operators.drift) does the I/O around it."""
