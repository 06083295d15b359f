"""The drift check's readable report: a Markdown page a person opens from the approval form or the
task's log, next to constraint_violations.json."""

from __future__ import annotations

from airflow_automl.monitoring.checks import CheckResult


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def markdown_report(result: CheckResult, title: str, links: dict[str, str]) -> str:
    drifted = result.drifted_features
    lines = [
        f"# {title}",
        "",
        f"{result.record_count} records checked against a baseline of {result.baseline_record_count}.",
        f"**Drift: {'yes, in ' + ', '.join(drifted) if drifted else 'none'}**; "
        f"{len(result.violations)} constraint violation(s).",
        "",
        "| feature | type (baseline / data) | completeness | distance | threshold | p-value | method | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for feature in result.features:
        verdict = ", ".join(feature.violations) if feature.violations else "ok"
        lines.append(
            f"| {feature.name} | {feature.baseline_type} / {feature.current_type} | "
            f"{_number(feature.completeness, 3)} | {_number(feature.distance)} | {_number(feature.threshold, 2)} | "
            f"{_number(feature.p_value, 3) if feature.p_value is None or feature.p_value >= 0.001 else '<0.001'} | "
            f"{feature.method} | {verdict} |"
        )
    if result.violations:
        lines += ["", "## Violations", ""]
        lines += [
            f"- `{v['constraint_check_type']}` {v['feature_name']}: {v['description']}" for v in result.violations
        ]
    if links:
        lines += ["", "## Files", ""]
        lines += [f"- {name}: {uri}" for name, uri in links.items()]
    return "\n".join(lines) + "\n"
