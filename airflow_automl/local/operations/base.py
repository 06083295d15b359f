"""What the operations of every resource family share."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.store import ListQuery, Store


class Operations:
    """The state every family's operations use; SageMakerService sets it."""

    config: ServiceConfig
    store: Store
    # Called after a create or stop so the supervisor acts at once instead of on its next tick.
    on_job_change: Callable[[], None]


def page_scope(operation: str, request: dict) -> str:
    """What a page token is bound to: the operation and every filter and sort parameter."""
    fixed = {key: value for key, value in request.items() if key not in ("NextToken", "MaxResults")}
    digest = hashlib.sha256(json.dumps([operation, fixed], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def list_query(operation: str, request: dict, *, sort_by: str, sort_order: str, max_results: int) -> ListQuery:
    """The List parameters SageMaker's List operations share, with the operation's defaults
    for those the request leaves out."""
    return ListQuery(
        name_contains=request.get("NameContains"),
        status_equals=request.get("StatusEquals"),
        creation_time_after=request.get("CreationTimeAfter"),
        creation_time_before=request.get("CreationTimeBefore"),
        last_modified_time_after=request.get("LastModifiedTimeAfter"),
        last_modified_time_before=request.get("LastModifiedTimeBefore"),
        sort_by=request.get("SortBy") or sort_by,
        descending=(request.get("SortOrder") or sort_order) == "Descending",
        limit=request.get("MaxResults") or max_results,
        page_token=request.get("NextToken"),
        token_scope=page_scope(operation, request),
    )
