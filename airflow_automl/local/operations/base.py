"""What the operations of every resource family share: the state they use, one way to answer a
missing resource, one way to create (and tag) a resource, and one way to summarise records in a
List operation's answer.

A family's class may need another family's lookup (a transform job's model, an endpoint's
config): it declares it as a class attribute of a Callable type, naming the family that provides
it, and SageMakerService (service.py), which has every family's class among its bases, provides it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore import xform_name

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.errors import ResourceLimitExceeded, ServiceError
from airflow_automl.local.store import MAX_TAGS_PER_RESOURCE, ListQuery, NameInUse, Page, Store, TooManyTags
from airflow_automl.sagemaker.shapes import sagemaker_model

R = TypeVar("R")


class Operations:
    """The state every family's operations use; SageMakerService sets it."""

    config: ServiceConfig
    store: Store
    # Called after a create or stop so the supervisor acts at once instead of on its next tick.
    on_job_change: Callable[[], None]


# -- a missing resource --------------------------------------------------------------------------


@dataclass(frozen=True)
class NotFound:
    """How the API answers a request naming a resource of one family that does not exist: the
    error it raises and its message, formatted with ``member`` (the request member that named
    it), ``name`` and ``arn``. Each family's message is the one SageMaker words for it (clients,
    such as the Amazon provider's hooks, read some of them)."""

    error: Callable[[str], Exception]
    message: str

    def __call__(self, **names: str) -> Exception:
        return self.error(self.message.format(**names))


def found(record: R | None, missing: NotFound, **names: str) -> R:
    """record, or the family's not-found error when there is none."""
    if record is None:
        raise missing(**names)
    return record


# -- creating a resource -------------------------------------------------------------------------


def too_many_tags(error: TooManyTags) -> ResourceLimitExceeded:
    return ResourceLimitExceeded(
        f"Tags: a resource can have at most {MAX_TAGS_PER_RESOURCE} tags (these would make "
        f"{error.args[0]}); delete some before adding more"
    )


@contextmanager
def creating(name_in_use: Callable[[str], ServiceError]) -> Iterator[None]:
    """Around a store's create (which writes the resource and its tags in one transaction): a
    taken name answered with name_in_use(the existing resource's name), too many tags with
    ResourceLimitExceeded."""
    try:
        yield
    except NameInUse as error:
        raise name_in_use(error.args[0]) from error
    except TooManyTags as error:
        raise too_many_tags(error) from error


# -- List operations -----------------------------------------------------------------------------


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


@functools.cache
def _summary_shape(operation: str) -> tuple[str, tuple[str, ...]]:
    """(the list member of the operation's answer, the members of one summary in it)."""
    output = sagemaker_model().operation_model(operation).output_shape
    lists = [
        (name, shape.member)
        for name, shape in output.members.items()
        if shape.type_name == "list" and shape.member.type_name == "structure"
    ]
    if len(lists) != 1:
        raise ValueError(f"{operation}: expected one list of summaries in its output, found {[n for n, _ in lists]}")
    name, summary = lists[0]
    return name, tuple(summary.members)


@functools.cache
def _attribute(member: str, prefixes: tuple[str, ...]) -> str:
    """The record attribute a summary member is read from: the member without the first of the
    family's prefixes it starts with, in snake case (AutoMLJobStatus -> status)."""
    for prefix in prefixes:
        if member.startswith(prefix) and member != prefix:
            return xform_name(member[len(prefix) :])
    return xform_name(member)


def summary(operation: str, record: Any, *prefixes: str) -> dict:
    """The summary of record that the List operation's answer holds, member by member as botocore
    shapes it: each from the record's attribute of that name (without the family's prefixes:
    ModelPackageArn -> arn), else from the create request the record keeps, else left out."""
    _, members = _summary_shape(operation)
    request = getattr(record, "request", None) or {}
    described = {}
    for member in members:
        attribute = _attribute(member, prefixes)
        if hasattr(record, attribute):
            described[member] = getattr(record, attribute)
        elif member in request:
            described[member] = request[member]
    return described


def listed(operation: str, page: Page, *prefixes: str) -> dict:
    """A List operation's answer: the summary of each record on the page (see summary) and the NextToken."""
    name, _ = _summary_shape(operation)
    return {name: [summary(operation, record, *prefixes) for record in page.rows], "NextToken": page.next_token}
