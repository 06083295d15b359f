"""What the local service's operations report when a request cannot be served.

Each error names a SageMaker condition and carries the message the caller sees. The protocol
layer (airflow_automl.local.api) alone decides how each is answered on the wire: its error code,
its HTTP status and the shape of its body.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request the SageMaker API refuses; the message says what was wrong and how to fix it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationException(ServiceError):
    """The request breaks a rule of the API, or names something that cannot be used."""


class ResourceNotFound(ServiceError):
    """The request names a resource that does not exist."""


class ResourceInUse(ServiceError):
    """The name is taken by another resource."""


class ResourceLimitExceeded(ServiceError):
    """The request would take the service past one of its limits."""


# -- SageMaker Runtime (InvokeEndpoint) --------------------------------------------------------


class InvocationError(Exception):
    """An InvokeEndpoint request the runtime refuses."""

    def __init__(self, message: str, **members: Any):
        super().__init__(message)
        self.message = message
        self.members = members  # further members of the runtime's modeled error


class ValidationError(InvocationError):
    """The runtime's own validation error (its name differs from SageMaker's ValidationException)."""


class ModelError(InvocationError):
    """The model rejected the request or failed on it, as a model container answering with
    original_status (the container's own HTTP status, reported back to the caller)."""

    def __init__(self, message: str, original_status: int):
        super().__init__(message, OriginalStatusCode=original_status, OriginalMessage=message)
        self.original_status = original_status
