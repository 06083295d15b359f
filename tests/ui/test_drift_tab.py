"""The plugin's views of the drift loop: a drift check's task tab lists its features and distances,
and a run's trigger reads as drift, schedule or manual."""

from __future__ import annotations

from airflow_automl.ui.records import TaskJob, run_trigger
from airflow_automl.ui.sagemaker import ConnectionRef

SUMMARY = {
    "drift": True,
    "drifted_features": ["monthly_charges"],
    "record_count": 300,
    "baseline_record_count": 2400,
    "violation_count": 1,
    "source": "file:///captures/churn-serving/AllTraffic",
    "links": {"report": "file:///drift/report.md"},
    "features": [
        {
            "name": "monthly_charges",
            "baseline_type": "Fractional",
            "current_type": "Fractional",
            "completeness": 1.0,
            "distance": 0.355,
            "threshold": 0.1,
            "p_value": 1e-30,
            "method": "L-infinity of CDFs (KS)",
            "drifted": True,
            "violations": ["baseline_drift_check"],
        },
        {
            "name": "contract",
            "baseline_type": "String",
            "current_type": "String",
            "completeness": 1.0,
            "distance": 0.02,
            "threshold": 0.1,
            "p_value": 0.8,
            "method": "L-infinity of frequencies",
            "drifted": False,
            "violations": [],
        },
    ],
}
TASK = TaskJob(
    "automl_monitor_drift",
    "run",
    "check_drift",
    -1,
    "AutoMLDriftCheckOperator",
    "success",
    None,
    ConnectionRef("aws_default", None),
    None,
)


def test_the_drift_tab_lists_every_feature_with_its_distance_and_verdict():
    from airflow_automl.ui.app import _page

    html = _page("drift", task=TASK, summary=SUMMARY).body.decode()
    assert "Drift in monthly_charges" in html
    assert '<tr data-feature="monthly_charges" class="drifted">' in html and "0.3550" in html
    assert '<tr data-feature="contract">' in html and "0.0200" in html
    assert "baseline_drift_check" in html and "file:///drift/report.md" in html
    empty = _page("drift", task=TASK, summary=None).body.decode()
    assert 'id="no-drift-summary"' in empty


def test_a_run_started_by_an_asset_event_reads_as_drift():
    from airflow.utils.types import DagRunType

    assert run_trigger(DagRunType.ASSET_TRIGGERED) == "drift"
    assert run_trigger(DagRunType.SCHEDULED) == "schedule"
    assert run_trigger(DagRunType.MANUAL) == "manual"
    assert run_trigger(None) is None
