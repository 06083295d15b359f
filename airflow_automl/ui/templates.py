"""The plugin's pages: server-rendered HTML (Jinja2, autoescaped), inline SVG charts, no scripts.

They are shown inside the Airflow UI's frames; links that leave the frame target ``_top``.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

_STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1rem 1.25rem; color: #1d2330;
       font-size: 14px; background: #fff; }
h1 { font-size: 1.25rem; margin: 0 0 .5rem; word-break: break-all; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
a { color: #2b5fb3; }
.muted { color: #5a6275; }
.status { display: inline-block; padding: .05rem .6rem; border-radius: 1rem; background: #e8eaf0; font-weight: 600; }
.status.Completed, .status.success { background: #d5f0dc; } .status.Failed, .status.failed { background: #f8d7da; }
.status.InProgress, .status.running, .status.deferred { background: #fff2c6; }
.status.Stopped, .status.Stopping { background: #e2e3e5; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border-bottom: 1px solid #dde; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th a { color: inherit; text-decoration: none; } th a:hover { text-decoration: underline; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.nowrap, td.num { white-space: nowrap; }
.small { font-size: .8rem; }
.run-id { word-break: break-all; }
td.verdict { min-width: 9rem; }
table#history, table#jobs { font-size: 13px; width: 100%; }
tr.best td { font-weight: 600; background: #f1f8f3; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; margin: .5rem 0; }
dt { color: #5a6275; } dd { margin: 0; }
.error { color: #9b1c23; white-space: pre-wrap; }
.notice { background: #f4f6fa; border-left: 4px solid #7f9cf5; padding: .5rem .8rem; }
.budget { width: 22rem; height: .8rem; background: #e8eaf0; border-radius: .4rem; overflow: hidden; display: inline-block;
          vertical-align: middle; }
.budget span { display: block; height: 100%; background: #7f9cf5; }
form.filters { display: flex; gap: .8rem; align-items: end; flex-wrap: wrap; margin: .5rem 0 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: .85rem; color: #5a6275; gap: .15rem; }
input, select, button { font: inherit; padding: .2rem .4rem; }
svg text { font-size: 12px; fill: #1d2330; }
.axis { stroke: #9aa1b2; stroke-width: 1; }
.grid { stroke: #e8eaf0; stroke-width: 1; }
"""

_BASE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{% if refresh_seconds %}<meta http-equiv="refresh" content="{{ refresh_seconds }}">{% endif %}
<title>{% block title %}{% endblock %}</title>
<style>"""
    + _STYLE
    + """</style></head>
<body>{% block body %}{% endblock %}</body></html>
"""
)

_ERROR = """{% extends "base" %}{% block title %}{{ title }}{% endblock %}
{% block body %}<h1>{{ title }}</h1><p id="read-error" class="error">{{ message }}</p>{% endblock %}"""

_TASK = """{% extends "base" %}
{% block title %}AutoML job{% if job %} {{ job.name }}{% endif %}{% endblock %}
{% block body %}
{% if not task.is_automl_task %}
<p id="not-automl" class="notice">Task {{ task.task_id }} is a {{ task.operator or "task" }}, not an AutoML task: this tab
shows the job of AutoMLJobOperator and AutoMLBestCandidateSensor tasks.</p>
{% elif not job %}
<p id="no-job-yet" class="notice">Task {{ task.task_id }} ({{ task.state or "not started" }}) has not submitted or
found its AutoML job yet. This page refreshes by itself.</p>
{% else %}
<h1>AutoML job <span id="job-name">{{ job.name }}</span></h1>
<p><span id="job-status" class="status {{ job.status }}">{{ job.status }}</span>
   {% if job.secondary_status and job.secondary_status != job.status %}<span id="job-secondary-status" class="muted">{{ job.secondary_status }}</span>{% endif %}
   {% if refresh_seconds %}<span id="refreshing" class="muted"> · refreshes every {{ refresh_seconds }} s</span>{% endif %}</p>
{% if job.failure_reason %}<p id="failure-reason" class="error">{{ job.failure_reason }}</p>{% endif %}
{% for reason in job.partial_failures %}<p class="error partial-failure">{{ reason }}</p>{% endfor %}
<dl>
  <dt>Objective</dt><dd id="objective">{{ objective.metric or "default for the problem type" }}{% if objective.metric %} ({{ objective.direction }}){% endif %}</dd>
  <dt>Problem type</dt><dd>{{ job.problem_type or "inferred from the data" }}</dd>
  <dt>Time used</dt><dd id="time-used">{{ budget.used }}{% if budget.limit %} of {{ budget.limit }}
      <span class="budget" title="{{ budget.percent }}% of MaxAutoMLJobRuntimeInSeconds"><span style="width: {{ budget.percent }}%"></span></span>
      {{ budget.percent }}%{% endif %}</dd>
  <dt>Candidates</dt><dd id="candidate-count">{{ progress.candidates }} ({{ progress.completed }} completed{% if progress.failed %}, {{ progress.failed }} failed{% endif %})</dd>
  <dt>{% if job.status == "InProgress" %}Best so far{% else %}Best candidate{% endif %}</dt>
  <dd id="best-candidate">{% if progress.best_name %}<span id="best-candidate-name">{{ progress.best_name }}</span>
      {% if progress.best_value %} <span id="best-candidate-value">({{ progress.best_value }})</span>{% endif %}{% else %}none yet{% endif %}</dd>
  <dt>Connection</dt><dd>{{ task.connection.aws_conn_id }}{% if task.connection.region_name %} ({{ task.connection.region_name }}){% endif %}</dd>
  <dt>ARN</dt><dd class="muted">{{ job.arn }}</dd>
</dl>

<h2>Timeline</h2>
<table id="timeline"><tbody>
{% for when, what in timeline %}<tr><td class="muted">{{ when }}</td><td>{{ what }}</td></tr>{% endfor %}
</tbody></table>

<h2>Candidates by {{ objective.metric or "objective" }} <span class="muted">({{ objective.direction }})</span></h2>
{% if chart %}
<svg id="candidate-chart" role="img" aria-label="Candidates by {{ objective.metric }}" xmlns="http://www.w3.org/2000/svg"
     width="{{ chart.width }}" height="{{ chart.height }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}">
{% for bar in chart.bars %}
  <g class="bar{% if bar.best %} best{% endif %}" data-candidate="{{ bar.name }}" data-value="{{ bar.value }}">
    <title>{{ bar.name }}: {{ format_number(bar.value) }}</title>
    <text x="{{ chart.label_width - 6 }}" y="{{ bar.y + chart.bar_height - 5 }}" text-anchor="end">{{ bar.label|truncate(30, True) }}</text>
    <rect x="{{ bar.x }}" y="{{ bar.y }}" width="{{ bar.width }}" height="{{ chart.bar_height }}"
          fill="{% if bar.best %}#2f855a{% else %}#7f9cf5{% endif %}"></rect>
    <text x="{{ bar.x + bar.width + 6 }}" y="{{ bar.y + chart.bar_height - 5 }}">{{ format_number(bar.value) }}</text>
  </g>
{% endfor %}
  <line class="axis zero" x1="{{ chart.zero_x }}" x2="{{ chart.zero_x }}" y1="0" y2="{{ chart.height - 14 }}"></line>
  <text x="{{ chart.zero_x }}" y="{{ chart.height - 2 }}" text-anchor="middle">0</text>
</svg>
{% else %}
<p id="no-chart" class="muted">No candidate has an objective value yet.</p>
{% endif %}

<h2>Leaderboard</h2>
<table id="leaderboard">
<thead><tr>
{% for key, label, css in columns %}<th class="{{ css }}"><a href="{{ sort_links[key].href }}" data-sort="{{ key }}">{{ label }}{{ sort_links[key].mark }}</a></th>{% endfor %}
<th>Objective status</th><th class="num">Steps</th></tr></thead>
<tbody>
{% for row in rows %}
<tr class="{% if row.best %}best{% endif %}" data-candidate="{{ row.name }}">
  <td class="num">{{ row.rank }}</td><td>{{ row.name }}{% if row.best %} (best){% endif %}</td>
  <td class="num metric">{{ row.shown_value }}</td><td>{{ row.status }}</td><td>{{ row.objective_status }}</td>
  <td class="num">{{ row.steps }}</td>
</tr>
{% if row.failure %}<tr><td></td><td colspan="5" class="error">{{ row.failure }}</td></tr>{% endif %}
{% else %}
<tr><td colspan="6" class="muted">No candidates yet.</td></tr>
{% endfor %}
</tbody></table>

<h2>Reports, notebooks and models</h2>
<ul id="artifacts">
{% for link in artifacts %}<li><a href="{{ link.href }}" target="_blank" rel="noopener">{{ link.label }}</a> <code class="muted">{{ link.uri }}</code></li>
{% else %}<li class="muted">None yet.</li>{% endfor %}
</ul>
{% endif %}
{% endblock %}"""

_HISTORY = """{% extends "base" %}
{% block title %}AutoML history of {{ dag_id }}{% endblock %}
{% block body %}
<h1>AutoML history of {{ dag_id }}</h1>
{% if not rows %}
<p id="no-history" class="notice">No run of {{ dag_id }} has run an AutoML task yet.</p>
{% else %}
<h2>{{ metric or "Objective" }} over runs{% if greater_is_better is not none %} <span class="muted">({{ "higher" if greater_is_better else "lower" }} is better)</span>{% endif %}</h2>
{% if chart %}
<svg id="trend-chart" role="img" aria-label="Objective over runs" xmlns="http://www.w3.org/2000/svg"
     width="{{ chart.width }}" height="{{ chart.height }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}">
{% for y, label in chart.ticks %}
  <line class="grid" x1="{{ chart.left }}" x2="{{ chart.left + chart.plot_w }}" y1="{{ y }}" y2="{{ y }}"></line>
  <text x="{{ chart.left - 6 }}" y="{{ y + 4 }}" text-anchor="end">{{ label }}</text>
{% endfor %}
  <line class="axis" x1="{{ chart.left }}" x2="{{ chart.left }}" y1="{{ chart.top }}" y2="{{ chart.top + chart.plot_h }}"></line>
  <line class="axis" x1="{{ chart.left }}" x2="{{ chart.left + chart.plot_w }}" y1="{{ chart.top + chart.plot_h }}" y2="{{ chart.top + chart.plot_h }}"></line>
{% if chart.threshold_path %}<path class="threshold" d="{{ chart.threshold_path }}" stroke="#c53030" stroke-width="1.5" stroke-dasharray="6 4" fill="none"><title>sensor threshold</title></path>{% endif %}
  <polyline class="trend" points="{{ chart.line }}" fill="none" stroke="#2b5fb3" stroke-width="2"></polyline>
{% for point in chart.points %}
  <circle class="point" data-run-id="{{ point.run_id }}" data-value="{{ point.value }}" cx="{{ point.x }}" cy="{{ point.y }}" r="4.5" fill="#2b5fb3">
    <title>{{ point.label }}: {{ format_number(point.value) }}</title></circle>
{% endfor %}
{% if chart.points|length <= 12 %}{% for point in chart.points %}
  <text class="run-date" x="{{ point.x }}" y="{{ chart.top + chart.plot_h + 16 }}" text-anchor="middle">{{ point.short }}</text>
{% endfor %}{% endif %}
  <text x="{{ chart.left + chart.plot_w / 2 }}" y="{{ chart.height - 6 }}" text-anchor="middle" class="muted">runs, oldest to newest{% if chart.threshold_path %} · dashed: sensor threshold{% endif %}</text>
</svg>
{% else %}<p id="no-chart" class="muted">No run has an objective value yet.</p>{% endif %}

<h2>Runs</h2>
<table id="history">
<thead><tr><th>Run</th><th>Job</th><th>Best candidate</th><th class="num">{{ metric or "Objective" }}</th>
<th class="num">Candidates</th><th class="num">Training time</th><th class="num">Threshold</th><th>Promotion</th></tr></thead>
<tbody>
{% for row in rows %}
<tr data-run-id="{{ row.run_id }}">
  <td><a class="nowrap" href="{{ row.task_href }}" target="_top">{{ row.run_date }}</a><br><span class="muted small run-id">{{ row.run_id }}</span></td>
  <td><span class="nowrap">{{ row.job_name }}</span><br>{% if row.error %}<span class="error small">{{ row.error }}</span>{% else %}<span class="status {{ row.status }} small">{{ row.status }}</span>{% endif %}</td>
  <td title="{{ row.best_name or '' }}">{{ row.best_label or "" }}</td><td class="num metric">{{ row.shown_value }}</td>
  <td class="num">{{ row.candidates if row.candidates is not none else "" }}</td><td class="num">{{ row.training_time }}</td>
  <td class="num">{{ row.shown_threshold }}</td>
  <td class="verdict">{% if row.verdict %}<b>{{ "promoted" if row.verdict.promoted else "kept previous" }}</b><br><span class="muted small">{{ row.verdict.reason or "" }}</span>{% endif %}</td>
</tr>
{% endfor %}
</tbody></table>
{% endif %}
{% endblock %}"""

_JOBS = """{% extends "base" %}
{% block title %}AutoML jobs{% endblock %}
{% block body %}
<h1>AutoML jobs</h1>
<form class="filters" method="get">
  <label>Status <select name="status"><option value="">any</option>
  {% for option in statuses %}<option{% if option == filters.status %} selected{% endif %}>{{ option }}</option>{% endfor %}</select></label>
  <label>DAG <select name="dag"><option value="">any</option>
  {% for option in dag_options %}<option{% if option == filters.dag %} selected{% endif %}>{{ option }}</option>{% endfor %}</select></label>
  <label>Name contains <input name="name" value="{{ filters.name or '' }}" size="18"></label>
  <button type="submit">Filter</button>
</form>
{% for error in errors %}<p class="error read-error">{{ error }}</p>{% endfor %}
<table id="jobs">
<thead><tr><th>Job</th><th>Status</th><th>Created</th><th>Ended</th><th>DAG · task, run</th><th>Run state</th><th>Connection</th></tr></thead>
<tbody>
{% for job in jobs %}
<tr data-job="{{ job.name }}" data-dag-id="{{ job.dag_id or '' }}">
  <td>{% if job.task_href %}<a href="{{ job.task_href }}" target="_top">{{ job.name }}</a>{% else %}{{ job.name }}{% endif %}</td>
  <td><span class="status {{ job.status }}">{{ job.status }}</span>{% if job.secondary_status != job.status %} <span class="muted">{{ job.secondary_status or "" }}</span>{% endif %}
      {% if job.failure_reason %}<br><span class="error">{{ job.failure_reason|truncate(120) }}</span>{% endif %}</td>
  <td class="muted nowrap">{{ job.created }}</td><td class="muted nowrap">{{ job.ended }}</td>
  <td>{% if job.dag_id %}<b>{{ job.dag_id }}</b> · {{ job.task_id }}{% if job.map_index is not none and job.map_index >= 0 %} [{{ job.map_index }}]{% endif %}<br><span class="muted small">{{ job.run_id }}</span>{% else %}<span class="muted">not created by Airflow</span>{% endif %}</td>
  <td>{% if job.run_state %}<span class="status {{ job.run_state }}">{{ job.run_state }}</span>{% endif %}</td>
  <td class="muted">{{ job.connection }}</td>
</tr>
{% else %}
<tr><td colspan="7" class="muted" id="no-jobs">No AutoML jobs match.</td></tr>
{% endfor %}
</tbody></table>
<p class="muted">The {{ limit }} most recent jobs of each connection AutoML tasks use; jobs of DAGs you cannot read are not listed.</p>
{% endblock %}"""

ENV = Environment(
    loader=DictLoader({"base": _BASE, "error": _ERROR, "task": _TASK, "history": _HISTORY, "jobs": _JOBS}),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
