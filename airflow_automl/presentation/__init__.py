"""A job as people see it, shared by the local service's pages, the Airflow plugin's pages and the
training reports. Imports no Airflow and nothing from the provider or the local service.

- ``formatting``: numbers, times (datetimes or epoch seconds) and durations
- ``objective``: the job's metric and direction, its best candidate (ranking is ``sagemaker.metrics``')
- ``leaderboard``: one row per candidate, and the orders it sorts by
- ``ticks``: round tick values for a value axis
- ``charts``: the candidate bar chart and the trend over runs, as geometry
- ``artifacts``: the reports and artifacts a job names, and the service's page for each
- ``job``: all of the above for one job, as both job pages show it
- ``templating``: the autoescaping Jinja2 environments; templates/ (layout, macros, report) and
  static/style.css, the one stylesheet
"""
