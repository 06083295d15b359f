"""A current data set checked against a baseline: the checks Model Monitor documents, per feature.

- data_type_check: the share of a numeric feature's values that are not numbers (or, for an
  Integral one, not whole) exceeds ``datatype_check_threshold``;
- completeness_check: the share of present values is below the constraint's ``completeness``, by more
  than sampling explains (a one-sided binomial test at ``significance``);
- missing_column_check / extra_column_check: features the baseline has and the data lacks, and back;
- categorical_values_check: the share of values outside the constraint's domain exceeds
  ``domain_content_threshold``;
- baseline_drift_check: the distribution distance exceeds the threshold. Numeric features: the
  L-infinity distance between the two empirical CDFs (the Kolmogorov-Smirnov statistic) of the data
  and the baseline's KLL sketch, ``comparison_threshold``. String features: the L-infinity distance
  between the two value frequencies (``LInfinity``), ``categorical_comparison_threshold``; with
  ``ChiSquared`` the chi-square test of the two count vectors must reject at that threshold instead.
  ``comparison_method`` ``Robust`` also asks the test (KS, or chi-square for strings) to reject
  equality at ``significance`` divided by the number of features compared (Bonferroni: the chance
  that noise alone flags any feature of a check stays near ``significance``), so that a small
  sample's noise never flags a feature; ``Simple`` flags on the distance alone.

The tests come from scipy.stats (ks_2samp, chi2_contingency, binomtest).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from airflow_automl.monitoring.baseline import (
    INTEGRAL,
    NUMERIC_TYPES,
    as_numbers,
    dataset_statistics,
    infer_type,
    merged_config,
    sketch_items,
)

DEFAULT_SIGNIFICANCE = 0.01


@dataclass
class FeatureCheck:
    name: str
    baseline_type: str
    current_type: str
    baseline_completeness: float | None
    completeness: float
    distance: float | None = None
    threshold: float | None = None
    p_value: float | None = None
    method: str = ""
    drifted: bool = False
    violations: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    record_count: int
    baseline_record_count: int
    features: list[FeatureCheck]
    violations: list[dict[str, str]]
    statistics: dict[str, Any]

    @property
    def drifted_features(self) -> list[str]:
        return [feature.name for feature in self.features if feature.drifted]

    def violations_document(self) -> dict[str, Any]:
        """constraint_violations.json."""
        return {"violations": self.violations}

    def summary(self) -> dict[str, Any]:
        """What the drift operator returns in XCom: small, JSON-serialisable."""
        return {
            "drift": bool(self.drifted_features),
            "drifted_features": self.drifted_features,
            "distances": {f.name: f.distance for f in self.features if f.distance is not None},
            "record_count": self.record_count,
            "baseline_record_count": self.baseline_record_count,
            "violation_count": len(self.violations),
            "violation_types": sorted({v["constraint_check_type"] for v in self.violations}),
            "features": [asdict(feature) for feature in self.features],
        }


def _numeric_conformity(column: pd.Series, baseline_type: str) -> float:
    """The share of present values that are not of the baseline's numeric type."""
    present = column.dropna()
    if present.empty:
        return 0.0
    numbers = as_numbers(present)
    bad = numbers.isna()
    if baseline_type == INTEGRAL:
        bad |= numbers.notna() & (np.mod(numbers.fillna(0), 1) != 0)
    return float(bad.mean())


def _categorical_counts(feature_statistics: dict[str, Any]) -> dict[str, float]:
    buckets = feature_statistics.get("string_statistics", {}).get("distribution", {}).get("categorical", {})
    return {bucket["value"]: float(bucket["count"]) for bucket in buckets.get("buckets", [])}


def check(
    frame: pd.DataFrame,
    statistics: dict[str, Any],
    constraints: dict[str, Any],
    significance: float = DEFAULT_SIGNIFICANCE,
) -> CheckResult:
    """Every check for ``frame`` against a baseline's statistics.json and constraints.json."""
    config = merged_config(constraints.get("monitoring_config"))
    distribution = config["distribution_constraints"]
    compare = distribution.get("perform_comparison", "Enabled") == "Enabled"
    robust = distribution.get("comparison_method", "Robust") == "Robust"
    baseline_by_name = {feature["name"]: feature for feature in statistics.get("features", [])}
    constraint_by_name = {feature["name"]: feature for feature in constraints.get("features", [])}
    violations: list[dict[str, str]] = []

    def violation(name: str, kind: str, description: str, result: FeatureCheck | None = None) -> None:
        violations.append({"feature_name": name, "constraint_check_type": kind, "description": description})
        if result is not None:
            result.violations.append(kind)

    for name in constraint_by_name:
        if name not in frame.columns:
            violation(
                name,
                "missing_column_check",
                f"There are missing columns in current dataset: {name} is in the baseline and not in the data",
            )
    for name in frame.columns:
        if str(name) not in constraint_by_name:
            violation(
                str(name),
                "extra_column_check",
                f"There are extra columns in current dataset: {name} is not in the baseline",
            )

    compared = [name for name in constraint_by_name if name in frame.columns and name in baseline_by_name]
    per_feature_significance = significance / max(len(compared), 1)
    types = {name: entry["inferred_type"] for name, entry in constraint_by_name.items()}
    current_statistics = dataset_statistics(frame, types)
    results: list[FeatureCheck] = []
    for name, constraint in constraint_by_name.items():
        if name not in frame.columns:
            continue
        column = frame[name]
        baseline_type = constraint["inferred_type"]
        present = int(column.notna().sum())
        result = FeatureCheck(
            name=name,
            baseline_type=baseline_type,
            current_type=infer_type(column),
            baseline_completeness=constraint.get("completeness"),
            completeness=present / len(column) if len(column) else 0.0,
        )
        results.append(result)
        if len(column) == 0:
            continue

        required = constraint.get("completeness")
        if required is not None and result.completeness < required:
            p_value = scipy_stats.binomtest(present, len(column), required, alternative="less").pvalue
            if p_value < significance:
                violation(
                    name,
                    "completeness_check",
                    f"Data completeness {result.completeness:.4f} is below the baseline's {required:.4f} "
                    f"(binomial test p={p_value:.2g})",
                    result,
                )

        if baseline_type in NUMERIC_TYPES:
            nonconforming = _numeric_conformity(column, baseline_type)
            if nonconforming > config["datatype_check_threshold"]:
                violation(
                    name,
                    "data_type_check",
                    f"Data type match requirement is not met: {nonconforming:.1%} of the values are not "
                    f"{baseline_type} (threshold {config['datatype_check_threshold']:.1%})",
                    result,
                )
        domains = constraint.get("string_constraints", {}).get("domains")
        if domains is not None:
            present_values = column.dropna().astype(str)
            if len(present_values):
                unknown = float((~present_values.isin(set(domains))).mean())
                if unknown > config["domain_content_threshold"]:
                    seen = sorted(set(present_values) - set(domains))[:5]
                    violation(
                        name,
                        "categorical_values_check",
                        f"Data content check failed: {unknown:.1%} of the values are outside the baseline's "
                        f"domain (threshold {config['domain_content_threshold']:.1%}), e.g. {seen}",
                        result,
                    )

        if not compare or name not in baseline_by_name:
            continue
        baseline_feature = baseline_by_name[name]
        if baseline_type in NUMERIC_TYPES:
            reference = sketch_items(baseline_feature)
            current = as_numbers(column).dropna().to_numpy()
            if len(reference) == 0 or len(current) == 0:
                continue
            test = scipy_stats.ks_2samp(reference, current)
            result.distance, result.p_value = float(test.statistic), float(test.pvalue)
            result.threshold = float(distribution["comparison_threshold"])
            result.method = "L-infinity of CDFs (KS)"
            exceeded = result.distance > result.threshold
        else:
            baseline_counts = _categorical_counts(baseline_feature)
            current_counts = column.dropna().astype(str).value_counts().to_dict()
            values = sorted(set(baseline_counts) | set(current_counts))
            if not values or not sum(current_counts.values()) or not sum(baseline_counts.values()):
                continue
            base = np.array([baseline_counts.get(v, 0.0) for v in values])
            cur = np.array([float(current_counts.get(v, 0)) for v in values])
            result.threshold = float(distribution["categorical_comparison_threshold"])
            result.distance = float(np.max(np.abs(base / base.sum() - cur / cur.sum())))
            result.p_value = float(scipy_stats.chi2_contingency(np.vstack([base, cur]))[1]) if len(values) > 1 else 1.0
            if distribution.get("categorical_drift_method", "LInfinity") == "ChiSquared":
                result.method = "chi-square test"
                exceeded = result.p_value < result.threshold
            else:
                result.method = "L-infinity of frequencies"
                exceeded = result.distance > result.threshold
        significant = result.p_value is not None and result.p_value < per_feature_significance
        if exceeded and (significant or not robust):
            result.drifted = True
            violation(
                name,
                "baseline_drift_check",
                f"Baseline drift distance: {result.distance:.4f} exceeds threshold: {result.threshold:g} "
                f"({result.method}, p={result.p_value:.2g})",
                result,
            )

    baseline_count = int(statistics.get("dataset", {}).get("item_count", 0))
    return CheckResult(len(frame), baseline_count, results, violations, current_statistics)
