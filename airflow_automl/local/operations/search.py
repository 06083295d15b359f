"""Search: SageMaker's search over the resources the service holds.

``Resource`` picks what is searched: ``TrainingJob`` (the training steps of AutoML candidates),
``Model``, ``Endpoint``, ``ModelPackageGroup`` and ``ModelPackage``; each result is the record as
the matching Describe operation answers it, with its ``Tags`` (a Model's in a ModelDashboardModel,
as SageMaker's SearchRecord holds it). Other resource types hold nothing here: their search finds
nothing.

A ``SearchExpression`` is evaluated as SageMaker documents it: ``Filters`` (``Name`` a property
path such as ``ModelPackageGroupName``, ``InferenceSpecification.Containers.Image``,
``Tags.<key>`` or, for training jobs, ``Metrics.<metric name>`` and ``HyperParameters.<name>``;
``Operator`` Equals (the default), NotEquals, GreaterThan, GreaterThanOrEqualTo, LessThan,
LessThanOrEqualTo, Contains, Exists, NotExists or In, a comma-separated list), ``NestedFilters``
(filters that one element of a list property must meet together), ``SubExpressions``, all
joined by ``Operator`` And (the default) or Or. Results are sorted by ``SortBy`` (a property path,
default ``LastModifiedTime``, then ``CreationTime``) in ``SortOrder`` (default Descending) and
paged by ``MaxResults`` (default 10) and ``NextToken``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

from airflow_automl.local.errors import ValidationException
from airflow_automl.local.operations.base import Operations, page_scope
from airflow_automl.local.store import ListQuery
from airflow_automl.local.store.candidate_steps import TRAINING

DEFAULT_MAX_RESULTS = 10
DEFAULT_SORT_BY = "LastModifiedTime"
_ALL = 1_000_000  # every resource of a kind, read for one search
_MISSING = object()
_ORDERED = {
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


class SearchOperations(Operations):
    # Provided by the families' operations (service.py has them all as bases).
    describe_training_job: Callable[[dict], dict]
    describe_model: Callable[[dict], dict]
    describe_endpoint: Callable[[dict], dict]
    describe_model_package_group: Callable[[dict], dict]
    describe_model_package: Callable[[dict], dict]

    def search(self, request: dict) -> dict:
        resource = request["Resource"]
        expression = request.get("SearchExpression") or {}
        records = [(member, record) for member, record in self._records(resource) if _matches(record, expression)]
        sort_by = request.get("SortBy") or DEFAULT_SORT_BY
        descending = (request.get("SortOrder") or "Descending") == "Descending"
        records.sort(key=lambda pair: _sort_key(pair[1], sort_by), reverse=descending)
        limit = request.get("MaxResults") or DEFAULT_MAX_RESULTS
        scope = page_scope("Search", request)
        start = 0
        if request.get("NextToken"):
            start, _ = self.store.database.page_tokens.decode(request["NextToken"], scope)
        page = records[start : start + limit]
        following = start + limit
        next_token = self.store.database.page_tokens.encode(scope, following, 0) if following < len(records) else None
        return {"Results": [{member: record} for member, record in page], "NextToken": next_token}

    # -- what each resource type holds ---------------------------------------------------------

    def _records(self, resource: str) -> Iterator[tuple[str, dict]]:
        """(SearchRecord member, the record) of every resource of the type."""
        everything = ListQuery(limit=_ALL)
        if resource == "TrainingJob":
            for step in self.store.candidate_steps.page(TRAINING, everything).rows:
                yield "TrainingJob", self._tagged(self.describe_training_job({"TrainingJobName": step.name}), step.arn)
        elif resource == "Model":
            for model in self.store.models.page(everything).rows:
                described = self.describe_model({"ModelName": model.name})
                yield "Model", {"Model": self._tagged(described, model.arn)}
        elif resource == "Endpoint":
            for endpoint in self.store.endpoints.page(everything).rows:
                yield "Endpoint", self._tagged(self.describe_endpoint({"EndpointName": endpoint.name}), endpoint.arn)
        elif resource == "ModelPackageGroup":
            for group in self.store.model_package_groups.page(everything).rows:
                described = self.describe_model_package_group({"ModelPackageGroupName": group.name})
                yield "ModelPackageGroup", self._tagged(described, group.arn)
        elif resource == "ModelPackage":
            for package in self.store.model_packages.page(everything).rows:
                described = self.describe_model_package({"ModelPackageName": package.arn})
                yield "ModelPackage", self._tagged(described, package.arn)

    def _tagged(self, record: dict, arn: str) -> dict:
        tags = self.store.tags.page(arn, ListQuery(limit=_ALL)).rows
        return {**record, "Tags": tags}


# -- evaluating a SearchExpression ---------------------------------------------------------------


def _matches(record: dict, expression: dict) -> bool:
    results = [_filter_holds(record, f) for f in expression.get("Filters") or []]
    results += [_nested_holds(record, n) for n in expression.get("NestedFilters") or []]
    results += [_matches(record, sub) for sub in expression.get("SubExpressions") or []]
    if not results:
        return True
    return any(results) if expression.get("Operator") == "Or" else all(results)


def _nested_holds(record: dict, nested: dict) -> bool:
    """Some element of the list NestedPropertyName names meets every one of the filters."""
    prefix = nested["NestedPropertyName"]
    elements = _resolve(record, prefix)
    if not isinstance(elements, list):
        return False
    filters = []
    for each in nested["Filters"]:
        if not each["Name"].startswith(prefix + "."):
            raise ValidationException(
                f"SearchExpression.NestedFilters: filter {each['Name']!r} must name a property of "
                f"{prefix!r} ({prefix}.<property>)"
            )
        filters.append({**each, "Name": each["Name"][len(prefix) + 1 :]})
    return any(isinstance(e, dict) and all(_filter_holds(e, f) for f in filters) for e in elements)


def _resolve(record: dict, path: str) -> Any:
    """The value at a property path; lists on the way yield the list of their elements' values."""
    if path.startswith("Tags."):
        key = path[len("Tags.") :]
        return next((t["Value"] for t in record.get("Tags") or [] if t["Key"] == key), _MISSING)
    if path.startswith("Metrics."):
        name = path[len("Metrics.") :]
        metrics = record.get("FinalMetricDataList") or []
        return next((m["Value"] for m in metrics if m["MetricName"] == name), _MISSING)
    value: Any = record
    for part in path.split("."):
        if isinstance(value, list):
            value = [item.get(part, _MISSING) for item in value if isinstance(item, dict)]
            value = [item for item in value if item is not _MISSING]
            if not value:
                return _MISSING
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def _filter_holds(record: dict, search_filter: dict) -> bool:
    name, operator = search_filter["Name"], search_filter.get("Operator") or "Equals"
    found = _resolve(record, name)
    if operator == "Exists":
        return found is not _MISSING and found is not None
    if operator == "NotExists":
        return found is _MISSING or found is None
    if "Value" not in search_filter:
        raise ValidationException(f"SearchExpression.Filters: {name!r} with Operator {operator} needs a Value")
    wanted = search_filter["Value"]
    if found is _MISSING or found is None:
        return operator == "NotEquals"
    values = found if isinstance(found, list) else [found]
    if operator == "NotEquals":
        return all(not _equal(value, wanted) for value in values)
    return any(_holds(value, operator, wanted, name) for value in values)


def _holds(value: Any, operator: str, wanted: str, name: str) -> bool:
    if operator == "Equals":
        return _equal(value, wanted)
    if operator == "In":
        return any(_equal(value, option.strip()) for option in wanted.split(","))
    if operator == "Contains":
        return isinstance(value, str) and wanted.lower() in value.lower()
    if operator in _ORDERED:
        left, right = _comparable(value, wanted, name)
        return _ORDERED[operator](left, right)
    raise ValidationException(f"SearchExpression.Filters: Operator {operator!r} is not one SageMaker documents")


def _equal(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    if isinstance(value, (int, float)):
        try:
            return float(value) == _number(wanted)
        except ValueError:
            return False
    return str(value) == wanted


def _comparable(value: Any, wanted: str, name: str) -> tuple[Any, Any]:
    """Numbers and times compare as numbers (a time as epoch seconds or ISO 8601), text as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value), _number(wanted)
        except ValueError:
            raise ValidationException(
                f"SearchExpression.Filters: {name!r} is a number or a time; {wanted!r} is neither"
            ) from None
    return str(value), wanted


def _number(text: str) -> float:
    """A filter's Value as a number: a number, or a time in ISO 8601 (as epoch seconds)."""
    try:
        return float(text)
    except ValueError:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.timestamp()


def _sort_key(record: dict, sort_by: str) -> tuple:
    """Records without the property sort last in descending order (first ascending), then by creation."""
    value = _resolve(record, sort_by)
    if isinstance(value, list):
        value = value[0] if value else _MISSING
    created = record.get("CreationTime") or (record.get("Model") or {}).get("CreationTime") or 0
    if value is _MISSING or value is None:
        return (0, "", created)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, float(value), created)
    return (2, str(value), created)
