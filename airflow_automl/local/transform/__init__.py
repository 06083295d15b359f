"""Batch transform on the local service: the request's settings (settings.py), DataProcessing's
JSONPath filters and join (data_processing.py), the streaming inference over the input files
(runner.py), and the worker process that runs one transform job (worker.py)."""
