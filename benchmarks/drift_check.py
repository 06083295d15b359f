"""The drift check's false-alarm rate, its detection of a shifted feature, and its time and memory
on a large interval of captured traffic.

1. False alarms: one baseline from --baseline-rows churn customers (the demo's data), then --draws
   fresh draws of --sample-sizes customers from the same distribution, each checked against it;
   prints the share of draws with any drifted feature (and of feature checks flagged), for the
   ``Robust`` (distance over the threshold and the test rejecting at significance 0.01) and
   ``Simple`` (distance alone) comparison methods. The same for draws whose monthly_charges are
   scaled by --shift: the share detected.
2. Scale: --records invocations written in SageMaker's data capture format (one CSV row each, in
   files of 100,000 records under one hour's folder), then AutoMLDriftCheckOperator run over that
   interval in a fresh process: prints its wall time and peak RSS, and the RSS of that process
   before the check (Python, pandas, scipy and Airflow imported).

    nice -n 10 .venv/bin/python benchmarks/drift_check.py --records 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from airflow_automl.examples.datasets import customer_churn
from airflow_automl.monitoring.baseline import suggest_baseline
from airflow_automl.monitoring.checks import check

HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)
FILE_RECORDS = 100_000


def features(rows: int, seed: int):
    return customer_churn(rows, seed=seed).drop(columns=["customer_id", "churned"])


def false_alarms(baseline_rows: int, sample_sizes: list[int], draws: int, shift: float) -> None:
    statistics, constraints = suggest_baseline(features(baseline_rows, seed=1))
    simple = {**constraints, "monitoring_config": {**constraints["monitoring_config"]}}
    simple["monitoring_config"]["distribution_constraints"] = {
        **constraints["monitoring_config"]["distribution_constraints"],
        "comparison_method": "Simple",
    }
    feature_count = len(constraints["features"])
    print(f"baseline: {baseline_rows} rows, {feature_count} features; {draws} draws per sample size")
    print(f"sample  method  false-alarm draws  flagged feature checks  detected (monthly_charges x{shift:.2f})")
    for size in sample_sizes:
        for name, rules in (("Robust", constraints), ("Simple", simple)):
            alarms = flagged = detected = 0
            for draw in range(draws):
                sample = features(size, seed=1000 + draw)
                result = check(sample, statistics, rules)
                alarms += bool(result.drifted_features)
                flagged += len(result.drifted_features)
                sample["monthly_charges"] = sample["monthly_charges"] * shift
                detected += "monthly_charges" in check(sample, statistics, rules).drifted_features
            print(
                f"{size:>6}  {name:<6}  {alarms / draws:>17.1%}  {flagged / (draws * feature_count):>22.2%}  "
                f"{detected / draws:>8.1%}"
            )


def write_capture(folder: Path, records: int) -> None:
    from tests.monitoring.capture_files import capture_record, csv_line

    rows = features(min(records, 200_000), seed=7).values.tolist()
    hour = folder / "churn-serving" / "AllTraffic" / HOUR.strftime("%Y/%m/%d/%H")
    hour.mkdir(parents=True)
    for start in range(0, records, FILE_RECORDS):
        with open(hour / f"part-{start // FILE_RECORDS:04d}.jsonl", "w") as out:
            for number in range(start, min(start + FILE_RECORDS, records)):
                out.write(json.dumps(capture_record(csv_line(rows[number % len(rows)]), "text/csv", HOUR)) + "\n")


def run_check(root: Path) -> None:
    """In the child: the operator over the written interval; prints one JSON line of figures."""
    from airflow_automl.operators.drift import AutoMLDriftCheckOperator

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    operator = AutoMLDriftCheckOperator(
        task_id="drift",
        endpoint_name="churn-serving",
        capture_uri=(root / "capture").as_uri(),
        baseline_data_uri=(root / "train.csv").as_uri(),
        target_attribute_name="churned",
        output_uri=(root / "drift").as_uri(),
        interval_start=HOUR,
        interval_end=HOUR.replace(hour=11),
    )
    began = time.perf_counter()
    summary = operator.execute({})
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before_kb": before,
                "peak_rss_kb": peak,
                "records": summary["record_count"],
                "drift": summary["drift"],
            }
        )
    )


def scale(records: int) -> None:
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as directory:
        root = Path(directory)
        customer_churn(3000, seed=1).drop(columns=["customer_id"]).to_csv(root / "train.csv", index=False)
        began = time.perf_counter()
        write_capture(root / "capture", records)
        size = sum(p.stat().st_size for p in (root / "capture").rglob("*.jsonl"))
        print(f"wrote {records} capture records ({size / 1e6:.0f} MB) in {time.perf_counter() - began:.1f} s")
        child = subprocess.run(
            [sys.executable, __file__, "--run-check", str(root)], capture_output=True, text=True, check=True
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        rate = figures["records"] / figures["seconds"]
        print(
            f"drift check over {figures['records']} records: {figures['seconds']:.1f} s ({rate:,.0f} records/s), "
            f"peak RSS {figures['peak_rss_kb'] / 1024:.0f} MB "
            f"(RSS {figures['rss_before_kb'] / 1024:.0f} MB before the check), drift={figures['drift']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-rows", type=int, default=2400)
    parser.add_argument("--sample-sizes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--shift", type=float, default=1.15)
    parser.add_argument("--records", type=int, default=1_000_000, help="0: skip the scale run")
    parser.add_argument("--run-check", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_check:
        run_check(args.run_check)
        return
    if args.draws:
        false_alarms(args.baseline_rows, args.sample_sizes, args.draws, args.shift)
    if args.records:
        scale(args.records)


if __name__ == "__main__":
    main()
